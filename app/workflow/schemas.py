"""Bodies and views of the CPO workflow: actions on requests, tasks, grounds, metrics."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from app.core.errors import field_error
from app.core.validation import Line, Moment, StrictBody, Text
from app.law.rights import RequestType
from app.requests.schemas import (
    DUPLICATE_OF,
    DocumentOut,
    DuplicateItem,
    DuplicateOf,
    RequesterOut,
    ScopeDetailOut,
    StaffNoteOut,
    StaffNoticeItem,
    StaffTimelineItem,
    SubjectOut,
)
from app.workflow.actions import StaffAction

GroundCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{3,40}$")]


def _no_control(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL")
    return value


class Outcome(StrEnum):
    granted = "granted"
    partially_granted = "partially_granted"
    refused = "refused"


class AssignIn(StrictBody):
    assignee: Line(254) = Field(
        description="A staff user's id or e-mail (cpo or handler), or `me` to take it."
    )


class VerifyIn(StrictBody):
    outcome: Literal["verified", "rejected"]
    method: Line(100) = Field(
        description="How identity or authority was checked, e.g. `id_card_in_person`, "
        "`power_of_attorney`, `phone_callback`."
    )
    note: Text(2000) | None = Field(None, description="Kept encrypted; not sent to the subject.")


class ExtendIn(StrictBody):
    reason: Text(2000) = Field(description="The justified reason, sent to the subject (연기 사유).")
    due_at: Moment = Field(
        description="The new deadline; it ends at the end of that day in Korea time and must be "
        "later than the current one."
    )

    @model_validator(mode="after")
    def _aware(self) -> ExtendIn:
        if self.due_at.tzinfo is None:
            raise field_error("due_at", "needs a time-zone offset, e.g. 2026-12-24T23:59:59+09:00")
        return self


class CorrectionResult(StrictBody):
    """For a correction: what became of one corrected item in this category (Art. 36(2))."""

    item: Line(100) = Field(description="An item of `scope.corrections`, e.g. `phone`.")
    result: Literal["corrected", "not_corrected"]
    grounds: list[GroundCode] = Field(
        default_factory=list,
        max_length=10,
        description="Why not corrected, e.g. `PIPA-36-2-accurate` (the data was found "
        "accurate); none when corrected. What was checked goes in the explanation.",
    )


class DecisionItem(StrictBody):
    category: Line(40)
    result: Literal["granted", "refused"]
    grounds: list[GroundCode] = Field(default_factory=list, max_length=10)
    corrections: list[CorrectionResult] | None = Field(
        None,
        max_length=50,
        description="Correction requests only: per corrected item this category holds, "
        "corrected or not and why. The category is granted when any item is corrected.",
    )


class DecisionIn(StrictBody):
    outcome: Outcome
    grounds: list[GroundCode] = Field(
        default_factory=list,
        max_length=10,
        description="Registry codes (GET /v1/staff/grounds); required to refuse or partially grant.",
    )
    items: list[DecisionItem] | None = Field(
        None, max_length=50, description="Per data category results; required for a partial grant."
    )
    explanation: Text(4000) = Field(description="Told to the subject in the decision notice.")


class CompleteIn(StrictBody):
    note: Text(2000) | None = Field(
        None, description="How completion went; kept encrypted, shown to staff only."
    )


class MergeIn(StrictBody):
    into: Line(40) = Field(
        description="The request that stands: its id or reference (`RD-2026-000042`)."
    )


class ObjectionIn(StrictBody):
    reason: Text(4000) = Field(description="Why the subject objects (이의제기 사유).")


class StaffRef(BaseModel):
    id: str
    email: str
    role: str


class TaskPublic(BaseModel):
    id: str
    request_id: str
    reference: str | None = None
    kind: str
    category: str | None
    system: str | None
    action: str | None = Field(
        None,
        description="For fulfilment: what the plan asks of the system (`delete`, `suspend`, "
        "`correct`, `collect`, `stop`: stop what a withdrawn consent allowed).",
    )
    assignee_id: str | None
    status: str
    due_at: datetime
    days_left: int
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    outcome: Literal["done", "not_found", "failed"] | None = Field(
        None, description="How the task went, once completed (a waived task keeps `failed`)."
    )
    has_data: bool = Field(
        False, description="A collect task returned data (kept encrypted; shown in the result)."
    )


class TaskList(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None


# What a collect task returns: `{item: value}`, one record, or a list of such records (e.g.
# one per payment). Items are the system's own names; values are text, numbers, true/false or
# null, and everything is kept encrypted.
ItemName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control),
]
# NaN and Infinity are not JSON (RFC 8259 §6), though Python's parser takes them: refused, so
# the subject's access result stays valid JSON.
ItemValue = Annotated[str, StringConstraints(max_length=10000), AfterValidator(_no_nul)] | (
    int | Annotated[float, Field(allow_inf_nan=False)] | bool | None
)
Record = Annotated[dict[ItemName, ItemValue], Field(min_length=1, max_length=200)]


class TaskCompleteIn(StrictBody):
    outcome: Literal["done", "not_found", "failed"] = Field(
        "done",
        description="`done`; `not_found` (the system holds nothing of the subject's in this "
        "category); or `failed` (the task stays open to be redone, or waived by the CPO, and "
        "blocks the request's completion until then).",
    )
    note: Text(2000) | None = Field(None, description="What was done; kept encrypted.")
    data: Record | Annotated[list[Record], Field(min_length=1, max_length=1000)] | None = Field(
        None,
        description="A collect task that is done returns the data it found: `{item: value}` or "
        "a list of such records. Only collect tasks take data.",
    )


class TaskWaiveIn(StrictBody):
    reason: Text(2000) = Field(
        description="Why the failed task need not be redone (kept encrypted; staff only)."
    )


class GroundPublic(BaseModel):
    code: str
    article_ko: str
    article_en: str
    text_ko: str
    text_en: str
    applies_to: list[str]
    public_bodies_only: bool


class GroundList(BaseModel):
    items: list[GroundPublic]


class DecisionPublic(BaseModel):
    id: str
    outcome: Outcome
    grounds: list[str]
    items: list[dict]
    explanation: str | None = Field(description="Null once the request is purged.")
    decided_at: datetime
    decided_by: str
    objection_until: datetime | None


class ExtensionPublic(BaseModel):
    previous_due_at: datetime
    new_due_at: datetime
    reason: str | None = Field(description="Null once the request is purged.")
    extended_at: datetime
    extended_by: str


class ObjectionPublic(BaseModel):
    id: str
    kind: Literal["decision", "rejection", "extension"] = Field(
        "decision", description="What is objected to: a decision, a rejection or an extension."
    )
    decision_id: str | None = None
    extension_id: str | None = None
    reason: str | None = Field(description="Null once the request is purged.")
    filed_at: datetime
    resolved_at: datetime | None


class WeekCount(BaseModel):
    week_start: date = Field(description="The week's Monday (Korea time).")
    total: int
    by_type: dict[str, int]


class MonthOnTime(BaseModel):
    month: str = Field(description="The Korea-time month the requests were closed in, `YYYY-MM`.")
    closed: int
    closed_on_time: int
    share_closed_on_time: float | None = Field(description="null if none closed that month")


class ObjectionCounts(BaseModel):
    filed: int = Field(description="Objections filed in the range (Korea time).")
    open: int = Field(description="Of those, not resolved yet.")
    by_kind: dict[str, int] = Field(description="`decision`, `rejection`, `extension`.")


class ForecastDay(BaseModel):
    day: date = Field(description="A Korea-time day: today, then each of the next 13.")
    days_ahead: int = Field(description="0 for today, 1 for tomorrow, … 13.")
    working_day: bool = Field(
        description="False on a Saturday, Sunday or public holiday: no deadline falls on one, "
        "and no closings are counted on one."
    )
    due: int = Field(description="Open requests whose deadline (Korea time) is this day.")
    overdue_at_rate: int = Field(
        description="Of `due`, how many would still be open when the day ends if the open "
        "requests were answered in deadline order at `forecast.rate_per_working_day`."
    )


class Forecast(BaseModel):
    """The coming 14 days' deadlines and what the recent pace of answering leaves undone.

    The rate: requests answered (completed, refused or rejected; withdrawals do not count)
    during the 7 Korea-time days before today, divided by the working days among those 7.
    The model: every open request (whatever its status, overdue ones included), in deadline
    order, is answered one after another at that rate on each working day from today on
    (today counts as a whole working day when it is one). A request due on day d counts as
    overdue when fewer than its place in that order have been answered by the end of day d.
    """

    closed_last_7_days: int = Field(
        description="Requests answered in the 7 Korea-time days before today."
    )
    working_days_last_7_days: int
    rate_per_working_day: float = Field(
        description="closed_last_7_days / working_days_last_7_days (0 when none were working days)."
    )
    open_overdue_now: int = Field(
        description="Open requests already past their deadline: first in the deadline order."
    )
    days: list[ForecastDay]


class Metrics(BaseModel):
    since: date
    until: date
    received: int
    by_type: dict[str, int]
    by_status: dict[str, int]
    open_by_status: dict[str, int] = Field(
        description="The part of `by_status` still open (not completed, refused, rejected or "
        "withdrawn)."
    )
    open_overdue: int
    closed: int
    closed_on_time: int
    share_closed_on_time: float | None = Field(
        description="closed on time / closed; null if none closed"
    )
    median_days_to_close: float | None
    received_by_week: list[WeekCount] = Field(
        description="`received` by the Korea-time week (from Monday) and type: every week the "
        "range touches, empty ones included; the first and last may be partial."
    )
    on_time_by_month: list[MonthOnTime] = Field(
        description="`closed` and `closed_on_time` by the Korea-time month of closing, every "
        "month from the range's first to the last closing (or the range's last month)."
    )
    objections: ObjectionCounts
    forecast: Forecast = Field(
        description="From today (Korea time) on, whatever the range: the open requests falling "
        "due on each of the coming 14 days and how many of them would be overdue at the last "
        "7 days' rate of answering."
    )


class RequestStaffView(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    channel: str
    locale: str
    version: int
    subject: SubjectOut
    requester: RequesterOut
    power_of_attorney: dict | None = Field(None, description="Form 11 fields, as filed.")
    documents: list[DocumentOut]
    categories: list[str]
    scope_detail: ScopeDetailOut | None = Field(
        None,
        description="What a newer right names besides categories: a consent withdrawal's "
        "`consents`, an automated decision's `decision` and `kind`.",
    )
    corrections: list[dict] | None
    details: str | None
    received_at: datetime
    due_at: datetime
    statutory_due_at: datetime
    due_date: date
    days_left: int | None = Field(description="Null once the request is closed.")
    overdue: bool
    verified_at: datetime | None
    closed_at: datetime | None
    purged_at: datetime | None = Field(
        None,
        description="When the personal data was destroyed, RIGHTSDESK_REQUEST_RETENTION_DAYS "
        "after closing (PIPA Art. 21): from then on every personal field (subject, requester, "
        "power of attorney, corrections, details, reasons, explanations, notes) is null, "
        "documents and the result are destroyed, and the request takes no more changes (409). "
        "The reference, type, status, dates, categories, decision outcome and grounds, "
        "timeline and tasks remain.",
    )
    assignee_id: str | None
    duplicate_of: DuplicateOf | None = Field(None, description=DUPLICATE_OF)
    duplicates: list[DuplicateItem] = Field(
        default_factory=list,
        description="The later filings linked to this request as duplicates (open, or "
        "`merged` into it), oldest first.",
    )
    actions: list[StaffAction] = Field(
        description="The staff endpoints you may call on this request now, by its status and "
        "your role: `POST /v1/staff/requests/{id}/<action>` (`holds`: place a hold; `merge`: "
        "close it into its `duplicate_of`). Empty "
        "for an auditor, or a handler's view of someone else's request."
    )
    timeline: list[StaffTimelineItem]
    tasks: list[TaskPublic]
    decisions: list[DecisionPublic]
    extensions: list[ExtensionPublic]
    objections: list[ObjectionPublic]
    notices: list[StaffNoticeItem]
    notes: list[StaffNoteOut] = Field(
        description="Staff notes (kept encrypted, never sent to the subject), oldest first."
    )


# --- bulk work --------------------------------------------------------------------------------

BULK_MAX = 500
RequestKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
]


class _BulkIn(StrictBody):
    ids: list[RequestKey] = Field(
        min_length=1,
        max_length=BULK_MAX,
        description=f"1 to {BULK_MAX} requests, each by its id or its reference "
        "(`RD-2026-000042`), each once. They are worked in this order.",
    )
    versions: dict[RequestKey, int] | None = Field(
        None,
        description="The version you last saw of some or all of them, keyed as in `ids` (what "
        "If-Match is to a single action): a request that changed since is not touched and is "
        "answered `conflict` (412). A request without one here is changed as it is when its "
        "turn comes; the action's own rules still refuse what no longer fits it.",
    )

    @model_validator(mode="after")
    def _each_once(self) -> _BulkIn:
        seen: set[str] = set()
        for key in self.ids:
            folded = key.upper()
            if folded in seen:
                raise field_error("ids", f"{key} is listed twice", code="duplicate")
            seen.add(folded)
        for key in self.versions or {}:
            if key.upper() not in seen:
                raise field_error("versions", f"{key} is not in `ids`", code="not_in_ids")
        return self


class BulkAssignIn(_BulkIn, AssignIn):
    action: Literal["assign"]


class BulkExtendIn(_BulkIn, ExtendIn):
    action: Literal["extend"]


class BulkVerifyIn(_BulkIn, VerifyIn):
    action: Literal["verify"]


class BulkDecisionIn(_BulkIn):
    action: Literal["decision"]


BULK_ACTIONS = ("assign", "extend", "verify", "decision")


def _bulk_action(body) -> str | None:
    action = body.get("action") if isinstance(body, dict) else getattr(body, "action", None)
    # Tagged `bulk[…]`: the tag is no field of the body, so a problem names `ids`, not
    # `decision.ids` (core/errors.py drops such names from the field's path).
    return f"bulk[{action}]" if action in BULK_ACTIONS else None


BulkIn = Annotated[
    Annotated[BulkAssignIn, Tag("bulk[assign]")]
    | Annotated[BulkExtendIn, Tag("bulk[extend]")]
    | Annotated[BulkVerifyIn, Tag("bulk[verify]")]
    | Annotated[BulkDecisionIn, Tag("bulk[decision]")],
    Discriminator(
        _bulk_action,
        custom_error_type="unknown_action",
        custom_error_message=f"must be one of {', '.join(BULK_ACTIONS)}",
        custom_error_context={"field_path": "action"},
    ),
]


class BulkOutcome(BaseModel):
    id: str = Field(description="As given in `ids`.")
    request_id: str | None = Field(description="The request's id; null when none was found.")
    outcome: Literal["done", "conflict", "refused", "not_found"] = Field(
        description="`done`: changed and committed; `conflict`: its status does not allow the "
        "action (409) or it changed since the version given (412); `refused`: the action's "
        "rules refused it (403, 422); `not_found`: no such request (404). Only `done` "
        "changed anything."
    )
    version: int | None = Field(None, description="The request's new version when `done`.")
    problem: dict | None = Field(
        None, description="The problem document (RFC 9457) the single action would have answered."
    )


class BulkResult(BaseModel):
    action: str
    counts: dict[str, int] = Field(description="How many ids had each outcome.")
    results: list[BulkOutcome] = Field(description="One per id, in the order of `ids`.")

"""Bodies and views of the CPO workflow: actions on requests, tasks, grounds, metrics."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.core.validation import Line, Moment, StrictBody, Text

GroundCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{3,40}$")]


class Outcome(StrEnum):
    granted = "granted"
    partially_granted = "partially_granted"
    refused = "refused"


class AssignIn(StrictBody):
    assignee: Line(254) = Field(description="A staff user's id or e-mail (cpo or handler).")


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
            raise ValueError("due_at needs a time-zone offset, e.g. 2026-12-24T23:59:59+09:00")
        return self


class DecisionItem(StrictBody):
    category: Line(40)
    result: Literal["granted", "refused"]
    grounds: list[GroundCode] = Field(default_factory=list, max_length=10)


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
    assignee_id: str | None
    status: str
    due_at: datetime
    days_left: int
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class TaskList(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None


class TaskCompleteIn(StrictBody):
    note: Text(2000) | None = Field(None, description="What was done; kept encrypted.")


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
    explanation: str
    decided_at: datetime
    decided_by: str
    objection_until: datetime | None


class ExtensionPublic(BaseModel):
    previous_due_at: datetime
    new_due_at: datetime
    reason: str
    extended_at: datetime
    extended_by: str


class ObjectionPublic(BaseModel):
    id: str
    decision_id: str
    reason: str
    filed_at: datetime
    resolved_at: datetime | None


class Metrics(BaseModel):
    since: date
    until: date
    received: int
    by_type: dict[str, int]
    by_status: dict[str, int]
    open_overdue: int
    closed: int
    closed_on_time: int
    share_closed_on_time: float | None = Field(
        description="closed on time / closed; null if none closed"
    )
    median_days_to_close: float | None

"""The access record through the API: read it (CPO, auditor) and check its chain."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, StringConstraints
from sqlmodel import Session

from app.audit import review, service
from app.core.context import AppContext
from app.core.deps import (
    ContextDep,
    Overseer,
    SessionDep,
    StaffPrincipal,
    WriteSessionDep,
    request_filter,
)
from app.core.errors import Problem, ValidationProblem, worded
from app.core.validation import StrictBody, Text

router = APIRouter(prefix="/v1/staff/audit", tags=["staff: access record"])


# The largest sequence number a BIGINT holds; a larger cursor would overflow the driver.
_MAX_SEQ = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str | None) -> str | None:
    # No id, actor or action has one, and PostgreSQL refuses NUL in text outright.
    if value is not None and _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


_NO_CONTROL = AfterValidator(_no_control)


def _out_of_range(name: str, detail: str) -> Problem:
    return ValidationProblem(name, "out_of_range", "out of range", detail=detail)


def _utc(name: str, value: datetime | None) -> datetime | None:
    """In UTC, as stored; an offset that moves the time past year 1 or 9999 is refused."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise _out_of_range(name, f"{name} is outside the years 1 to 9999 in UTC.") from None


class AuditEntryPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    request_id: str | None
    ip: str | None
    detail: dict
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    next_cursor: str | None


class ChainCheckOut(BaseModel):
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str | None = None


@router.get("", response_model=AuditPage, responses={401: {}, 403: {}})
def list_entries(
    principal: Overseer,
    session: WriteSessionDep,
    ctx: ContextDep,
    request_id: Annotated[
        str | None,
        Query(max_length=40, description="The request's id or its reference (`RD-2026-000001`)."),
        _NO_CONTROL,
    ] = None,
    actor: Annotated[
        str | None,
        Query(max_length=80, description="e.g. `staff:usr_…`, `subject:req_…`"),
        _NO_CONTROL,
    ] = None,
    action: Annotated[str | None, Query(max_length=40), _NO_CONTROL] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None, Query(pattern=r"^\d{1,19}$", description="The last seq seen.")
    ] = None,
) -> AuditPage:
    """Entries in order (by sequence number), filtered; reading the record is itself recorded."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValidationProblem(
                name, "naive", "add an offset", detail=f"{name} needs a time-zone offset."
            )
    since, until = _utc("since", since), _utc("until", until)
    if cursor and int(cursor) > _MAX_SEQ:
        raise _out_of_range("cursor", "cursor is past the last possible sequence number.")
    rows, more = service.entries(
        session,
        request_id=request_filter(session, request_id),
        actor=actor,
        action=action,
        since=since,
        until=until,
        after=int(cursor) if cursor else None,
        limit=limit,
    )
    service.append(
        session,
        at=ctx.clock.now(),
        actor=principal.actor.label,
        action="view",
        ip=principal.ip,
        detail={"what": "access_record", "returned": len(rows)},
    )
    return AuditPage(
        items=[AuditEntryPublic.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=str(rows[-1].seq) if more else None,
    )


@router.get("/verify", response_model=ChainCheckOut, responses={401: {}, 403: {}})
def verify_chain(principal: Overseer, session: SessionDep) -> ChainCheckOut:
    """Recompute the whole hash chain: `ok` false names the first entry that was changed,
    deleted or moved."""
    result = service.verify(session)
    return ChainCheckOut(
        ok=result.ok, checked=result.checked, first_bad=result.first_bad, problem=result.problem
    )


# The monthly review (PIPC safety-measures standard: reviewed at least monthly; a download's
# reason is checked) ----------------------------------------------------------------------

_MONTH = worded(review.MONTH_PATTERN, review.MONTH_WORDS)


EXPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


class FlagOut(BaseModel):
    actor: str
    day: date
    reads: int


class AccessRecordExport(BaseModel):
    """The JSON export (`format=json`); the CSV has one row per entry, the same columns."""

    month: str
    exported_at: datetime
    rows: int
    reads_per_day_threshold: int
    flags: list[FlagOut]
    entries: list[AuditEntryPublic]


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "model": AccessRecordExport,
            "description": "The month's entries, as a download (JSON or CSV)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        401: {},
        403: {},
        422: {"description": "month malformed or not begun yet, reason missing, unknown format"},
    },
)
def export_month(
    principal: Overseer,
    session: WriteSessionDep,
    ctx: ContextDep,
    month: Annotated[
        str,
        Query(pattern=_MONTH, description="A Korea-time calendar month, `YYYY-MM`."),
    ],
    reason: Annotated[
        str,
        Query(
            min_length=1,
            max_length=review.REASON_MAX,
            description="Why the record is downloaded (e.g. `monthly review`); recorded.",
        ),
        AfterValidator(review.check_reason),
    ],
    format: Annotated[
        Literal["csv", "json"],
        Query(description="`csv` (UTF-8 with a BOM, for Excel) or `json`."),
    ] = "json",
) -> StreamingResponse:
    """Download one month of the access record (Korea time) for the monthly review, in order
    of sequence number, times in Korea time. The current month is exported as far as it goes;
    a month not begun yet is a 422. The download is itself an access-record entry
    (`download`, with the reason, month, format and number of rows). The JSON carries
    `flags`: each staff account and Korea-time day with more reads of personal data (`view`,
    `search`, `download` entries) than `RIGHTSDESK_AUDIT_FLAG_READS_PER_DAY`."""
    wanted = review.exportable_month(month, ctx.clock.now())
    return export_download(session, ctx, principal, wanted, format, reason)


def export_download(
    session: Session,
    ctx: AppContext,
    principal: StaffPrincipal,
    month: review.Month,
    fmt: str,
    reason: str,
) -> StreamingResponse:
    """A month's export as a download, recorded with its reason (review.begin_export); the
    API's route and the console's button (console/admin.py) both answer with it."""
    export = review.begin_export(
        session, ctx, month=month, fmt=fmt, reason=reason, actor=principal.actor
    )
    body = review.stream_csv if fmt == "csv" else review.stream_json
    return StreamingResponse(
        body(ctx.db, export),
        media_type=EXPORT_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="access-record-{month}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


class ReviewCreate(StrictBody):
    month: Annotated[str, StringConstraints(pattern=_MONTH)]
    note: Text(2000) | None = None


class ReviewPublic(BaseModel):
    id: str
    month: str
    reviewed_by: str
    reviewed_at: datetime


class ReviewItem(ReviewPublic):
    note: str | None


class ReviewList(BaseModel):
    items: list[ReviewItem]
    next_cursor: str | None
    unreviewed: list[str]
    reads_per_day_threshold: int
    flags: list[FlagOut]


@router.post(
    "/reviews",
    status_code=201,
    response_model=ReviewPublic,
    responses={
        401: {},
        403: {},
        409: {"description": "This month has already been reviewed"},
        422: {
            "description": "month malformed, not ended yet (Korea time), or before the access record began"
        },
    },
)
def create_review(
    body: ReviewCreate, principal: Overseer, session: SessionDep, ctx: ContextDep
) -> ReviewPublic:
    """Record that you reviewed the access record of a month that has ended (Korea time),
    with an optional note (kept encrypted). One review per month: a second is a 409. The
    review is an access-record entry."""
    row = review.record_review(
        session, ctx, month_text=body.month, note=body.note, actor=principal.actor
    )
    return ReviewPublic.model_validate(row, from_attributes=True)


@router.get("/reviews", response_model=ReviewList, responses={401: {}, 403: {}})
def list_reviews(
    principal: Overseer,
    session: WriteSessionDep,
    ctx: ContextDep,
    limit: Annotated[int, Query(ge=1, le=120)] = 24,
    cursor: Annotated[str | None, Query(pattern=_MONTH, description="The last month seen.")] = None,
) -> ReviewList:
    """The monthly reviews, newest month first, with `unreviewed`: every ended month since
    the record began that nobody has reviewed yet, and the `flags` of those months (staff
    accounts with more reads in a Korea-time day than `RIGHTSDESK_AUDIT_FLAG_READS_PER_DAY`).
    Reading the reviews is recorded."""
    found = review.list_reviews(session, ctx, limit=limit, before=cursor, actor=principal.actor)
    return ReviewList(
        items=[
            ReviewItem(
                id=r.id,
                month=r.month,
                reviewed_by=r.reviewed_by,
                reviewed_at=r.reviewed_at,
                note=note,
            )
            for r, note in found.items
        ],
        next_cursor=found.next_cursor,
        unreviewed=[m.label for m in found.unreviewed],
        reads_per_day_threshold=found.threshold,
        flags=[FlagOut(**f.as_dict()) for f in found.flags],
    )

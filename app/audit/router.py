"""The access record through the API: read it (CPO, auditor) and check its chain."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel
from sqlmodel import select

from app.audit import service
from app.core.deps import ContextDep, Overseer, SessionDep, WriteSessionDep
from app.core.errors import Problem
from app.models import AuditEntry

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
    return Problem(
        422,
        "validation-error",
        detail,
        errors=[{"field": name, "code": "out_of_range", "message": "out of range"}],
    )


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
    request_id: Annotated[str | None, Query(max_length=40), _NO_CONTROL] = None,
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
            raise Problem(
                422,
                "validation-error",
                f"{name} needs a time-zone offset.",
                errors=[{"field": name, "code": "naive", "message": "add an offset"}],
            )
    since, until = _utc("since", since), _utc("until", until)
    if cursor and int(cursor) > _MAX_SEQ:
        raise _out_of_range("cursor", "cursor is past the last possible sequence number.")
    query = select(AuditEntry)
    if request_id:
        query = query.where(AuditEntry.request_id == request_id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    if cursor:
        query = query.where(AuditEntry.seq > int(cursor))
    rows = list(session.exec(query.order_by(AuditEntry.seq).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
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

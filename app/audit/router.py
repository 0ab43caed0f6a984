"""The access record through the API: read it (CPO, auditor) and check its chain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import select

from app.audit import service
from app.core.deps import ContextDep, Overseer, SessionDep, WriteSessionDep
from app.core.errors import Problem
from app.models import AuditEntry

router = APIRouter(prefix="/v1/staff/audit", tags=["staff: access record"])


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
    request_id: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[
        str | None, Query(max_length=80, description="e.g. `staff:usr_…`, `subject:req_…`")
    ] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
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

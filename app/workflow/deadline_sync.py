"""Recompute open deadlines under the current calendar (temporary holidays, 임시공휴일).

The government declares a temporary public holiday a few weeks ahead; the operator adds it to
RIGHTSDESK_EXTRA_HOLIDAYS and restarts. A period whose last day is a public holiday ends on the
next working day (Civil Act Art. 161), so a request already received may now be due later. At
the start of the API and of every worker, each open request (closed_at IS NULL) is counted
again from its anchor:

- the statutory deadline from receipt (`statutory_due_at`, Decree 41④, 43③, 44②);
- the deadline in force (`due_at`) is at least that, and at least the new period that an
  objection to a decision or a rejection started (workflow.service.object_to); an extension
  to a later date is kept as it is.

A deadline only ever moves later: a date taken out of the setting gives back no day already
granted (the subject was told the later date). Each move goes through `lifecycle.changed`
(version, timeline `deadline.recomputed` naming the holidays, access record), and open tasks
follow. Recomputing is idempotent (a second run finds nothing later), so no table remembers
which holidays were applied; several processes starting at once lock the rows they change
(request rows first, all of a batch in one statement, before the first access-record append)
and each re-counts from the locked, current row, so the second finds nothing to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session
from sqlmodel import select as sm_select

from app.core.actors import SYSTEM
from app.core.context import AppContext
from app.core.db import Database
from app.law.deadlines import seoul_date, statutory_due_at
from app.law.rights import RIGHTS, RequestType
from app.models import Objection, Request
from app.requests import lifecycle
from app.workflow import tasks

log = logging.getLogger("rightsdesk.deadlines")

KIND = "deadline.recomputed"

_request = Request.__table__
_objection = Objection.__table__


@dataclass(frozen=True)
class Recount:
    statutory_due_at: datetime
    due_at: datetime


def recount(
    *,
    type: str,
    received_at: datetime,
    statutory: datetime,
    due: datetime,
    reopened_at: datetime | None,
    extra: Iterable[date],
    days: int | None = None,
) -> Recount:
    """The deadlines under the calendar with `extra`; never earlier than they are. `days`:
    the period when it is not the Decree's (a transmission's, from the profile)."""
    extra = frozenset(extra)
    law = statutory_due_at(received_at, days or RIGHTS[RequestType(type)].days, extra=extra)
    new_statutory = max(statutory, law)
    candidates = [due, new_statutory]
    if reopened_at is not None:  # a new period for the review of an objection
        candidates.append(statutory_due_at(reopened_at, extra=extra))
    return Recount(new_statutory, max(candidates))


def _reopened_at(conn, ids: list[str]) -> dict[str, datetime]:
    """The latest objection that started a new period (not one to an extension)."""
    rows = conn.execute(
        select(_objection.c.request_id, func.max(_objection.c.filed_at))
        .where(_objection.c.request_id.in_(ids), _objection.c.kind != "extension")
        .group_by(_objection.c.request_id)
    ).all()
    return {request_id: filed_at for request_id, filed_at in rows}


def _named(extra: Iterable[date], before: datetime, after: datetime) -> list[str]:
    """The temporary holidays between the old and the new due date: why it moved."""
    lo, hi = seoul_date(before), seoul_date(after)
    return [d.isoformat() for d in sorted(extra) if lo <= d < hi]


def _apply(session: Session, request: Request, new: Recount, extra: frozenset[date], now) -> None:
    before_statutory, before_due = request.statutory_due_at, request.due_at
    moved_from = before_due if new.due_at > before_due else before_statutory
    moved_to = new.due_at if new.due_at > before_due else new.statutory_due_at
    named = _named(extra, moved_from, moved_to)
    old_day, new_day = seoul_date(moved_from).isoformat(), seoul_date(moved_to).isoformat()
    if named:
        why_ko = f"임시공휴일({', '.join(named)}) 지정에 따라"
        why_en = f"temporary public holiday(s) {', '.join(named)}"
    else:
        why_ko, why_en = "공휴일 달력 변경에 따라", "a change in the public-holiday calendar"
    note = (
        f"{why_ko} 처리 기한을 다시 계산하여 {old_day}에서 {new_day}(으)로 늦추었습니다"
        f"(민법 제161조). / Deadline recomputed for {why_en}: moved from {old_day} to "
        f"{new_day} (Civil Act Art. 161)."
    )
    request.statutory_due_at = new.statutory_due_at
    request.due_at = new.due_at
    lifecycle.changed(
        session,
        request,
        KIND,
        actor=SYSTEM,
        at=now,
        note=note,
        detail={
            "reason": "calendar",
            "extra_holidays": named,
            "previous_statutory_due_at": before_statutory.isoformat(),
            "statutory_due_at": new.statutory_due_at.isoformat(),
            "previous_due_at": before_due.isoformat(),
            "due_at": new.due_at.isoformat(),
        },
    )
    if new.due_at != before_due:
        tasks.follow_deadline(session, request)


def _needs(rows, reopened: dict[str, datetime], extra: frozenset[date], tx_days: int) -> list[str]:
    out = []
    for row in rows:
        new = recount(
            type=row.type,
            received_at=row.received_at,
            statutory=row.statutory_due_at,
            due=row.due_at,
            reopened_at=reopened.get(row.id),
            extra=extra,
            days=tx_days if row.type == "transmission" else None,
        )
        if new.statutory_due_at > row.statutory_due_at or new.due_at > row.due_at:
            out.append(row.id)
    return out


def recompute_deadlines(
    db: Database, ctx: AppContext, *, extra: Iterable[date] | None = None, batch: int = 200
) -> int:
    """Move every open deadline that the current calendar puts later; returns how many
    requests moved. Bounded batches: a read of `batch` open requests (keyset by id), then,
    for those that move, one short write transaction that locks them and counts again."""
    extra = frozenset(ctx.settings.extra_holiday_dates if extra is None else extra)
    moved = 0
    after = ""
    while True:
        with db.transaction(write=False) as session:
            conn = session.connection()
            rows = conn.execute(
                select(
                    _request.c.id,
                    _request.c.type,
                    _request.c.received_at,
                    _request.c.due_at,
                    _request.c.statutory_due_at,
                )
                .where(_request.c.closed_at.is_(None), _request.c.id > after)
                .order_by(_request.c.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            after = rows[-1].id
            tx_days = ctx.profile.transmission.days
            ids = _needs(rows, _reopened_at(conn, [r.id for r in rows]), extra, tx_days)
        if ids:
            moved += _move(db, ctx, ids, extra)
        if len(rows) < batch:
            break
    if moved:
        log.info("recomputed %d open deadline(s) under the current holiday calendar", moved)
    return moved


def _move(db: Database, ctx: AppContext, ids: list[str], extra: frozenset[date]) -> int:
    now = ctx.clock.now()
    moved = 0
    with db.transaction() as session:
        # Every row of the batch locked up front, in one statement and in id order (the one
        # lock order, requests/locks.py), before the first access-record append; re-read, so
        # a process that started at the same moment and moved them first leaves nothing here.
        locked = list(
            session.exec(
                sm_select(Request)
                .where(Request.id.in_(ids), Request.closed_at.is_(None))
                .order_by(Request.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        reopened = _reopened_at(session.connection(), [r.id for r in locked])
        for request in locked:
            new = recount(
                type=request.type,
                received_at=request.received_at,
                statutory=request.statutory_due_at,
                due=request.due_at,
                reopened_at=reopened.get(request.id),
                extra=extra,
                days=ctx.profile.transmission.days if request.type == "transmission" else None,
            )
            if new.statutory_due_at > request.statutory_due_at or new.due_at > request.due_at:
                _apply(session, request, new, extra, now)
                moved += 1
    return moved

"""The CPO's numbers: how many, of what, how fast, and how many on time."""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.context import AppContext
from app.law.deadlines import SEOUL
from app.models import Request
from app.requests.lifecycle import CLOSED, Status
from app.workflow.schemas import Metrics

# Answered by us (not withdrawn by the subject): what "closed on time" is measured over.
ANSWERED = (Status.completed.value, Status.refused.value, Status.rejected.value)


def _start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=SEOUL)


def compute(session: Session, ctx: AppContext, since: date, until: date) -> Metrics:
    """Requests received from `since` to `until` inclusive (Korea time)."""
    lo, hi = _start(since), _start(until + timedelta(days=1))
    in_range = (Request.received_at >= lo, Request.received_at < hi)
    by_type = dict(
        session.exec(
            select(Request.type, func.count()).where(*in_range).group_by(Request.type)
        ).all()
    )
    by_status = dict(
        session.exec(
            select(Request.status, func.count()).where(*in_range).group_by(Request.status)
        ).all()
    )
    now = ctx.clock.now()
    open_overdue = session.exec(
        select(func.count())
        .select_from(Request)
        .where(*in_range, Request.due_at < now, Request.status.not_in([s.value for s in CLOSED]))
    ).one()
    closed_rows = session.exec(
        select(Request.received_at, Request.closed_at, Request.due_at).where(
            *in_range, Request.status.in_(ANSWERED), Request.closed_at.is_not(None)
        )
    ).all()
    durations = [(c - r).total_seconds() / 86400 for r, c, _ in closed_rows]
    on_time = sum(1 for _, c, d in closed_rows if c <= d)
    return Metrics(
        since=since,
        until=until,
        received=sum(by_type.values()),
        by_type=by_type,
        by_status=by_status,
        open_overdue=open_overdue,
        closed=len(closed_rows),
        closed_on_time=on_time,
        share_closed_on_time=round(on_time / len(closed_rows), 4) if closed_rows else None,
        median_days_to_close=round(statistics.median(durations), 2) if durations else None,
    )

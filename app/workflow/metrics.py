"""The CPO's numbers: how many, of what, how fast, and how many on time."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from app.core.context import AppContext
from app.core.errors import ValidationProblem
from app.law.deadlines import SEOUL, is_non_working_day, seoul_date
from app.models import Objection, Request
from app.requests.lifecycle import CLOSED, Status
from app.workflow.schemas import (
    Forecast,
    ForecastDay,
    Metrics,
    MonthOnTime,
    ObjectionCounts,
    WeekCount,
)

# Answered by us (not withdrawn by the subject): what "closed on time" is measured over.
ANSWERED = (Status.completed.value, Status.refused.value, Status.rejected.value)


def _start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=SEOUL)


def _seoul_day(session: Session | Connection, column=Request.received_at):
    """The Korea-time calendar day of `column` (default `received_at`), in SQL (Korea keeps no
    summer time, so SQLite's fixed nine hours are exact)."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    if bind.dialect.name == "sqlite":
        return func.date(column, "+9 hours")
    return func.date(func.timezone("Asia/Seoul", column))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _weeks(since: date, until: date, per_day: list[tuple[date, str, int]]) -> list[WeekCount]:
    """Every Monday-to-Sunday week (Korea time) from the one holding `since` to the one
    holding `until`, with the requests received in it by type."""
    first = since - timedelta(days=since.weekday())
    count = (until - first).days // 7 + 1
    weeks = [
        WeekCount(week_start=first + timedelta(weeks=i), total=0, by_type={}) for i in range(count)
    ]
    for day, type_, n in per_day:
        week = weeks[(day - first).days // 7]
        week.total += n
        week.by_type[type_] = week.by_type.get(type_, 0) + n
    return weeks


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _months(since: date, until: date, closed_rows) -> list[MonthOnTime]:
    """Closed and closed on time by the Korea-time month of closing."""
    closings = [(c.astimezone(SEOUL).date(), c <= d) for _, c, d in closed_rows]
    last = max([until, *(day for day, _ in closings)])
    months: dict[str, list[int]] = {}
    year, month = since.year, since.month
    while (year, month) <= (last.year, last.month):
        months[f"{year:04d}-{month:02d}"] = [0, 0]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for day, in_time in closings:
        counts = months[_month(day)]
        counts[0] += 1
        counts[1] += in_time
    return [
        MonthOnTime(
            month=label,
            closed=closed,
            closed_on_time=on_time,
            share_closed_on_time=round(on_time / closed, 4) if closed else None,
        )
        for label, (closed, on_time) in months.items()
    ]


def _objections(session: Session, lo: datetime, hi: datetime) -> ObjectionCounts:
    rows = session.exec(
        select(Objection.kind, Objection.resolved_at.is_(None)).where(
            Objection.filed_at >= lo, Objection.filed_at < hi
        )
    ).all()
    by_kind: dict[str, int] = {}
    for kind, _ in rows:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    return ObjectionCounts(
        filed=len(rows), open=sum(1 for _, unresolved in rows if unresolved), by_kind=by_kind
    )


DEFAULT_DAYS = 90  # the range when none is given: the last 90 days up to today (Korea time)
LONGEST_DAYS = 3660


def compute_range(
    session: Session, ctx: AppContext, since: date | None = None, until: date | None = None
) -> Metrics:
    """`compute` over the range asked for, defaulting to the last 90 days up to today in Korea;
    a range that runs backwards or spans more than 10 years is refused (422 on `since`). The
    API's metrics route and the console's dashboard both answer through this."""
    until = until or seoul_date(ctx.clock.now())
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since > until or (until - since).days > LONGEST_DAYS:
        raise ValidationProblem(
            "since",
            "bad_range",
            "since after until, or too long",
            detail="The range must run forwards and span at most 10 years.",
        )
    return compute(session, ctx, since, until)


def compute(session: Session, ctx: AppContext, since: date, until: date) -> Metrics:
    """Requests received from `since` to `until` inclusive (Korea time)."""
    lo, hi = _start(since), _start(until + timedelta(days=1))
    in_range = (Request.received_at >= lo, Request.received_at < hi)
    # One row per Korea-time day and type (at most ~3,660 days × 7 types), not per request.
    day = _seoul_day(session)
    per_day = [
        (_as_date(d), type_, n)
        for d, type_, n in session.exec(
            select(day, Request.type, func.count()).where(*in_range).group_by(day, Request.type)
        ).all()
    ]
    by_type: dict[str, int] = {}
    for _, type_, n in per_day:
        by_type[type_] = by_type.get(type_, 0) + n
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
        open_by_status={s: n for s, n in by_status.items() if s not in {c.value for c in CLOSED}},
        open_overdue=open_overdue,
        closed=len(closed_rows),
        closed_on_time=on_time,
        share_closed_on_time=round(on_time / len(closed_rows), 4) if closed_rows else None,
        median_days_to_close=round(statistics.median(durations), 2) if durations else None,
        received_by_week=_weeks(since, until, per_day),
        on_time_by_month=_months(since, until, closed_rows),
        objections=_objections(session, lo, hi),
        forecast=forecast_now(session, now),
    )


# --- forecast ---------------------------------------------------------------------------------

FORECAST_DAYS = 14
RATE_DAYS = 7


def forecast(
    today: date,
    due_by_day: Mapping[date, int],
    closed_last_7_days: int,
    *,
    extra: frozenset[date] | None = None,
) -> Forecast:
    """The forecast from plain numbers (no I/O): `today` (Korea time), the open requests by the
    Korea-time day of their deadline (past days included: those are overdue now), and how many
    requests were answered in the 7 days before today; `extra`: temporary holidays (default:
    the configured ones).

    Rate r = answered in the 7 days before today / working days among those 7 (0 if none).
    The open requests are answered in deadline order, r per working day, from today on (today
    counts whole when it is a working day): by the end of day d, floor(r × working days from
    today to d) of them are answered. A request due on day d whose place in the order is
    beyond that is counted overdue on d. Counted in integers (no rounding drift)."""
    window = [today - timedelta(days=i) for i in range(1, RATE_DAYS + 1)]
    worked_before = sum(not is_non_working_day(d, extra) for d in window)
    overdue_now = sum(n for d, n in due_by_day.items() if d < today)
    ahead = overdue_now  # requests before the day's own in the deadline order
    worked = 0
    days: list[ForecastDay] = []
    for i in range(FORECAST_DAYS):
        d = today + timedelta(days=i)
        working = not is_non_working_day(d, extra)
        worked += working
        # floor(r × worked), exactly: closed × worked // worked_before.
        answered = closed_last_7_days * worked // worked_before if worked_before else 0
        due = due_by_day.get(d, 0)
        ahead += due
        days.append(
            ForecastDay(
                day=d,
                days_ahead=i,
                working_day=working,
                due=due,
                overdue_at_rate=max(0, min(due, ahead - answered)),
            )
        )
    return Forecast(
        closed_last_7_days=closed_last_7_days,
        working_days_last_7_days=worked_before,
        rate_per_working_day=round(closed_last_7_days / worked_before, 2) if worked_before else 0.0,
        open_overdue_now=overdue_now,
        days=days,
    )


def forecast_now(bind: Session | Connection, now: datetime) -> Forecast:
    """The forecast as of `now`, from one query: the open requests counted by the Korea-time
    day of their deadline, and the requests answered in the 7 Korea-time days before today
    (counted by their deadline's day too, then summed). The API's metrics, the console and
    Prometheus (`rightsdesk_forecast_*`) all read it here."""
    today = seoul_date(now)
    lo, hi = _start(today - timedelta(days=RATE_DAYS)), _start(today)
    is_open = Request.closed_at.is_(None)
    day = _seoul_day(bind, Request.due_at)
    run = bind.execute if isinstance(bind, Connection) else bind.exec
    rows = run(
        select(is_open.label("is_open"), day.label("day"), func.count())
        .where(
            is_open
            | (Request.status.in_(ANSWERED) & (Request.closed_at >= lo) & (Request.closed_at < hi))
        )
        .group_by(is_open, day)
    ).all()
    due_by_day: dict[date, int] = {}
    closed = 0
    for still_open, d, n in rows:
        if still_open:
            due_by_day[_as_date(d)] = due_by_day.get(_as_date(d), 0) + n
        else:
            closed += n
    return forecast(today, due_by_day, closed)

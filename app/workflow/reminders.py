"""Deadline reminders to staff: a few days before a request is due, and when it is overdue.

Who: the request's assignee; when nobody (active, cpo or handler) is assigned, every active
CPO (개인정보 보호책임자), who must see that someone takes it.

When: `RIGHTSDESK_REMINDER_DAYS_BEFORE` (default "3,1") counts Korea-time *calendar* days
to the due date, the same `days_left` the queue and the portal show (law.deadlines.days_left).
Working days are not counted separately because the due date itself already stands on a
working day (Civil Act Art. 161); a reminder "1 day before" a Monday deadline therefore goes
out on Sunday, and the Friday one said "3 days". Each reminder kind is sent once per
deadline: at `days_left` d the kind is the smallest configured N ≥ d, so a worker that was
down does not send a stale "3 days" after the "1 day" one, and a request entered late (or
extended) gets the one that fits. Once `now` is past the due moment, one `overdue` reminder.

Once each, across workers and restarts: the `reminder` row (UNIQUE request_id, kind, due_at)
is inserted with ON CONFLICT DO NOTHING in the same transaction as the outbox rows, so only
the transaction whose insert counted queues the e-mails. The candidate requests are also
claimed FOR UPDATE SKIP LOCKED, so parallel workers split the work instead of queueing on
each other, and a request someone is changing right now (an extension) waits for the next
round. An extension or a recomputed deadline moves `due_at`, and the reminders start again
for the new date. Self-filed public requests still waiting for the subject's code are left
out: staff cannot act on them, and they expire (workflow.service.reject_unverified).

No personal data of the subject goes into a staff e-mail: the reference, the type, the
status, the due date and the days left are enough to find it on the dashboard.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.core.context import AppContext
from app.core.db import Database
from app.core.ids import new_id
from app.events import record as events
from app.law.deadlines import SEOUL, days_left, seoul_date
from app.law.rights import RIGHTS, RequestType
from app.models import Reminder, Request, StaffUser
from app.notifications.outbox import Notice, enqueue_notices
from app.notifications.render import date_en, date_ko, moment_en, moment_ko
from app.requests.lifecycle import Status

log = logging.getLogger("rightsdesk.reminders")

TEMPLATE = "deadline_reminder"
OVERDUE = "overdue"
# Filings through our own forms, whose only proof is the e-mailed code (as reject_unverified).
_PUBLIC_CHANNELS = ("portal", "api")

_request = Request.__table__
_reminder = Reminder.__table__
_staff = StaffUser.__table__

STATUS_KO = {
    "pending_verification": "본인·대리권 확인 대기",
    "open": "접수(담당자 미지정)",
    "in_progress": "처리 중",
    "fulfilling": "결정 이행 중",
}
STATUS_EN = {
    "pending_verification": "waiting for identity or authority to be confirmed",
    "open": "received, not yet assigned",
    "in_progress": "in progress",
    "fulfilling": "decision being carried out",
}


def kind_before(days: int) -> str:
    return f"due_in_{days}"


def kind_for(days: int, before: tuple[int, ...]) -> str | None:
    """The reminder that fits `days` left (≥ 0): the smallest configured N ≥ days."""
    fitting = [n for n in before if n >= days]
    return kind_before(min(fitting)) if fitting else None


def _start_of(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=SEOUL)


def _windows(now: datetime, before: tuple[int, ...]) -> list[tuple[str, list]]:
    """(kind, conditions on due_at) for every reminder kind, as of `now`."""
    today = seoul_date(now)
    due = _request.c.due_at
    out: list[tuple[str, list]] = [(OVERDUE, [due < now])]
    previous = -1
    for n in sorted(before):
        lo = max(now, _start_of(today + timedelta(days=previous + 1)))
        hi = _start_of(today + timedelta(days=n + 1))
        out.append((kind_before(n), [due >= lo, due < hi]))
        previous = n
    return out


def _insert(dialect: str):
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(_reminder)


_WAITING_FOR_CODE = and_(
    _request.c.status == Status.pending_verification.value,
    _request.c.requester_kind == "self",
    _request.c.channel.in_(_PUBLIC_CHANNELS),
    _request.c.subject_email_bidx.is_not(None),
)


def send_reminders(
    db: Database, ctx: AppContext, *, limit: int = 100, max_batches: int = 50
) -> int:
    """Queue the reminders that are due now; returns how many requests were reminded about."""
    now = ctx.clock.now()
    total = 0
    for kind, window in _windows(now, ctx.settings.reminder_days):
        for _ in range(max_batches):
            claimed, sent = _batch(db, ctx, kind, window, now, limit)
            total += sent
            if claimed < limit:
                break
    if total:
        log.info("queued %d deadline reminder(s)", total)
    return total


def _batch(db: Database, ctx: AppContext, kind: str, window: list, now: datetime, limit: int):
    already = exists().where(
        _reminder.c.request_id == _request.c.id,
        _reminder.c.kind == kind,
        _reminder.c.due_at == _request.c.due_at,
    )
    # Most rounds find nothing to send: look first without the write lock (on SQLite the lock
    # of every writer, a filing included), and claim only when there is something.
    due = (
        select(
            _request.c.id,
            _request.c.reference,
            _request.c.type,
            _request.c.status,
            _request.c.due_at,
            _request.c.assignee_id,
            _request.c.scope_detail,
        )
        .where(_request.c.closed_at.is_(None), not_(_WAITING_FOR_CODE), ~already, *window)
        # The open-requests index's order (ix_request_open_due_at_id): a range seek over the
        # window's due dates, the most overdue first. In id order SQLite walked the primary
        # key through every request ever filed, for the overdue window on every round.
        .order_by(_request.c.due_at, _request.c.id)
    )
    probe = due.with_only_columns(_request.c.id).limit(1)
    with db.transaction(write=False) as session:
        if session.connection().execute(probe).first() is None:
            return 0, 0
    with db.transaction() as session:
        conn = session.connection()
        rows = conn.execute(
            due.limit(limit)
            # Claim: a request another worker (or a staff action) holds is left for the next
            # round; the unique constraint below decides anyway.
            .with_for_update(skip_locked=True, of=_request)
        ).all()
        if not rows:
            return 0, 0
        # Inserted in id order, so two inserts that overlap take the same keys in the same order.
        rows = sorted(rows, key=lambda row: row.id)
        inserted = set(
            conn.execute(
                _insert(conn.dialect.name)
                .values(
                    [
                        {
                            "id": new_id("rem"),
                            "request_id": row.id,
                            "kind": kind,
                            "due_at": row.due_at,
                            "sent_at": now,
                        }
                        for row in rows
                    ]
                )
                .on_conflict_do_nothing()
                .returning(_reminder.c.request_id)
            ).scalars()
        )
        mine = [row for row in rows if row.id in inserted]
        notices = _notices(conn, ctx, mine, kind, now)
        enqueue_notices(session, ctx, notices, now=now)
        if kind != OVERDUE:  # integrations hear of a deadline coming, once per reminder
            for row in mine:
                events.emit(session, events.REQUEST_DEADLINE_APPROACHING, row, at=now)
    return len(rows), len(mine)


def _notices(conn, ctx: AppContext, rows, kind: str, now: datetime) -> list[Notice]:
    if not rows:
        return []
    assignee_ids = {row.assignee_id for row in rows if row.assignee_id}
    people = {}
    if assignee_ids:
        people = {
            s.id: s.email
            for s in conn.execute(
                select(_staff.c.id, _staff.c.email).where(
                    _staff.c.id.in_(assignee_ids),
                    _staff.c.active.is_(True),
                    or_(_staff.c.role == "cpo", _staff.c.role == "handler"),
                )
            )
        }
    cpos: list[str] | None = None
    notices = []
    for row in rows:
        to = people.get(row.assignee_id) if row.assignee_id else None
        if to:
            recipients, unassigned = [to], False
        else:
            if cpos is None:
                cpos = list(
                    conn.execute(
                        select(_staff.c.email)
                        .where(_staff.c.role == "cpo", _staff.c.active.is_(True))
                        .order_by(_staff.c.email)
                    ).scalars()
                )
            recipients, unassigned = cpos, True
        if not recipients:
            # Recorded as sent all the same: retrying every round would only repeat this.
            log.warning("no active CPO to remind about request %s (%s)", row.id, kind)
        context = reminder_context(ctx, row, kind, now, unassigned=unassigned)
        notices += [Notice(TEMPLATE, email, "ko", row.id, context) for email in recipients]
    return notices


def reminder_context(ctx: AppContext, row, kind: str, now: datetime, *, unassigned: bool) -> dict:
    right = RIGHTS[RequestType(row.type)]
    left = days_left(row.due_at, now)
    due = seoul_date(row.due_at)
    return {
        "company": ctx.profile.company,
        "reference": row.reference,
        "type": row.type,
        "right": right,
        "right_article_ko": right.article_korean,
        "decree_ko": "시행령 " + right.decree_korean,
        "status_ko": STATUS_KO.get(row.status, row.status),
        "status_en": STATUS_EN.get(row.status, row.status),
        "due_ko": date_ko(due),
        "due_en": date_en(due),
        "due_moment_ko": moment_ko(row.due_at),
        "due_moment_en": moment_en(row.due_at),
        "overdue": kind == OVERDUE,
        "days_left": max(left, 0),
        "days_over": max(-left, 0),
        "unassigned": unassigned,
    }

"""The outbox: notices (and later webhooks) are rows written in the business transaction and
delivered afterwards, so an acknowledged request's notices survive a crash.

Delivery claims a batch under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on
SQLite), sends outside any transaction, then records each result. Several workers never claim
the same row; a worker that dies mid-send leaves rows whose lease expires and which are sent
again (at least once; the file sender is idempotent per message id).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from app.core.context import AppContext
from app.core.db import Database, after_commit
from app.core.ids import new_id
from app.models import OutboxMessage
from app.notifications.render import render
from app.notifications.senders import Message, Sender

log = logging.getLogger("rightsdesk.outbox")

_outbox = OutboxMessage.__table__
LEASE = timedelta(minutes=2)


def _aad(message_id: str) -> str:
    return f"outbox_message.payload:{message_id}"


@dataclass(frozen=True)
class Notice:
    template: str
    to: str
    locale: str
    request_id: str | None
    context: dict


_INSERT_MESSAGE = insert(_outbox)
_MARK_SENT = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("mid"))
    .values(
        state="sent",
        sent_at=bindparam("at"),
        payload_enc=None,
        attempts=bindparam("n"),
        last_error=None,
    )
)


def enqueue_notices(
    session: Session, ctx: AppContext, notices: list[Notice], *, now: datetime
) -> list[str]:
    """Render notices and queue them in the caller's transaction (one statement for all)."""
    rows = []
    for notice in notices:
        rendered = render(notice.template, notice.locale, notice.context)
        message_id = new_id("msg")
        payload = json.dumps({"to": notice.to, "subject": rendered.subject, "text": rendered.text})
        rows.append(
            {
                "id": message_id,
                "kind": "notice",
                "template": notice.template,
                "request_id": notice.request_id,
                "locale": notice.locale,
                "payload_enc": ctx.keys.encrypt(payload, _aad(message_id)),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if rows:
        session.connection().execute(_INSERT_MESSAGE, rows)
        after_commit(session, ctx.outbox_kick)
    return [r["id"] for r in rows]


def enqueue_notice(
    session: Session,
    ctx: AppContext,
    *,
    template: str,
    to: str,
    locale: str,
    request_id: str | None,
    context: dict,
    now: datetime,
) -> str:
    """Render a notice and queue it in the caller's transaction."""
    notice = Notice(template, to, locale, request_id, context)
    return enqueue_notices(session, ctx, [notice], now=now)[0]


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.failed


def deliver_due(
    db: Database, ctx: AppContext, sender: Sender, *, now: datetime | None = None, limit: int = 100
) -> DeliveryReport:
    """Claim up to `limit` due messages, send them, record the outcome."""
    report = DeliveryReport()
    now = now or ctx.clock.now()
    with db.transaction() as session:
        conn = session.connection()
        rows = conn.execute(
            select(
                _outbox.c.id,
                _outbox.c.kind,
                _outbox.c.template,
                _outbox.c.locale,
                _outbox.c.request_id,
                _outbox.c.payload_enc,
                _outbox.c.attempts,
            )
            .where(_outbox.c.state == "pending", _outbox.c.next_attempt_at <= now)
            .order_by(_outbox.c.next_attempt_at, _outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return report
        conn.execute(
            update(_outbox)
            .where(_outbox.c.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + LEASE)
        )

    outcomes: list[tuple[str, int, str | None]] = []
    for row in rows:
        try:
            payload = json.loads(ctx.keys.decrypt(row.payload_enc, _aad(row.id)) or "{}")
            sender.send(
                Message(
                    id=row.id,
                    to=payload["to"],
                    subject=payload["subject"],
                    text=payload["text"],
                    template=row.template,
                    locale=row.locale,
                    request_id=row.request_id,
                )
            )
            outcomes.append((row.id, row.attempts + 1, None))
        except Exception as exc:  # any failure is retried; its type is kept, never its message
            outcomes.append((row.id, row.attempts + 1, type(exc).__name__))
            log.warning("delivery of %s (%s) failed: %s", row.id, row.template, type(exc).__name__)

    done_at = ctx.clock.now()
    sent = [{"mid": mid, "n": n} for mid, n, error in outcomes if error is None]
    with db.transaction() as session:
        conn = session.connection()
        if sent:
            # Delivered: the payload (personal data) is not kept. One statement for the batch.
            conn.execute(_MARK_SENT, [{**row, "at": done_at} for row in sent])
            report.sent += len(sent)
        for message_id, attempts, error in outcomes:
            if error is None:
                continue
            report.errors.append(error)
            if attempts >= ctx.settings.outbox_max_attempts:
                values = {"state": "failed", "attempts": attempts, "last_error": error}
                report.failed += 1
            else:
                values = {
                    "attempts": attempts,
                    "last_error": error,
                    "next_attempt_at": done_at + backoff(attempts),
                }
                report.retried += 1
            conn.execute(update(_outbox).where(_outbox.c.id == message_id).values(**values))
    return report


def drain(
    db: Database, ctx: AppContext, sender: Sender, *, max_batches: int = 100, limit: int = 100
) -> DeliveryReport:
    """Deliver until nothing is due (bounded)."""
    total = DeliveryReport()
    for _ in range(max_batches):
        report = deliver_due(db, ctx, sender, limit=limit)
        total.sent += report.sent
        total.retried += report.retried
        total.failed += report.failed
        total.errors += report.errors
        if report.claimed < limit or report.sent == 0:
            break  # a short batch means nothing more is due
    return total


class OutboxPump:
    """Delivers from inside the API process (development): woken after each commit that
    queued something, and every `interval` seconds for rows left behind by a crash."""

    def __init__(self, work: Callable[[], object], interval: float, gather: float = 0.05) -> None:
        self._work = work
        self._interval = interval
        # After a wake-up, wait a moment so that the commits of a busy moment go out as one
        # batch (one claim, one update) rather than one by one.
        self._gather = gather
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._work()
            except Exception as exc:  # keep pumping; the rows stay pending
                log.error("outbox pump: %s", type(exc).__name__)
            if self._wake.wait(self._interval):
                self._stop.wait(self._gather)
            self._wake.clear()

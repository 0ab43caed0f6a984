"""The outbox: notices (and webhooks, app/integrations/delivery.py) are rows written in the business transaction and
delivered afterwards, so an acknowledged request's notices survive a crash.

Delivery claims a batch (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite): the
rows get a random claim token and a lease (`next_attempt_at` moved to the lease's end, so no
other worker sees them as due). It sends them outside any transaction, over one connection,
and records the results under its own token as soon as they are known (for the file
sender, where a second delivery overwrites the first, successes in small groups of a
fraction of a second; see `_SENT_GROUP_SIZE`). A worker whose claim was taken
over records nothing and sends nothing more. A message is only started with
at least half a lease left; the worker renews the lease of the rest of its batch when less
remains. So while its worker lives, a message is never sent by two workers.

A worker that dies mid-batch leaves its rows claimed until the lease runs out; another worker
then sends them. The one message it may have had in flight (handed to the relay, the result
not yet recorded; for files, the group not yet recorded) is sent again then: delivery is at least once, never twice for a message
whose sending was recorded. The Message-ID is the outbox id, the same on every attempt.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlmodel import Session

from app.core.context import AppContext
from app.core.db import Database, after_commit, commit
from app.core.ids import new_id
from app.core.prepared import PreparedSession
from app.law.rights import RIGHTS, RequestType
from app.models import OutboxMessage
from app.notifications.render import render
from app.notifications.senders import Batch, Message, Sender, open_batch

log = logging.getLogger("rightsdesk.outbox")

_outbox = OutboxMessage.__table__


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

# Payload versions (inside the encrypted JSON; no column needed). Version 1 (no "v"): the notice
# rendered at filing, {"to", "subject", "text"}. Version 2: {"v": 2, "to", "context"}, rendered
# by whoever delivers it (the template is the row's `template` column, the language its
# `locale`): jinja is no work of the business transaction. Both deliver.
PAYLOAD_VERSION = 2
# Context entries every notice has and the deliverer knows itself: not stored in each row.
_DERIVED = ("company", "right")


def _stored_context(ctx: AppContext, context: dict) -> dict:
    """The context without what delivery derives again (the company, the request type's right)."""
    kept = {k: v for k, v in context.items() if k not in _DERIVED}
    if "company" in context and context["company"] is not ctx.profile.company:
        kept["company"] = context["company"]  # not the profile's: keep it (then rendered now)
    right = context.get("right")
    if right is not None and (kept.get("type") is None or _right(kept["type"]) is not right):
        kept["right"] = right
    return kept


def _right(type_: str):
    try:
        return RIGHTS[RequestType(type_)]
    except ValueError:
        return None


def _payload(ctx: AppContext, notice: Notice) -> str:
    """The JSON to encrypt: the context to render at delivery, or, when it is not plain JSON
    (a producer passing objects), the notice rendered now (version 1)."""
    try:
        return json.dumps(
            {
                "v": PAYLOAD_VERSION,
                "to": notice.to,
                "context": _stored_context(ctx, notice.context),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
    except TypeError:
        rendered = render(notice.template, notice.locale, notice.context)
        return json.dumps({"to": notice.to, "subject": rendered.subject, "text": rendered.text})


def enqueue_notices(
    session: Session, ctx: AppContext, notices: list[Notice], *, now: datetime
) -> list[str]:
    """Queue notices in the caller's transaction (one statement for all), to be rendered
    when delivered; the payload, personal data and all, is encrypted."""
    rows = []
    encrypt = ctx.keys.encrypt
    for notice in notices:
        message_id = new_id("msg")
        rows.append(
            {
                "id": message_id,
                "kind": "notice",
                "template": notice.template,
                "request_id": notice.request_id,
                "locale": notice.locale,
                "payload_enc": encrypt(_payload(ctx, notice), _aad(message_id)),
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
    """Queue a notice in the caller's transaction (rendered when delivered)."""
    notice = Notice(template, to, locale, request_id, context)
    return enqueue_notices(session, ctx, [notice], now=now)[0]


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at 1 hour."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Claims that ran out and were taken over by another worker before this one was done
    # with them: this worker neither sent them nor recorded a result for them.
    lost: int = 0
    # Handed back unsent because the worker is stopping (due again at once).
    released: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.lost += other.lost
        self.released += other.released
        self.errors += other.errors


_CLAIM_COLUMNS = (
    _outbox.c.id,
    _outbox.c.template,
    _outbox.c.locale,
    _outbox.c.request_id,
    _outbox.c.payload_enc,
    _outbox.c.attempts,
)


@dataclass(frozen=True)
class Queue:
    """An outbox table as claims see it: rows with an `id`, a status column that reads
    'pending' while they wait, `next_attempt_at` and `claim_token`. Notices and webhook
    deliveries share the claim rules through this."""

    table: Table
    status: str  # the status column's name
    columns: tuple  # what a claim reads of each row

    @property
    def status_column(self):
        return self.table.c[self.status]


NOTICES = Queue(_outbox, "state", _CLAIM_COLUMNS)


_RECORDS: dict[tuple, Any] = {}


def _record_statement(queue: Queue, keys: tuple[str, ...]):
    """`record`'s UPDATE for these outcome columns, built once (a statement built per message
    cost more than the UPDATE itself): the row, still under this claim, still pending."""
    statement = _RECORDS.get((queue.table.name, keys))
    if statement is None:
        table = queue.table
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("_id"),
                table.c.claim_token == bindparam("_token"),
                queue.status_column == "pending",
            )
            .values(claim_token=None, **{k: bindparam("_v_" + k) for k in keys})
        )
        _RECORDS[(queue.table.name, keys)] = statement
    return statement


class Claim:
    """A batch held under one token; every write checks the token, so a claim that was
    taken over changes nothing."""

    def __init__(
        self,
        db: Database,
        ctx: AppContext,
        queue: Queue,
        token: str,
        rows,
        lease_until: datetime,
    ):
        self.db = db
        self.ctx = ctx
        self.queue = queue
        self.token = token
        self.rows = rows
        self.lease_until = lease_until
        self.lease = timedelta(seconds=ctx.settings.outbox_lease_seconds)
        self.held = {row.id for row in rows}

    def mine(self, ids):
        """The conditions of a write under this claim: the rows, still ours, still pending."""
        table = self.queue.table
        return (
            table.c.id.in_(ids),
            table.c.claim_token == self.token,
            self.queue.status_column == "pending",
        )

    def ensure_lease(self, rest: list[str]) -> None:
        """Before a message: if less than half a lease is left, extend it for the rest of the
        batch; `held` loses whatever another worker has claimed meanwhile."""
        now = self.ctx.clock.now()
        if self.lease_until - now >= self.lease / 2:
            return
        ids = [mid for mid in rest if mid in self.held]
        if not ids:
            return
        table = self.queue.table
        with self.db.transaction() as session:
            kept = (
                session.connection()
                .execute(
                    update(table)
                    .where(*self.mine(ids))
                    .values(next_attempt_at=now + self.lease)
                    .returning(table.c.id)
                )
                .scalars()
                .all()
            )
        self.held = set(kept)
        self.lease_until = now + self.lease

    def record(self, message_id: str, values: dict, *, session: Session | None = None) -> bool:
        """Write the outcome of one message, if it is still ours (in `session` when given,
        so that other changes can share its transaction; else in a transaction of its own)."""
        keys = tuple(sorted(values))
        statement = _record_statement(self.queue, keys)
        params = {"_id": message_id, "_token": self.token}
        params.update(("_v_" + k, values[k]) for k in keys)
        if session is not None:
            result = session.connection().execute(statement, params)
        else:
            # One short transaction per outcome (recorded as soon as known), on the driver.
            with self.db.session(write=True, cls=PreparedSession) as own:
                result = own.connection().execute(statement, params)
                commit(own)
        self.held.discard(message_id)
        return result.rowcount == 1

    def record_sent(self, message_ids: list[str]) -> set[str]:
        """Record a group of messages as sent, in one transaction: the ones still ours.
        Returns their ids; a message missing from it was taken over (lost)."""
        if not message_ids:
            return set()
        table = self.queue.table
        with self.db.transaction() as session:
            recorded = set(
                session.connection()
                .execute(
                    update(table)
                    .where(*self.mine(message_ids))
                    .values(
                        state="sent",
                        sent_at=self.ctx.clock.now(),
                        payload_enc=None,  # delivered: the personal data is not kept
                        attempts=table.c.attempts + 1,  # unchanged since the claim: ours
                        last_error=None,
                        claim_token=None,
                    )
                    .returning(table.c.id)
                )
                .scalars()
            )
        self.held.difference_update(message_ids)
        return recorded

    def release(self, rest: list[str]) -> int:
        """Hand back what was not sent: due again at once, for any worker."""
        ids = [mid for mid in rest if mid in self.held]
        if not ids:
            return 0
        with self.db.transaction() as session:
            result = session.connection().execute(
                update(self.queue.table)
                .where(*self.mine(ids))
                .values(claim_token=None, next_attempt_at=self.ctx.clock.now())
            )
        self.held.difference_update(ids)
        return result.rowcount


def claim(db: Database, ctx: AppContext, queue: Queue, now: datetime, limit: int, *where) -> Claim:
    """Claim up to `limit` due rows of `queue` (and `where`) under a fresh token and a lease:
    FOR UPDATE SKIP LOCKED, so concurrent claims on PostgreSQL take disjoint rows (SQLite's
    write lock serialises them)."""
    table = queue.table
    lease_until = now + timedelta(seconds=ctx.settings.outbox_lease_seconds)
    token = secrets.token_hex(16)
    with db.transaction() as session:
        conn = session.connection()
        rows = conn.execute(
            select(*queue.columns)
            .where(queue.status_column == "pending", table.c.next_attempt_at <= now, *where)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            conn.execute(
                update(table)
                .where(table.c.id.in_([r.id for r in rows]))
                .values(next_attempt_at=lease_until, claim_token=token)
            )
    return Claim(db, ctx, queue, token, rows, lease_until)


def _message(ctx: AppContext, row) -> Message:
    payload = json.loads(ctx.keys.decrypt(row.payload_enc, _aad(row.id)) or "{}")
    if "context" in payload:  # version 2: rendered now, by the deliverer
        context = payload["context"]
        context.setdefault("company", ctx.profile.company)
        if "right" not in context and context.get("type") is not None:
            context["right"] = _right(context["type"])
        rendered = render(row.template, row.locale, context)
        subject, text = rendered.subject, rendered.text
    else:  # version 1: rendered at filing (rows queued before rendering moved here)
        subject, text = payload["subject"], payload["text"]
    return Message(
        id=row.id,
        to=payload["to"],
        subject=subject,
        text=text,
        template=row.template,
        locale=row.locale,
        request_id=row.request_id,
    )


_LOST = object()  # the claim on a message ran out and another worker has it


def _send_one(ctx: AppContext, claim: Claim, out: Batch, row, rest: list[str]):
    """None once sent, the error's type name if sending failed, or _LOST."""
    try:
        message = _message(ctx, row)
        out.ready()  # connecting is not counted against this message's lease
    except Exception as exc:
        return type(exc).__name__
    claim.ensure_lease(rest)
    if row.id not in claim.held:
        return _LOST
    try:
        out.send(message)
    except Exception as exc:  # any failure is retried; its type is kept, never its message
        return type(exc).__name__
    return None


def _failure(ctx: AppContext, attempts: int, error: str) -> dict:
    """A failed attempt: retried after a backoff, or failed for good after the last one.
    (Successes are recorded by `Claim.record_sent`.)"""
    at = ctx.clock.now()
    if attempts >= ctx.settings.outbox_max_attempts:
        return {"state": "failed", "attempts": attempts, "last_error": error}
    return {"attempts": attempts, "last_error": error, "next_attempt_at": at + backoff(attempts)}


# Sent messages of an idempotent sender (files) are recorded in groups: one write transaction
# per message cost more than rendering and writing it (and on SQLite each took the write lock
# a filing waits for). A group is recorded after this many messages or this long after its
# first, whichever comes first, and always before the batch ends; a worker that dies in
# between writes that group again when the lease runs out, over the same files. Other senders
# (SMTP) record each message as soon as the relay has taken it.
_SENT_GROUP_SIZE = 32
_SENT_GROUP_SECONDS = 0.25


def deliver_due(
    db: Database,
    ctx: AppContext,
    sender: Sender,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Claim up to `limit` due messages (default RIGHTSDESK_OUTBOX_BATCH_SIZE), send them over
    one connection, record the outcomes under the claim (sent ones in groups); `stop()`
    hands back the rest. A database error propagates (the caller backs off): what was sent
    is recorded by then, except the message in hand, which its lease brings back."""
    now = now or ctx.clock.now()
    batch = claim(db, ctx, NOTICES, now, limit or ctx.settings.outbox_batch_size)
    report = DeliveryReport(claimed=len(batch.rows))
    if not batch.rows:
        return report
    ids = [row.id for row in batch.rows]
    # A sender for which a second delivery is harmless (the file sender overwrites its file)
    # has its successes recorded in groups; any other (SMTP: a second e-mail) one by one, so
    # a crash repeats at most the message in flight.
    group_size = _SENT_GROUP_SIZE if getattr(sender, "idempotent", False) else 1
    # Messages sent and not yet recorded: written as one group (see _SENT_GROUP_*).
    unrecorded: list[str] = []
    first_unrecorded_at = 0.0

    def record_unrecorded() -> None:
        recorded = batch.record_sent(unrecorded)
        report.sent += len(recorded)
        for mid in unrecorded:
            if mid not in recorded:
                report.lost += 1
                log.warning("the claim on %s ran out before its result was recorded", mid)
        unrecorded.clear()

    try:
        with open_batch(sender) as out:
            for i, row in enumerate(batch.rows):
                if stop is not None and stop():
                    record_unrecorded()
                    report.released += batch.release(ids[i:])
                    break
                # The lease covers what is sent but not yet recorded, too.
                error = _send_one(ctx, batch, out, row, unrecorded + ids[i:])
                if error is _LOST:
                    report.lost += 1
                    continue
                if error is None:
                    if not unrecorded:
                        first_unrecorded_at = time.monotonic()
                    unrecorded.append(row.id)
                    if (
                        len(unrecorded) >= group_size
                        or time.monotonic() - first_unrecorded_at >= _SENT_GROUP_SECONDS
                    ):
                        record_unrecorded()
                    continue
                values = _failure(ctx, row.attempts + 1, error)
                if not batch.record(row.id, values):
                    report.lost += 1
                    log.warning("the claim on %s ran out before its result was recorded", row.id)
                    continue
                report.errors.append(error)
                log.warning("delivery of %s (%s) failed: %s", row.id, row.template, error)
                if values.get("state") == "failed":
                    report.failed += 1
                else:
                    report.retried += 1
    finally:
        # Sent is sent: recorded even when the batch ends early (a database error after
        # this one still propagates, and the lease brings those messages back).
        if unrecorded:
            record_unrecorded()
    return report


def drain(
    db: Database,
    ctx: AppContext,
    sender: Sender,
    *,
    max_batches: int = 100,
    limit: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Deliver until nothing is due (bounded), or until `stop()`."""
    limit = limit or ctx.settings.outbox_batch_size
    total = DeliveryReport()
    for _ in range(max_batches):
        if stop is not None and stop():
            break
        report = deliver_due(db, ctx, sender, limit=limit, stop=stop)
        total.add(report)
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

"""Notices to subjects and staff: rows of `outbox_message`, queued in the business transaction
(`enqueue_notices`) and delivered after the commit by `rightsdesk worker` or the in-process
pump (`deliver_due`, `drain`, `OutboxPump`), under a claim (app/events/claims.py). Delivery is
at least once, never twice for a message whose sending was recorded; the Message-ID is the
outbox id, the same on every attempt."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session

from app.core.context import AppContext
from app.core.db import Database, after_commit
from app.core.ids import new_id
from app.events.claims import Claim, DeliveryReport, Queue, backoff, claim
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


_CLAIM_COLUMNS = (
    _outbox.c.id,
    _outbox.c.template,
    _outbox.c.locale,
    _outbox.c.request_id,
    _outbox.c.payload_enc,
    _outbox.c.attempts,
)


NOTICES = Queue(_outbox, "state", _CLAIM_COLUMNS)


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
        recorded = batch.record_sent(unrecorded, getattr(sender, "location", None))
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

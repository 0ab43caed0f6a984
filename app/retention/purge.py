"""The purge: a closed request's personal data is destroyed RIGHTSDESK_REQUEST_RETENTION_DAYS
after it closed (default 1095 days: three years, kept for disputes).

PIPA Art. 21(1): personal data is destroyed without delay once the purpose of processing is
achieved; Art. 21(3) and Decree 16: irrecoverably (erasure, or the document's own key erased
with its bytes). What goes: every `*_enc` column of the request (subject, requester, power of
attorney, corrections, details, external reference) and the e-mail blind indexes; documents
(bytes, key, file name); the access result; notice payloads; the free text of tasks,
decisions, extensions, objections, staff notes and holds; the timeline's free-text notes;
idempotency replies (they echo the filing); unused one-time codes. What stays: the id,
reference, type, status, channel, dates and categories (the statistics), the decision's
outcome and grounds, the timeline's rows and the tasks' shape, and the access record, which
is kept by its own rule (RIGHTSDESK_AUDIT_RETENTION_DAYS, at least two years, PIPC
safety-measures standard Art. 8). A request with an open hold (an investigation or a debt,
policy Art. 3) is not purged until the hold is released.

Each purged request gets one timeline event `purged` and with it one access-record entry
(action `purge`, counts only), in the transaction that destroys its data. Several purges (the
CLI and workers) may run at once: a batch locks its requests up front in one statement (the
lock order of requests/locks.py), skipping rows another purge holds, and each request is
re-checked under its lock, so none is purged twice.

No FastAPI or typer here: `rightsdesk purge` (cli_purge.py) and the worker call this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import delete, exists, func, or_, update
from sqlmodel import Session, select

from app.core.actors import SYSTEM
from app.core.context import AppContext
from app.core.db import Database, after_commit, locked, scrub
from app.models import (
    AccessResult,
    Decision,
    Extension,
    Hold,
    IdempotencyKey,
    Objection,
    OutboxMessage,
    Request,
    StaffNote,
    Task,
    TimelineEvent,
    VerificationCode,
)
from app.models import Document as DocumentRow
from app.notifications import senders
from app.requests import lifecycle
from app.retention import documents
from app.retention.plan import active_holds

# PIPC safety-measures standard Art. 8: the access record is kept at least two years.
MIN_AUDIT_RETENTION_DAYS = 730

# The request's own personal data: every encrypted column and the keyed blind indexes.
REQUEST_ERASED = tuple(
    c.name for c in Request.__table__.columns if c.name.endswith(("_enc", "_bidx"))
)

# Free text (possibly naming people) on the rows that hang off a request.
FREE_TEXT: tuple[tuple[str, type, tuple[str, ...]], ...] = (
    ("tasks", Task, ("note_enc", "data_enc", "waived_reason_enc")),
    ("decisions", Decision, ("explanation_enc",)),
    ("extensions", Extension, ("reason_enc",)),
    ("objections", Objection, ("reason_enc",)),
    ("notes", StaffNote, ("text_enc",)),
    ("holds", Hold, ("note_enc",)),
    # Written by the system today (a recomputed deadline), but the column takes any text.
    ("timeline_notes", TimelineEvent, ("note",)),
)

# Every table a purge writes personal data out of: scrubbed after each batch (core/db.scrub).
TOUCHED = tuple(
    m.__tablename__
    for m in (Request, DocumentRow, AccessResult, OutboxMessage, IdempotencyKey, VerificationCode)
) + tuple(model.__tablename__ for _, model, _ in FREE_TEXT)


@dataclass
class Purged:
    """What was destroyed for one request (counts only: this goes to the access record)."""

    documents: int = 0
    results: int = 0
    notices: int = 0
    tasks: int = 0
    decisions: int = 0
    extensions: int = 0
    objections: int = 0
    notes: int = 0
    holds: int = 0
    timeline_notes: int = 0
    idempotency_keys: int = 0
    codes: int = 0


@dataclass
class _Done:
    request_id: str
    status: str
    counts: Purged


@dataclass
class PurgeReport:
    """What a run did: requests purged and, summed, what was destroyed with them."""

    requests: int = 0
    batches: int = 0
    totals: Purged = field(default_factory=Purged)
    # Batches after which the storage kept old copies (core/db.scrub could not finish).
    unscrubbed: int = 0

    def add(self, one: Purged) -> None:
        self.requests += 1
        for name, n in asdict(one).items():
            setattr(self.totals, name, getattr(self.totals, name) + n)

    def as_dict(self) -> dict:
        return {
            "requests_purged": self.requests,
            "batches": self.batches,
            "unscrubbed_batches": self.unscrubbed,
            **asdict(self.totals),
        }


@dataclass
class Preview:
    """What a purge would destroy now (`rightsdesk purge --dry-run`)."""

    cutoff: datetime
    requests: int
    documents: int
    results: int
    notices: int
    oldest_closed_at: datetime | None
    held: int = 0  # past the retention period, but kept while a hold is open

    def as_dict(self) -> dict:
        return {
            "dry_run": True,
            "closed_before": self.cutoff.isoformat(),
            "requests": self.requests,
            "documents": self.documents,
            "results": self.results,
            "notices": self.notices,
            "held": self.held,
            "oldest_closed_at": self.oldest_closed_at.isoformat()
            if self.oldest_closed_at
            else None,
        }


def check_settings(ctx: AppContext) -> None:
    """The purge never runs beside an access record kept shorter than the standard allows
    (the settings refuse it already; this holds for a context built some other way)."""
    if ctx.settings.audit_retention_days < MIN_AUDIT_RETENTION_DAYS:
        raise ValueError(
            "RIGHTSDESK_AUDIT_RETENTION_DAYS must be at least 730 (the access record is kept "
            "two years, PIPC safety-measures standard Art. 8)"
        )


def cutoff(ctx: AppContext, now: datetime) -> datetime:
    """Requests closed before this are due."""
    return now - timedelta(days=ctx.settings.request_retention_days)


def _open_hold():
    """A hold not yet released on the request: an investigation or a debt (policy Art. 3)
    is exactly a reason the law lets the data be kept, so the purge waits for its release."""
    return exists().where(Hold.request_id == Request.id, Hold.released_at.is_(None))


def _closed_before(before: datetime):
    # The exact predicate of the partial index ix_request_unpurged_closed_at, so both
    # databases walk the index instead of the whole history.
    return (
        Request.closed_at.is_not(None),
        Request.purged_at.is_(None),
        Request.closed_at < before,
    )


def _due(before: datetime):
    return (*_closed_before(before), ~_open_hold())


def preview(session: Session, ctx: AppContext) -> Preview:
    """Count what a purge would destroy now; changes nothing."""
    before = cutoff(ctx, ctx.clock.now())
    due = select(Request.id).where(*_due(before)).subquery()
    requests, oldest = session.exec(
        select(func.count(), func.min(Request.closed_at)).where(*_due(before))
    ).one()
    docs = session.exec(
        select(func.count())
        .select_from(DocumentRow)
        .where(DocumentRow.request_id.in_(select(due.c.id)), DocumentRow.destroyed_at.is_(None))
    ).one()
    results = session.exec(
        select(func.count())
        .select_from(AccessResult)
        .where(AccessResult.request_id.in_(select(due.c.id)), AccessResult.content_enc.is_not(None))
    ).one()
    notices = session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.request_id.in_(select(due.c.id)),
            OutboxMessage.payload_enc.is_not(None),
        )
    ).one()
    held = session.exec(
        select(func.count()).select_from(Request).where(*_closed_before(before), _open_hold())
    ).one()
    return Preview(before, requests, docs, results, notices, oldest, held)


def _erase(session: Session, model: type, request_id: str, columns: tuple[str, ...]) -> int:
    """Null `columns` on the request's rows of `model` that hold any of them; how many rows."""
    t = model.__table__
    result = session.connection().execute(
        update(t)
        .where(t.c.request_id == request_id, or_(*(t.c[c].is_not(None) for c in columns)))
        .values({c: None for c in columns})
    )
    return result.rowcount


def purge_one(
    session: Session, ctx: AppContext, request_id: str, *, now: datetime, before: datetime
) -> Purged | None:
    """Destroy one request's personal data, under its row lock, and record it; None (nothing
    done) when it is not due: already purged by another run, reopened, or closed too recently."""
    done = _destroy(
        session, request_id, now=now, before=before, notify_dir=ctx.settings.resolved_notify_dir
    )
    if done is None:
        return None
    _record(session, ctx, done, now=now)
    return done.counts


def _destroy(
    session: Session,
    request_id: str,
    *,
    now: datetime,
    before: datetime,
    notify_dir: Path | None = None,
) -> _Done | None:
    request = locked(session, Request, request_id, missing="No such request.")
    # The guard against a double purge: re-checked under the lock, after any purge that got
    # there first has committed.
    if request.purged_at is not None or request.closed_at is None or request.closed_at >= before:
        return None
    # A hold set since the batch was chosen (holds are set under the request's lock).
    if active_holds(session, request_id):
        return None
    done = Purged()
    conn = session.connection()

    done.documents = documents.erase_all(session, request_id, now=now)
    r = AccessResult.__table__
    done.results = conn.execute(
        update(r)
        .where(r.c.request_id == request_id, r.c.content_enc.is_not(None))
        .values(content_enc=None, destroyed_at=func.coalesce(r.c.destroyed_at, now))
    ).rowcount
    o = OutboxMessage.__table__
    # A notice still waiting (or failed) would otherwise keep its text; it will never be sent.
    conn.execute(
        update(o)
        .where(o.c.request_id == request_id, o.c.state == "pending")
        .values(state="failed", last_error="purged", claim_token=None)
    )
    done.notices = _erase(session, OutboxMessage, request_id, ("payload_enc",))
    # The file sender's copies (in clear) go once this destruction has committed: from the
    # folder each was written to, or (sent before the folder was recorded, or not yet sent)
    # from today's.
    folders: dict[Path, list[str]] = {}
    rows = session.exec(
        select(OutboxMessage.id, OutboxMessage.delivered_to).where(
            OutboxMessage.request_id == request_id
        )
    )
    for message_id, delivered_to in rows:
        folder = Path(delivered_to) if delivered_to else notify_dir
        if folder is not None:
            folders.setdefault(folder, []).append(message_id)
    for folder, ids in folders.items():
        after_commit(session, partial(senders.remove_files, folder, ids))
    for name, model, columns in FREE_TEXT:
        setattr(done, name, _erase(session, model, request_id, columns))
    # Idempotency replies echo the filing (the external reference, the masked address); their
    # 24 hours ran out long ago, so the key is forgotten rather than kept without its answer.
    k = IdempotencyKey.__table__
    done.idempotency_keys = conn.execute(delete(k).where(k.c.request_id == request_id)).rowcount
    c = VerificationCode.__table__
    done.codes = conn.execute(
        update(c)
        .where(c.c.request_id == request_id, c.c.used_at.is_(None), c.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount

    for column in REQUEST_ERASED:
        setattr(request, column, None)
    request.purged_at = now
    request.updated_at = now
    request.version += 1  # a staff copy read before the purge is stale (412 on If-Match)
    session.add(request)
    session.flush()
    return _Done(request_id, request.status, done)


def _record(session: Session, ctx: AppContext, done: _Done, *, now: datetime) -> None:
    # One timeline event, and with it the one access-record entry (counts only); it keeps the
    # status (a purge is no transition).
    lifecycle.record(
        session,
        done.request_id,
        "purged",
        actor=SYSTEM,
        at=now,
        status=done.status,
        audit_action="purge",
        detail={"retention_days": ctx.settings.request_retention_days, **asdict(done.counts)},
    )


def purge_batch(
    session: Session, ctx: AppContext, *, now: datetime, before: datetime, limit: int
) -> tuple[int, list[Purged]]:
    """One batch in the caller's transaction: (how many were due, what each purge did).
    The batch's rows are locked up front in one statement, before the first append to the
    access record (requests/locks.py); rows another purge holds are skipped. Everything is
    destroyed before the first append, too: the document and result destroyers lock their
    rows and then the access record's head, so erasing their rows while holding the head
    could deadlock with them."""
    ids = list(
        session.exec(
            select(Request.id)
            .where(*_due(before))
            .order_by(Request.closed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    notify_dir = ctx.settings.resolved_notify_dir
    destroyed = [
        _destroy(session, request_id, now=now, before=before, notify_dir=notify_dir)
        for request_id in ids
    ]
    done = [d for d in destroyed if d is not None]
    for one in done:
        _record(session, ctx, one, now=now)
    return len(ids), [d.counts for d in done]


def purge(
    db: Database,
    ctx: AppContext,
    *,
    batch_size: int = 100,
    max_batches: int | None = None,
    on_batch: Callable[[int, int, PurgeReport], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> PurgeReport:
    """Purge every due request, `batch_size` per transaction (each batch commits on its
    own), until none is left, `max_batches` ran, or `stop()` says so. `on_batch(number,
    purged in it, report so far)` follows each committed batch."""
    check_settings(ctx)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = PurgeReport()
    while max_batches is None or report.batches < max_batches:
        if stop is not None and stop():
            break
        now = ctx.clock.now()
        with db.transaction() as session:
            seen, purged = purge_batch(
                session, ctx, now=now, before=cutoff(ctx, now), limit=batch_size
            )
        if not seen:
            break
        report.batches += 1
        for one in purged:
            report.add(one)
        # Art. 21(3): the erased values must not linger in the WAL or in dead tuples.
        if purged and not scrub(db, TOUCHED):
            report.unscrubbed += 1
        if on_batch is not None:
            on_batch(report.batches, len(purged), report)
        if seen < batch_size:
            break
    return report

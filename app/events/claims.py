"""The claim on an outbox table (notices, webhook deliveries): a batch of due rows taken under
one random token and a lease, every later write checked against the token, so a claim that
ran out and was taken over by another worker changes nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlmodel import Session

from app.core.context import AppContext
from app.core.db import Database, commit
from app.core.prepared import PreparedSession


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

    def record_sent(self, message_ids: list[str], delivered_to: str | None = None) -> set[str]:
        """Record a group of messages as sent, in one transaction: the ones still ours, with
        where the sender left a copy (`delivered_to`). Returns their ids; a message missing
        from it was taken over (lost)."""
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
                        delivered_to=delivered_to,
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

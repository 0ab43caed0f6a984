"""Row locks, taken in one global order so concurrent transactions never deadlock.

The order: request row(s) first, then the access record's head. Every append to the access
record locks the single `audit_head` row until commit (audit/service.py), so a transaction
that locks a request row after its first append would hold the head while waiting for the
request, and one that holds the request would wait for the head: a deadlock. So:

- lock the request row (`lock_request`) before anything that appends to the access record;
- a transaction that touches several requests locks all of them up front, in one statement,
  before its first append;
- the hourly filing count locks the addresses the filing names (`lock_filers`: one
  transaction-level advisory lock per blind index on PostgreSQL) before it counts, and before
  the reference counter and the head, which a filing takes last (requests/service.receive's
  second step; the group writer's batch appends its entries at commit).

On PostgreSQL these are SELECT … FOR UPDATE. SQLite has no row locks (the dialect drops
FOR UPDATE) and needs none: a write transaction starts with BEGIN IMMEDIATE and is alone
until it ends (core/db.py). Call these only in a write session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy import func as sql
from sqlmodel import Session

from app.core.db import locked
from app.core.errors import NotFound, Problem
from app.models import Request

T = TypeVar("T")


def lock_request(session: Session, request_id: str) -> Request:
    """The request, locked until commit and re-read: a copy loaded before the lock is
    refreshed in place, so checks see what the last committed writer left (and a later ORM
    update carries the current version). Lock before changing the request."""
    return locked(session, Request, request_id, missing="No such request.")


def lock_requests(session: Session, request_ids: list[str]) -> dict[str, Request]:
    """Several requests locked in one statement, in id order (two transactions locking the
    same pair never wait on each other crosswise), re-read; 404 when one is missing."""
    ids = sorted(set(request_ids))
    rows = session.scalars(
        select(Request)
        .where(Request.id.in_(ids))
        .order_by(Request.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    found = {r.id: r for r in rows}
    if len(found) != len(ids):
        raise NotFound("No such request.")
    return found


class FilerBusy(Exception):
    """A batch of filings met an address another transaction holds, while holding addresses of
    its own: waiting could deadlock, so the batch gives up and the group writer reruns its
    filings one by one (each then waits for its addresses, holding nothing else)."""


_LOCK = select(sql.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))
_TRY_LOCK = select(sql.pg_try_advisory_xact_lock(bindparam("key", type_=BigInteger)))
# The advisory-lock namespace of the filers' locks (64-bit keys; a collision between two
# addresses only makes their filings wait for each other).
_NAMESPACE = b"rightsdesk:filer:"


def _key(bidx: str) -> int:
    digest = hashlib.blake2b(_NAMESPACE + bidx.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_filers(
    session: Session, bidxs: list[str], then: Callable[[], T] | None = None
) -> T | None:
    """Lock the filing addresses `bidxs` (blind indexes) until commit: the hourly count per
    address runs under them. A transaction's first addresses are waited for, in key order; an
    address wanted later in the same transaction (the next filing of a group writer's batch)
    is only tried, since this transaction already holds addresses others may wait for:
    `FilerBusy` when another holds it. SQLite's write transaction is alone already.

    `then` (the statement the locks guard) runs once the locks are asked for; its result is
    returned (with FilerBusy, it is not used)."""
    guarded = then or (lambda: None)
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return guarded()
    transaction = session.get_transaction()
    held_by = session.info.get("filer_locks")
    if held_by is None or held_by[0] is not transaction:
        held_by = session.info["filer_locks"] = (transaction, set())
    held = held_by[1]
    wanted = sorted({_key(b) for b in bidxs} - held)
    if not wanted:
        return guarded()
    # In a group writer's batch the statements are pipelined (core/prepared.py): the locks
    # and `then`'s statement (the count they guard) travel in one round trip, and the
    # server runs them in order, so the count is taken once the locks are held.
    if not held:
        for key in wanted:
            conn.execute(_LOCK, {"key": key})
        tried = []
    else:
        tried = [conn.execute(_TRY_LOCK, {"key": key}) for key in wanted]
    result = guarded()
    if not all(answer.scalar_one() for answer in tried):
        raise FilerBusy
    held.update(wanted)
    return result


def check_version(request: Request, expected: int) -> None:
    """The If-Match check: 412 when the request changed since the caller read it."""
    if request.version != expected:
        raise Problem(
            412,
            "precondition-failed",
            f"The request is at version {request.version}, not {expected}: reload it.",
            version=request.version,
        )


def lock_checked(session: Session, request_id: str, version: int) -> Request:
    """Load, lock and check If-Match: the request, locked until commit, at `version`. The
    one lock order: the request row first, then (in lifecycle) the access record."""
    request = lock_request(session, request_id)
    check_version(request, version)
    return request


def get_request(session: Session, request_id: str) -> Request:
    """The request (unlocked), or 404."""
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    return request

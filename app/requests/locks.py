"""Row locks, taken in one global order so concurrent transactions never deadlock.

The order: request row(s) first, then the access record's head. Every append to the access
record locks the single `audit_head` row until commit (audit/service.py), so a transaction
that locks a request row after its first append would hold the head while waiting for the
request, and one that holds the request would wait for the head: a deadlock. So:

- lock the request row (`lock_request`) before anything that appends to the access record;
- a transaction that touches several requests locks all of them up front, in one statement,
  before its first append;
- the hourly filing count locks the head itself (`lock_access_record`) before it counts and
  before the reference counter; every filing appends anyway, so it waits nowhere new.

On PostgreSQL these are SELECT … FOR UPDATE. SQLite has no row locks (the dialect drops
FOR UPDATE) and needs none: a write transaction starts with BEGIN IMMEDIATE and is alone
until it ends (core/db.py). Call these only in a write session.
"""

from __future__ import annotations

from sqlmodel import Session, select

from app.audit import service as audit
from app.core.db import locked
from app.core.errors import NotFound, Problem
from app.models import Request


def lock_request(session: Session, request_id: str) -> Request:
    """The request, locked until commit and re-read: a copy loaded before the lock is
    refreshed in place, so checks see what the last committed writer left (and a later ORM
    update carries the current version). Lock before changing the request."""
    return locked(session, Request, request_id, missing="No such request.")


def lock_requests(session: Session, request_ids: list[str]) -> dict[str, Request]:
    """Several requests locked in one statement, in id order (two transactions locking the
    same pair never wait on each other crosswise), re-read; 404 when one is missing."""
    ids = sorted(set(request_ids))
    rows = session.exec(
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


def lock_access_record(session: Session) -> None:
    """Take the access record's head lock now rather than at the first append."""
    if session.connection().dialect.name == "sqlite":
        return  # already alone; spare the hottest path (filing) a statement
    audit.lock_head(session)


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

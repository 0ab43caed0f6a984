"""The CPO's queue: filtered, sorted by deadline, keyset-paginated (no OFFSET, so page 500 of a
million rows costs what page 1 does)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, or_, select, tuple_
from sqlmodel import Session

from app.core.context import AppContext
from app.core.errors import Problem
from app.models import Request
from app.requests.lifecycle import CLOSED, Status

REFERENCE = re.compile(r"^RD-\d{4}-\d{6}$")
OPEN_STATUSES = frozenset(s.value for s in Status if s not in CLOSED)

# What a queue entry shows (no personal data): the page reads these columns and no more, as
# plain rows (no ORM objects: building 50 of them cost more than the query). Table columns,
# not ORM attributes: a statement of ORM attributes goes through the ORM's compile and
# cache-key steps even on a Connection (about 0.2 ms a page).
_c = Request.__table__.c
QUEUE_COLUMNS = (
    _c.id,
    _c.reference,
    _c.type,
    _c.status,
    _c.channel,
    _c.received_at,
    _c.due_at,
    _c.assignee_id,
    _c.version,
)


@dataclass
class QueueFilter:
    status: list[str] | None = None
    type: list[str] | None = None
    assignee: str | None = None  # a user id, or "none"
    overdue: bool | None = None
    due_before: datetime | None = None
    q: str | None = None
    visible_to: str | None = None  # a handler: only requests assigned to them or to nobody


def encode_cursor(due_at: datetime, request_id: str) -> str:
    return base64.urlsafe_b64encode(f"{due_at.isoformat()}|{request_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        due, request_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(due), request_id
    except (ValueError, UnicodeDecodeError):
        raise Problem(
            422,
            "validation-error",
            "The cursor is not one this service gave out.",
            errors=[{"field": "cursor", "code": "invalid", "message": "bad cursor"}],
        ) from None


def search_kind(q: str) -> str:
    """What a `q` names, for the access record (never the value: an e-mail is personal data)."""
    q = q.strip()
    if REFERENCE.match(q.upper()):
        return "reference"
    return "id" if q.startswith("req_") else "email"


def page(
    session: Session, ctx: AppContext, f: QueueFilter, *, limit: int, cursor: str | None
) -> tuple[list[Row], str | None]:
    """One page of queue rows (QUEUE_COLUMNS) and the cursor of the next, if there is one."""
    query = select(*QUEUE_COLUMNS)
    if f.status:
        query = query.where(_c.status.in_(f.status))
    if f.type:
        query = query.where(_c.type.in_(f.type))
    if f.assignee == "none":
        query = query.where(_c.assignee_id.is_(None))
    elif f.assignee:
        query = query.where(_c.assignee_id == f.assignee)
    if f.visible_to:
        query = query.where(or_(_c.assignee_id.is_(None), _c.assignee_id == f.visible_to))
    now = ctx.clock.now()
    # closed_at is stamped exactly when a request closes, so "not closed" is `closed_at IS
    # NULL`, which the partial index of open requests serves.
    if f.overdue is True:
        query = query.where(_c.due_at < now, _c.closed_at.is_(None))
    elif f.overdue is False:
        query = query.where(or_(_c.due_at >= now, _c.closed_at.is_not(None)))
    if f.status and OPEN_STATUSES.issuperset(f.status):
        query = query.where(_c.closed_at.is_(None))
    if f.due_before:
        query = query.where(_c.due_at < f.due_before)
    if f.q:
        q = f.q.strip()
        if REFERENCE.match(q.upper()):
            query = query.where(_c.reference == q.upper())
        elif q.startswith("req_"):
            query = query.where(_c.id == q)
        elif "@" in q:
            # Exact match through the keyed blind index: no row is decrypted to search. While
            # the index moves to a new key (keys reindex), rows not yet moved carry the old one.
            digests = list(ctx.blind_index.email_candidates(q))
            query = query.where(
                or_(
                    Request.subject_email_bidx.in_(digests),
                    Request.requester_email_bidx.in_(digests),
                )
            )
        else:
            raise Problem(
                422,
                "validation-error",
                "q is a reference (RD-YYYY-NNNNNN), a request id or an exact e-mail address.",
                errors=[
                    {
                        "field": "q",
                        "code": "unsupported",
                        "message": "not a reference, id or e-mail",
                    }
                ],
            )
    if cursor:
        due, last_id = decode_cursor(cursor)
        # A row-value comparison: the (…, due_at, id) indexes seek straight to it.
        query = query.where(tuple_(_c.due_at, _c.id) > tuple_(due, last_id))
    # On the session's own connection and transaction, as Core: rows, not ORM instances.
    rows = session.connection().execute(query.order_by(_c.due_at, _c.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].due_at, rows[-1].id) if more and rows else None

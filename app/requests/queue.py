"""The CPO's queue: filtered, sorted by deadline, keyset-paginated (no OFFSET, so page 500 of a
million rows costs what page 1 does)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, or_, select, tuple_
from sqlmodel import Session

from app.accounts.service import find as find_user
from app.audit import service as audit
from app.core.context import AppContext
from app.core.errors import ValidationProblem
from app.core.paging import decode_cursor, encode_cursor
from app.core.paging import page as first_page
from app.models import Request
from app.requests.lifecycle import CLOSED, Status
from app.requests.views import queue_page_json

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
    _c.duplicate_of,
)
# The reference of the request a duplicate is linked to: a primary-key lookup per row of the
# page, through a left join (most rows have none).
_earlier = Request.__table__.alias("earlier")


@dataclass
class QueueFilter:
    status: list[str] | None = None
    type: list[str] | None = None
    assignee: str | None = None  # a user id, or "none"
    overdue: bool | None = None
    due_before: datetime | None = None
    q: str | None = None
    visible_to: str | None = None  # a handler: only requests assigned to them or to nobody


def make_filter(
    principal,
    *,
    status: list[str] | None = None,
    type: list[str] | None = None,
    overdue: bool | None = None,
    due_before: datetime | None = None,
    q: str | None = None,
) -> QueueFilter:
    """The queue's filter as the API and the console ask for it: the open work unless closed
    statuses are asked for (a search looks through them all), and a search by reference, id or
    e-mail follows the rule of who may see a person's requests (StaffPrincipal.may_see)."""
    if not status:
        status = None if q else sorted(OPEN_STATUSES)
    return QueueFilter(
        status=status,
        type=type or None,
        overdue=overdue,
        due_before=due_before,
        q=q,
        visible_to=principal.id if q and principal.role == "handler" else None,
    )


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
    query = select(
        *QUEUE_COLUMNS, _earlier.c.reference.label("duplicate_of_reference")
    ).select_from(Request.__table__.outerjoin(_earlier, _earlier.c.id == _c.duplicate_of))
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
            raise ValidationProblem(
                "q",
                "unsupported",
                "not a reference, id or e-mail",
                detail="q is a reference (RD-YYYY-NNNNNN), a request id or an exact e-mail address.",
            )
    if cursor:
        due, last_id = decode_cursor(cursor)
        # A row-value comparison: the (…, due_at, id) indexes seek straight to it.
        query = query.where(tuple_(_c.due_at, _c.id) > tuple_(due, last_id))
    # On the session's own connection and transaction, as Core: rows, not ORM instances.
    rows = session.connection().execute(query.order_by(_c.due_at, _c.id).limit(limit + 1)).all()
    rows, more = first_page(rows, limit)
    return rows, encode_cursor(rows[-1].due_at, rows[-1].id) if more and rows else None


def read_page(ctx, principal, f: QueueFilter, assignee, limit: int, cursor):
    """One read-only unit of work: resolve the assignee, read the page, build its body.
    Returns the body, the ids on the page and the moment the page was computed for."""
    rows, next_cursor, now = read_rows(ctx, principal, f, assignee, limit, cursor)
    return queue_page_json(rows, next_cursor, now), [r.id for r in rows], now


def read_rows(ctx, principal, f: QueueFilter, assignee, limit: int, cursor):
    """`read_page` before the JSON: the rows (QUEUE_COLUMNS), the next cursor, and the moment
    the page was computed for (the console renders the rows as HTML)."""
    with ctx.db.session(write=False) as session:
        if assignee == "me":
            f.assignee = principal.id
        elif assignee == "none":
            f.assignee = "none"
        elif assignee:
            user = find_user(session, assignee)
            f.assignee = user.id if user else "usr_unknown"
        rows, next_cursor = page(session, ctx, f, limit=limit, cursor=cursor)
    return rows, next_cursor, ctx.clock.now()


def record_search(ctx, principal, kind: str, found: list[str], now) -> None:
    """A search by personal data goes to the access record (who searched, how, what it found).
    The queue reads in a read-only transaction, so the entry is its own small unit of work."""
    with ctx.db.transaction() as session:
        audit.append(
            session,
            at=now,
            actor=principal.actor.label,
            action="search",
            request_id=found[0] if len(found) == 1 else None,
            ip=principal.ip,
            detail={"what": "queue", "by": kind, "found": found},
        )

"""Duplicates at filing: a later filing by the same subject (the e-mail's blind index) for the
same right while an earlier one is open is linked to it (`Request.duplicate_of`), never
refused. Staff then merge it or unlink it (workflow/duplicates.py).

Never for proxies: a filing by a legal representative or a delegate is linked to nothing, and
nothing is linked to one (the authority checked is the proxy's, for that request). Never
across types: each right is its own request under the law.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from app.core.actors import Actor
from app.core.context import AppContext
from app.models import Request
from app.requests import lifecycle
from app.requests.schemas import RequestFields

_c = Request.__table__.c


def _earliest_open(match) -> object:
    """The oldest open request of a subject and type filed by the subject themself, other than
    the one just filed: one seek of the partial index ix_request_open_subject_type."""
    return (
        select(_c.id, _c.reference)
        .where(
            match(_c.subject_email_bidx),
            _c.type == bindparam("type"),
            _c.closed_at.is_(None),
            _c.requester_kind == "self",
            _c.id != bindparam("id"),
        )
        .order_by(_c.created_at, _c.id)
        .limit(1)
    )


_EARLIEST = _earliest_open(lambda column: column == bindparam("bidx"))
# While the blind index moves to a new key, an earlier row may carry the previous key's digest.
_EARLIEST_ANY = _earliest_open(lambda column: column.in_(bindparam("bidx", expanding=True)))
_LINK = (
    update(Request.__table__).where(_c.id == bindparam("rid")).values(duplicate_of=bindparam("of"))
)


@dataclass(frozen=True)
class Earlier:
    """The open request a new filing duplicates."""

    id: str
    reference: str


def link_at_filing(
    session: Session,
    ctx: AppContext,
    data: RequestFields,
    request_id: str,
    *,
    actor: Actor,
    now: datetime,
) -> Earlier | None:
    """Link the request just filed (`request_id`, in this transaction) to the subject's oldest
    open request of the same type, if there is one: one indexed lookup on every filing by the
    subject themself; the link, its timeline event and access-record entry only when found.
    Returns the earlier request (its reference goes into the receipt notice), or None."""
    email = data.subject.email
    if email is None or data.proxy is not None:
        return None
    email = str(email)
    if ctx.blind_index.moving:
        query, bidx = _EARLIEST_ANY, list(ctx.blind_index.email_candidates(email))
    else:
        query, bidx = _EARLIEST, ctx.blind_index.email(email)
    conn = session.connection()
    row = conn.execute(query, {"bidx": bidx, "type": data.type.value, "id": request_id}).first()
    if row is None:
        return None
    # The new row is not yet in the session (a Core insert), so a Core update and no version
    # bump: the link is part of the filing, at version 1.
    conn.execute(_LINK, {"rid": request_id, "of": row.id})
    lifecycle.record(
        session,
        request_id,
        "duplicate.linked",
        actor=actor,
        at=now,
        status=lifecycle.INITIAL.value,
        detail={"duplicate_of": row.id},
    )
    return Earlier(row.id, row.reference)

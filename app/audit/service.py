"""Append to and verify the access record (접속기록).

Appends serialise on the single `audit_head` row: PostgreSQL locks it FOR UPDATE, SQLite's
write transactions are already exclusive (BEGIN IMMEDIATE). Either way two transactions can
never both extend the same head, so the chain does not fork.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session

from app.audit.chain import GENESIS, entry_hash
from app.models import AuditEntry, AuditHead

_entry = AuditEntry.__table__
_head = AuditHead.__table__

# Built once: constructing a statement costs more than running it on the hot path.
_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_INSERT_ENTRY = insert(_entry)
_MOVE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)
_PAGE = (
    select(_entry)
    .where(_entry.c.seq > bindparam("after"), _entry.c.seq <= bindparam("upto"))
    .order_by(_entry.c.seq)
    .limit(bindparam("size"))
)
_HIGHEST = select(func.max(_entry.c.seq))
_FIRST_AFTER = select(func.min(_entry.c.seq)).where(_entry.c.seq > bindparam("after"))


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head until commit (FOR UPDATE; SQLite's write transaction is already
    exclusive) and return its (seq, hash). Every append takes it; so may a caller that must
    serialise on the record before its first append (requests/locks.py)."""
    seq, prev = session.connection().execute(_READ_HEAD).one()
    return seq, prev


def append(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    request_id: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Add one entry in the caller's transaction; returns its sequence number."""
    seq, prev = lock_head(session)
    conn = session.connection()
    seq += 1
    detail = detail or {}
    digest = entry_hash(
        prev,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        request_id=request_id,
        ip=ip,
        detail=detail,
    )
    conn.execute(
        _INSERT_ENTRY,
        {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "request_id": request_id,
            "ip": ip,
            "detail": detail,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": digest})
    return seq


@dataclass
class ChainCheck:
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str | None = None


def verify(session: Session, batch: int = 1000) -> ChainCheck:
    """Walk the chain up to its head: a changed entry fails its own hash, a deleted one leaves
    a gap in `seq`, a reordered one fails the link to its predecessor, a cut tail disagrees
    with the head, an entry slipped in past the head is not covered by it.

    Correct under READ COMMITTED while others append, with no snapshot: appends serialise on
    the head row and commit entry and head together, so every entry up to the head read first
    is already visible, and each page is bounded by that head so later appends are left for
    the next check. Keyset pages keep memory constant however long the chain."""
    conn = session.connection()
    head_seq, head_hash = conn.execute(_HEAD).one()
    prev, checked, last = GENESIS, 0, 0
    while last < head_seq:
        rows = conn.execute(_PAGE, {"after": last, "upto": head_seq, "size": batch}).all()
        if not rows:
            break
        for row in rows:
            if row.seq != last + 1:
                return ChainCheck(False, checked, last + 1, "missing entry")
            if row.prev_hash != prev:
                return ChainCheck(False, checked, row.seq, "broken link")
            digest = entry_hash(
                prev,
                seq=row.seq,
                at=row.at,
                actor=row.actor,
                action=row.action,
                request_id=row.request_id,
                ip=row.ip,
                detail=row.detail,
            )
            if digest != row.hash:
                return ChainCheck(False, checked, row.seq, "content changed")
            prev, last, checked = row.hash, row.seq, checked + 1
    if last != head_seq or prev != head_hash:
        return ChainCheck(False, checked, last + 1, "entries missing at the end")
    # An entry seen before the head is re-read was committed with its own head move, so a
    # legitimate one is never past the head read after it.
    highest = conn.execute(_HIGHEST).scalar()
    now_seq = conn.execute(_HEAD).one().seq
    if highest is not None and highest > now_seq:
        first = conn.execute(_FIRST_AFTER, {"after": now_seq}).scalar()
        return ChainCheck(False, checked, first, "entries beyond the head")
    return ChainCheck(True, checked)

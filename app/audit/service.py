"""Append to and verify the access record (접속기록).

Appends serialise on the single `audit_head` row: PostgreSQL locks it FOR UPDATE, SQLite's
write transactions are already exclusive (BEGIN IMMEDIATE). Either way two transactions can
never both extend the same head, so the chain does not fork.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
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
    conn = session.connection()
    seq, prev = conn.execute(_READ_HEAD).one()
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
    """Walk the whole chain: a changed entry fails its own hash, a deleted one leaves a gap in
    `seq`, a reordered one fails the link to its predecessor, a cut tail disagrees with the head."""
    conn = session.connection()
    prev, expected_seq, checked, last = GENESIS, 1, 0, 0
    while True:
        rows = conn.execute(
            select(_entry).where(_entry.c.seq > last).order_by(_entry.c.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return ChainCheck(False, checked, expected_seq, "missing entry")
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
            prev, expected_seq, checked, last = row.hash, row.seq + 1, checked + 1, row.seq
    head_seq, head_hash = conn.execute(
        select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)
    ).one()
    if head_seq != last or head_hash != prev:
        return ChainCheck(False, checked, last + 1, "entries missing at the end")
    return ChainCheck(True, checked)

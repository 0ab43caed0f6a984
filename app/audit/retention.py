"""Trimming the access record (접속기록) after its retention.

The PIPC safety-measures standard (Art. 8) has the access record kept at least two years, so
RIGHTSDESK_AUDIT_RETENTION_DAYS is at least 730 (a lower value refuses to start). Past it, the
oldest entries may go — but only a contiguous prefix of the chain, so what is kept still
verifies: `audit_head.base_seq` / `base_hash` say where the chain now starts and the hash of
the last entry removed, which the first kept entry links to. Each batch is one short
transaction under the head lock (appends and other trims wait on it): delete the prefix,
move the base, and record the trim itself as an entry (`audit_trimmed`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, func, select, update

from app.audit import service as audit
from app.core.db import Database
from app.models import AuditEntry, AuditHead

_entry = AuditEntry.__table__
_head = AuditHead.__table__

_BOUNDS = select(_head.c.seq, _head.c.base_seq, _head.c.base_hash).where(_head.c.id == 1)
_WINDOW = (_entry.c.seq > bindparam("after"), _entry.c.seq <= bindparam("upto"))
# The first entry of a window still inside the retention period (bounded: a PK range scan).
_FIRST_KEPT = select(func.min(_entry.c.seq)).where(*_WINDOW, _entry.c.at >= bindparam("cutoff"))
_LINKS = (
    select(_entry.c.seq, _entry.c.prev_hash, _entry.c.hash).where(*_WINDOW).order_by(_entry.c.seq)
)
_DELETE = delete(_entry).where(*_WINDOW)
_MOVE_BASE = (
    update(_head)
    .where(_head.c.id == 1)
    .values(base_seq=bindparam("base_seq"), base_hash=bindparam("base_hash"))
)

BATCH = 10_000


class BrokenChain(Exception):
    """The entries to remove do not form an intact chain from the base: trimming them would
    destroy the evidence, so nothing is removed (run `rightsdesk audit verify`)."""


@dataclass
class TrimReport:
    removed: int = 0
    up_to: int | None = None  # seq of the last entry removed (the base now)
    cutoff: datetime | None = None
    batches: int = 0
    more: bool = False  # stopped at max_batches (or a stop request) with more to remove


def _prefix_end(conn: Connection, base: int, head: int, cutoff: datetime, size: int) -> int:
    """The last seq of the old prefix within the next window after `base`."""
    upto = min(base + size, head)
    first_kept = conn.execute(_FIRST_KEPT, {"after": base, "upto": upto, "cutoff": cutoff})
    kept = first_kept.scalar()
    return upto if kept is None else kept - 1


def trim(
    db: Database,
    now: datetime,
    retention_days: int,
    *,
    batch: int = BATCH,
    max_batches: int | None = None,
    dry_run: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> TrimReport:
    """Remove the entries older than `now - retention_days` that form the chain's start, in
    batches of one transaction each; `dry_run` counts them and changes nothing."""
    cutoff = now - timedelta(days=retention_days)
    report = TrimReport(cutoff=cutoff)
    if dry_run:
        with db.transaction(write=False) as session:
            conn = session.connection()
            head, base, _ = conn.execute(_BOUNDS).one()
            while base < head:
                end = _prefix_end(conn, base, head, cutoff, batch)
                if end <= base:
                    break
                report.removed += end - base
                report.up_to, base = end, end
        return report
    while max_batches is None or report.batches < max_batches:
        if stop():
            report.more = True
            break
        with db.transaction() as session:
            removed, end = _trim_batch(session, now, cutoff, batch)
        if not removed:
            break
        report.removed += removed
        report.up_to = end
        report.batches += 1
    else:
        report.more = True
    return report


def _trim_batch(session, now: datetime, cutoff: datetime, size: int) -> tuple[int, int]:
    # The head lock first: appends and other trims wait, so the base read below is the
    # current one and no other trim removes the same entries or moves the base under us.
    audit.lock_head(session)
    conn = session.connection()
    head, base, base_hash = conn.execute(_BOUNDS).one()
    end = _prefix_end(conn, base, head, cutoff, size)
    if end <= base:
        return 0, base
    window = {"after": base, "upto": end}
    # Links only (content is verify's work): removing a broken stretch would hide the break.
    prev, expected = base_hash, base + 1
    for seq, prev_hash, digest in conn.execute(_LINKS, window):
        if seq != expected or prev_hash != prev:
            raise BrokenChain(f"the access record is broken at entry {expected}")
        prev, expected = digest, seq + 1
    if expected != end + 1:
        raise BrokenChain(f"the access record is broken at entry {expected}")
    removed = conn.execute(_DELETE, window).rowcount
    conn.execute(_MOVE_BASE, {"base_seq": end, "base_hash": prev})
    audit.append(
        session,
        at=now,
        actor="system",
        action="audit_trimmed",
        detail={
            "removed": removed,
            "up_to_seq": end,
            "base_hash": prev,
            "cutoff": cutoff.isoformat(),
        },
    )
    return removed, end

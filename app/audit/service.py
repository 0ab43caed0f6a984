"""Append to and verify the access record (접속기록).

Appends serialise on the single `audit_head` row: PostgreSQL locks it FOR UPDATE, SQLite's
write transactions are already exclusive (BEGIN IMMEDIATE). Either way two transactions can
never both extend the same head, so the chain does not fork.

Every transaction appends its entries at its commit, all at once: the head is locked and
read, the entries are hashed in the order they were appended, inserted in one statement, and
the head moved, just before COMMIT (core/db.py `before_commit`). Same chain, same order within
the transaction, entries and head committed together; the head is held for three statements
and the commit instead of from the transaction's first entry to its end. (A group writer's
batch did so first. In a soak on PostgreSQL, a code verification took the head at its
transition and kept it through the rest of its work, and the verifications spent 56 % of
their time waiting for the head, the filing batches 38 %.) A caller that must read its own
entry before the commit appends `immediately` (the evidence pack's download).
"""

from __future__ import annotations

import hashlib
import json
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import JSON, Connection, TypeDecorator, bindparam, func, insert, select, update
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session

from app.audit.chain import HASHED_TEXT, canonical, entry_hash, hash_fields
from app.core import access_record
from app.core.db import before_commit
from app.core.paging import page
from app.models import AuditEntry, AuditHead

_entry = AuditEntry.__table__
_head = AuditHead.__table__

# Built once: constructing a statement costs more than running it on the hot path.
_READ_HEAD = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()


class _JSONText(TypeDecorator):
    """A JSON column written from text that already is JSON: `detail` is stored as the
    canonical text its hash covers, so the chain check hashes it without parsing it."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect):
        return None


_INSERT_ENTRY = insert(_entry).values(detail=bindparam("detail", type_=_JSONText()))
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
    immediately: bool = False,
) -> int:
    """Add one entry in the caller's transaction, chained at its commit; returns 0 (the
    number is known only then). `immediately`: chained now, with the entries this transaction
    appended before it, so it is readable at once; returns its sequence number."""
    detail_json = canonical(detail or {})  # stored as hashed (chain.py)
    entry = (at, actor, action, request_id, ip, detail_json)
    callbacks = session.info.get("before_commit") or ()
    pending = next((c for c in callbacks if isinstance(c, _Pending)), None)
    if not immediately:
        if pending is None:  # the transaction's first: its entries go in at its commit
            pending = _Pending(session)
            before_commit(session, pending)
        pending.append(entry)
        return 0
    # With the entries this transaction appended before it, so the chain keeps their order.
    earlier = list(pending or ())
    if pending:
        pending.clear()
    return _append_pending(session, [*earlier, entry])


class _Pending(list):
    """The entries a transaction appends at its commit, in the order it appended them; called
    just before the commit (core/db.py `before_commit`): they are chained after the head,
    locked and read now, in one INSERT, and the head is moved past them."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def __eq__(self, other: object) -> bool:  # `before_commit` compares by identity
        return self is other

    __hash__ = object.__hash__

    def __call__(self) -> None:
        if self:
            _append_pending(self.session, self)
        self.clear()


def _append_pending(session: Session, pending: list[tuple]) -> int:
    """Chain `pending` after the head (locked and read now); the last one's number."""
    seq, prev = lock_head(session)
    rows = []
    for at, actor, action, request_id, ip, detail_json in pending:
        seq += 1
        digest = hash_fields(prev, seq, at.isoformat(), actor, action, request_id, ip, detail_json)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action,
                "request_id": request_id,
                "ip": ip,
                "detail": detail_json,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn = session.connection()
    conn.execute(_INSERT_ENTRY, rows)
    conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev})
    return seq


access_record.plug(append)  # core/ appends (a refused rate limit) through this


def entries(
    session: Session,
    *,
    request_id: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    after: int | None,
    limit: int,
) -> tuple[list[AuditEntry], bool]:
    """One page of entries in order (by sequence number), filtered; and whether more follow."""
    query = select(AuditEntry)
    if request_id:
        query = query.where(AuditEntry.request_id == request_id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    if after is not None:
        query = query.where(AuditEntry.seq > after)
    return page(list(session.scalars(query.order_by(AuditEntry.seq).limit(limit + 1))), limit)


@dataclass
class ChainCheck:
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str | None = None


# Called after each page with (entries checked so far, entries the check will cover).
Progress = Callable[[int, int], None]

_BOUNDS = select(_head.c.seq, _head.c.hash, _head.c.base_seq, _head.c.base_hash).where(
    _head.c.id == 1
)
_BASE = select(_head.c.base_seq, _head.c.base_hash).where(_head.c.id == 1)
_ONE = select(_entry).where(_entry.c.seq == bindparam("seq"))

# The check reads through the driver (no SQLAlchemy result processing: most of its time in
# the first version), with `at` already as `isoformat()` text and `detail` as stored text.
# SQLite keeps `at` as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); any other shape gives NULL and the
# entry is checked the slow way, through the column types.
_SQLITE_AT = (
    "CASE WHEN at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] "
    "[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]' "
    "THEN substr(at, 1, 10) || 'T' || substr(at, 12, 8) "
    "|| CASE substr(at, 21) WHEN '000000' THEN '' ELSE substr(at, 20) END || '+00:00' END"
)
_PG_AT = (
    "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    "|| CASE WHEN date_trunc('second', at) = at THEN '' "
    "ELSE to_char(at AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)
_STREAM = (
    "SELECT seq, {at}, actor, action, request_id, ip, {detail}, prev_hash, hash "
    "FROM audit_entry WHERE seq > {p} AND seq <= {p} ORDER BY seq"
)
_SQLITE_STREAM = _STREAM.format(at=_SQLITE_AT, detail="detail", p="?")
_PG_STREAM = _STREAM.format(at=_PG_AT, detail="detail::text", p="%s")


@contextmanager
def _stream(conn: Connection, after: int, upto: int, size: int) -> Iterator[Iterator[list]]:
    """Pages of entries after..upto in `seq` order from one statement (one snapshot): a
    server-side cursor on PostgreSQL, SQLite's own stepping cursor. A thread fetches the next
    page while the caller hashes this one (the driver releases the GIL while the database
    works); at most three pages are in memory."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # A named cursor lives in the caller's transaction; other statements may interleave.
        cursor = raw.cursor(name=f"audit_verify_{secrets.token_hex(6)}", binary=True)
        cursor.execute(_PG_STREAM, (after, upto))
    else:
        cursor = raw.cursor()
        cursor.execute(_SQLITE_STREAM, (after, upto))
    pages: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                rows = cursor.fetchmany(size)
                pages.put(rows)
                if not rows:
                    return
        except BaseException as exc:  # handed to the caller, raised there
            pages.put(exc)

    def read() -> Iterator[list]:
        while True:
            rows = pages.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield rows

    fetcher = threading.Thread(target=fetch, name="audit-verify-fetch", daemon=True)
    fetcher.start()
    try:
        yield read()
    finally:
        stop.set()
        while fetcher.is_alive():  # unblock a fetcher waiting to hand over a page
            try:
                pages.get(timeout=0.05)
            except queue.Empty:
                pass
        cursor.close()


def _checks_out(conn: Connection, row: tuple, prev: str) -> bool:
    """An entry whose stored text did not hash right at once: one written before `detail` was
    stored canonical (its JSON is parsed and re-dumped), or, failing that, the definition on
    the row as the column types read it (an `at` stored in another shape). False if changed."""
    seq, at_iso, actor, action, request_id, ip, detail, _, digest = row
    if at_iso is not None:
        try:
            text = canonical(json.loads(detail))
            if hash_fields(prev, seq, at_iso, actor, action, request_id, ip, text) == digest:
                return True
        except (TypeError, ValueError):
            pass
    try:
        entry = conn.execute(_ONE, {"seq": seq}).one()
        return digest == entry_hash(
            prev,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            request_id=entry.request_id,
            ip=entry.ip,
            detail=entry.detail,
        )
    except (TypeError, ValueError, AttributeError, NoResultFound):
        return False


def verify(session: Session, batch: int = 2000, progress: Progress | None = None) -> ChainCheck:
    """Walk the chain from its base (where a trim left it; GENESIS before any) up to its head:
    a changed entry fails its own hash, a deleted one leaves a gap in `seq` (also at the
    start: the first entry kept must follow the base), a reordered one fails the link to its
    predecessor, a cut tail disagrees with the head, an entry slipped in past the head is
    not covered by it.

    Correct under READ COMMITTED while others append, with no snapshot: appends serialise on
    the head row and commit entry and head together, so every entry up to the head read first
    is already visible, and the walk is bounded by that head so later appends are left for
    the next check. A trim committed after the base was read shows as a gap at the start;
    the base is read again then, and the walk goes on from it. One streaming statement, one
    page in memory at a time, however long the chain."""
    conn = session.connection()
    head_seq, head_hash, base_seq, base_hash = conn.execute(_BOUNDS).one()
    prev, last, checked = base_hash, base_seq, 0
    total = max(head_seq - base_seq, 0)
    sha, enc, text = hashlib.sha256, encode_basestring, HASHED_TEXT
    with _stream(conn, base_seq, head_seq, batch) as pages:
        for rows in pages:
            for row in rows:
                seq, at_iso, actor, action, request_id, ip, detail, prev_hash, digest = row
                if seq != last + 1:
                    if seq <= last:  # removed by a trim since the base was read again
                        continue
                    moved_seq, moved_hash = conn.execute(_BASE).one()
                    if moved_seq > last:  # a trim committed since: the chain starts later
                        last, prev = moved_seq, moved_hash
                        if seq <= last:
                            continue
                    if seq != last + 1:
                        return ChainCheck(False, checked, last + 1, "missing entry")
                if prev_hash != prev:
                    return ChainCheck(False, checked, seq, "broken link")
                try:  # the entry's own text as stored: `detail` canonical, `at` isoformat
                    fields = (
                        prev,
                        enc(action),
                        enc(actor),
                        at_iso,
                        detail,
                        "null" if ip is None else enc(ip),
                        "null" if request_id is None else enc(request_id),
                        seq,
                    )
                    own = sha((text % fields).encode()).hexdigest()
                except (TypeError, ValueError):  # a value of the wrong type: the slow way
                    own = None
                if (own != digest or at_iso is None) and not _checks_out(conn, row, prev):
                    return ChainCheck(False, checked, seq, "content changed")
                prev, last, checked = digest, seq, checked + 1
            if progress is not None:
                progress(checked, total)
    if last < head_seq:
        moved_seq, moved_hash = conn.execute(_BASE).one()
        if moved_seq >= head_seq:  # all that was left to check has been trimmed since
            last, prev = head_seq, moved_hash if moved_seq == head_seq else head_hash
        elif moved_seq > last:
            last, prev = moved_seq, moved_hash
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

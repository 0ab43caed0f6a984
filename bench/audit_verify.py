"""Benchmark: checking the access record's hash chain (`rightsdesk audit verify`).

Not a test (not collected by pytest, not run in CI). It fills an empty, migrated database with
N chained entries (default 200,000), then times, in alternating rounds:

- **verify**: `app.audit.service.verify`, the whole check (one streaming statement through the
  driver bounded by the head, each entry rehashed and linked);
- **scan**: the same statement through the same cursor, rows thrown away, no hashing: the
  floor any check that reads every entry must pay;
- **before** (`--before`): the first version of the check (`check_v1`), for the speed-up.

Entries are written as `append` writes them (`detail` as canonical text), or with `--legacy`
as they were stored before the hashed text column.

It prints the median of each, entries/s, the ratio verify / scan, and the peak of Python
allocations during one more (untimed) check, which must not grow with N: the check holds one
page at a time.

    .venv/bin/python bench/audit_verify.py                       # a temporary SQLite file
    .venv/bin/python bench/audit_verify.py --entries 1000000
    .venv/bin/python bench/audit_verify.py --database-url postgresql+psycopg://…/scratch

A PostgreSQL database is migrated to head and must hold no access record yet (the benchmark
refuses otherwise); it is emptied again at the end. Exit status 1 when the check fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from app.audit import service
from app.audit.chain import GENESIS, canonical, entry_hash
from app.core.db import Database
from app.core.migrations import upgrade
from app.models import AuditEntry, AuditHead

_entry, _head = AuditEntry.__table__, AuditHead.__table__
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def fill(db: Database, n: int, legacy: bool = False, chunk: int = 10_000) -> None:
    """N chained entries as `append` writes them (`detail` stored as its canonical text), or as
    entries written before that change were stored (`legacy`: `detail` dumped by the JSON
    column type, so the check parses and re-dumps it)."""
    prev, seq = GENESIS, 0
    insert = _entry.insert() if legacy else service._INSERT_ENTRY
    with db.transaction() as session:
        conn = session.connection()
        while seq < n:
            rows = []
            for _ in range(min(chunk, n - seq)):
                seq += 1
                fields = dict(
                    seq=seq,
                    at=T0 + timedelta(milliseconds=seq),
                    actor=f"staff:usr_{seq % 17:026d}",
                    action="view",
                    request_id=f"req_{seq % 5000:026d}",
                    ip="203.0.113.7",
                    detail={"what": "request", "fields": ["name", "email", "phone"]},
                )
                digest = entry_hash(prev, **fields)
                stored = fields["detail"] if legacy else canonical(fields["detail"])
                rows.append({**fields, "detail": stored, "prev_hash": prev, "hash": digest})
                prev = digest
            conn.execute(insert, rows)
        conn.execute(update(_head).where(_head.c.id == 1).values(seq=seq, hash=prev))


def scan(db: Database, batch: int) -> int:
    """The floor: the check's own statement and cursor, every page fetched, nothing hashed."""
    with db.transaction(write=False) as session:
        conn = session.connection()
        head = conn.execute(service._HEAD).one().seq
        count = 0
        with service._stream(conn, 0, head, batch) as pages:
            for rows in pages:
                count += len(rows)
        return count


def check(db: Database, batch: int) -> service.ChainCheck:
    with db.transaction(write=False) as session:
        return service.verify(session, batch=batch)


def check_v1(db: Database, batch: int = 1000) -> bool:
    """The first version of the check (before the hashed text column), kept here as the "before" figure:
    SQLAlchemy keyset pages of 1,000, each row's `at` and `detail` through the column types,
    `entry_hash` (json.dumps of a dict) per entry."""
    with db.transaction(write=False) as session:
        conn = session.connection()
        head_seq, head_hash = conn.execute(service._HEAD).one()
        prev, last = GENESIS, 0
        while last < head_seq:
            rows = conn.execute(
                service._PAGE, {"after": last, "upto": head_seq, "size": batch}
            ).all()
            if not rows:
                break
            for row in rows:
                if row.seq != last + 1 or row.prev_hash != prev:
                    return False
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
                    return False
                prev, last = row.hash, row.seq
        return last == head_seq and prev == head_hash


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2000, help="page size of the check")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--legacy", action="store_true", help="entries stored as before (JSON column)"
    )
    parser.add_argument(
        "--before", action="store_true", help="also time the first version of the check"
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="rightsdesk-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'audit.db'}"
    upgrade(url)
    db = Database(url)
    try:
        with db.transaction(write=False) as session:
            existing = session.connection().execute(select(func.count()).select_from(_entry))
            if existing.scalar_one():
                print("refusing: the database already holds an access record", file=sys.stderr)
                return 2
        started = time.perf_counter()
        fill(db, args.entries, legacy=args.legacy)
        print(
            f"{db.engine.dialect.name}: {args.entries:,} {'legacy ' if args.legacy else ''}"
            f"entries written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        timings: dict[str, list[float]] = {"verify": [], "scan": []}
        if args.before:
            timings["before"] = []
        ok = True
        for r in range(args.rounds):
            order = ["verify", "scan"] if r % 2 == 0 else ["scan", "verify"]
            if args.before:
                order.insert(r % 3, "before")
            for name in order:
                started = time.perf_counter()
                if name == "verify":
                    result = check(db, args.batch)
                    ok = ok and result.ok and result.checked == args.entries
                elif name == "before":
                    ok = ok and check_v1(db)
                else:
                    assert scan(db, args.batch) == args.entries
                timings[name].append(time.perf_counter() - started)
        tracemalloc.start()
        check(db, args.batch)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        v, s = statistics.median(timings["verify"]), statistics.median(timings["scan"])
        print(
            f"verify: {v:.2f} s ({args.entries / v:,.0f} entries/s)  rounds "
            + " ".join(f"{t:.2f}" for t in timings["verify"])
        )
        print(
            f"scan:   {s:.2f} s ({args.entries / s:,.0f} entries/s)  rounds "
            + " ".join(f"{t:.2f}" for t in timings["scan"])
        )
        print(f"ratio verify/scan: {v / s:.2f}")
        if args.before:
            b = statistics.median(timings["before"])
            print(
                f"before: {b:.2f} s ({args.entries / b:,.0f} entries/s)  rounds "
                + " ".join(f"{t:.2f}" for t in timings["before"])
            )
            print(f"speed-up verify vs before: {b / v:.2f}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"peak allocations during a check: {peak / 1024 / 1024:.1f} MiB")
        print(f"chain ok: {ok}")
        return 0 if ok else 1
    finally:
        with db.transaction() as session:
            session.connection().execute(_entry.delete())
            session.connection().execute(
                update(_head).where(_head.c.id == 1).values(seq=0, hash=GENESIS)
            )
        db.dispose()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: checking the access record's hash chain (`rightsdesk audit verify`).

Not a test (not collected by pytest, not run in CI). It fills an empty, migrated database with
N chained entries (default 200,000), then times, in alternating rounds:

- **verify**: `app.audit.service.verify`, the whole check (keyset pages bounded by the head,
  each entry rehashed and linked);
- **scan**: the same keyset pages read and thrown away, no hashing: the floor any check that
  reads every entry must pay.

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
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

# This folder's queue.py would shadow the standard library's (which psycopg imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import func, select, update  # noqa: E402

from app.audit import service  # noqa: E402
from app.audit.chain import GENESIS, entry_hash  # noqa: E402
from app.core.db import Database  # noqa: E402
from app.core.migrations import upgrade  # noqa: E402
from app.models import AuditEntry, AuditHead  # noqa: E402

_entry, _head = AuditEntry.__table__, AuditHead.__table__
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def fill(db: Database, n: int, chunk: int = 10_000) -> None:
    prev, seq = GENESIS, 0
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
                rows.append({**fields, "prev_hash": prev, "hash": digest})
                prev = digest
            conn.execute(_entry.insert(), rows)
        conn.execute(update(_head).where(_head.c.id == 1).values(seq=seq, hash=prev))


def scan(db: Database, batch: int) -> int:
    with db.transaction(write=False) as session:
        conn = session.connection()
        head = conn.execute(service._HEAD).one().seq
        last, count = 0, 0
        while last < head:
            rows = conn.execute(service._PAGE, {"after": last, "upto": head, "size": batch}).all()
            if not rows:
                break
            count += len(rows)
            last = rows[-1].seq
        return count


def check(db: Database, batch: int) -> service.ChainCheck:
    with db.transaction(write=False) as session:
        return service.verify(session, batch=batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000, help="page size of the check")
    parser.add_argument("--rounds", type=int, default=3)
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
        fill(db, args.entries)
        print(
            f"{db.engine.dialect.name}: {args.entries:,} entries written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        timings: dict[str, list[float]] = {"verify": [], "scan": []}
        ok = True
        for r in range(args.rounds):
            order = ("verify", "scan") if r % 2 == 0 else ("scan", "verify")
            for name in order:
                started = time.perf_counter()
                if name == "verify":
                    result = check(db, args.batch)
                    ok = ok and result.ok and result.checked == args.entries
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

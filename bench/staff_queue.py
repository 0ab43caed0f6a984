#!/usr/bin/env python3
"""Benchmark of the staff queue, GET /v1/staff/requests, on a million requests (a benchmark, not
a test: not collected by pytest, not run in CI).

For each database (SQLite, PostgreSQL) it builds a fresh schema with the real migrations, seeds
N rows into `request` with the raw driver (sqlite3 `executemany`, psycopg `COPY`), runs ANALYZE,
then times the real query code, `app.requests.queue.page()`, through a real `AppContext`, for
one case per filter of the endpoint, and prints the query plan of the SQL that `page()`
actually sent (captured with SQLAlchemy's `before_cursor_execute`): EXPLAIN QUERY PLAN on SQLite,
EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL (plus, when it differs, the generic plan the server
would settle on were the statement prepared). Full table scans, sorts for ORDER BY and index
walks that check the WHERE row by row are flagged; the matching row count is printed too.
Three extra cases show how the cost moves with the cursor (mid-table, page 50, page 20).

SQLite is measured twice: without planner statistics (a file nothing has analysed yet: the
service itself runs ANALYZE at `serve` and `migrate` and hourly, so this is the worst case,
not how it runs) and after ANALYZE (as the service runs). Then, unless --no-what-if, a "what
if" phase times the shapes that were slow before the queue fix as raw SQL (no ORM) three
ways: the old WHERE (an OR for the cursor, `status NOT IN (closed)` for overdue: what page()
sent before the fix, not what it sends now); the same with candidate indexes added (the
schema has their equivalents since the fix, so this mostly shows the duplicates cost nothing);
and page()'s current WHERE (row-value cursor, `closed_at IS NULL`) with those indexes. The
candidate indexes are dropped again; nothing outside the benchmark database changes.

Then, unless --no-http, an HTTP phase: a real `rightsdesk serve` (--workers 1 on SQLite, 4 on
PostgreSQL) on the benchmark database answers GET /v1/staff/requests?limit=50 to a CPO token
(an account made by `rightsdesk create-user`, logged in at /v1/auth/token), and in the same
run a bare FastAPI app (`page_app` below, same uvicorn settings and workers)
answers the same 50-item page from memory through the same response model. wrk (bench/get.lua)
drives each in turn at 1 and 32 connections, alternating for a few rounds; it prints req/s,
p50/p99, CPU ms per request (the server's process group, from /proc) and the ratio service /
bare per connection count. With --reuse the databases a --keep run left are used again.

    .venv/bin/python bench/staff_queue.py                                # 1,000,000 rows, both databases
    .venv/bin/python bench/staff_queue.py --rows 100000 --db sqlite
    .venv/bin/python bench/staff_queue.py --layout uniform --json /tmp/queue.json
    .venv/bin/python bench/staff_queue.py --db sqlite --keep             # build once, keep
    .venv/bin/python bench/staff_queue.py --db sqlite --reuse --no-query # HTTP phase only

Data (`--layout recent`, the default): received_at uniform over 3 years from 2024-01-01,
due_at from the real statutory-deadline code (end of the Seoul day, so ~1,300 requests share
each due_at), 4 % extended by 10 days; types access 50 % / deletion 25 % / correction 10 % /
suspension 15 %; requests received in the last 60 days are 80 % still open (pending
verification, open, in progress, fulfilling) and older ones 0.3 % (forgotten, hence overdue),
so ~5 % are open overall and they sit at the end of the due_at order, as in a real queue.
`--layout uniform` draws the status independently of time (95 % closed everywhere). 2 % of the
rows are assigned to one of 20 staff users; ~600k distinct subject e-mails (blind-indexed with
the same key the context gets); 3 % proxies with one of 2,000 delegate e-mails; references
RD-YYYY-NNNNNN numbered per (Seoul) year in order of receipt.

Bounded: one process, only 127.0.0.1; a PostgreSQL statement timeout; a time budget per case;
the PostgreSQL database `rightsdesk_bench_queue` is dropped and recreated at the start and
dropped at the end (and the SQLite file under var/bench-queue/ deleted) unless --keep, on
Ctrl-C and SIGTERM too.

The server helpers (start, wait, /proc CPU, wrk) are bench/_common.py's, shared with intake.py.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import os
import random
import re
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    BENCH_DIR,
    ROOT,
    Fatal,
    clean_up,
    cpu_seconds,
    find_rightsdesk,
    find_wrk,
    http,
    machine,
    machine_line,
    run_folder,
    run_wrk,
    service_env,
    start_bare,
    start_service,
    wait_http,
)

VAR_DIR = ROOT / "var" / "bench-queue"  # the SQLite files: queue-N.db (N rows), its picks

PG_HOST = "127.0.0.1"  # the only host this benchmark ever connects to
PG_DB = "rightsdesk_bench_queue"  # the default of --pg-db
PG_STATEMENT_TIMEOUT_MS = 120_000
PG_REFUSED = re.compile(r"^(postgres|template\d|test(_\w+)?)$")  # never dropped by this script


def pg_url(db: str) -> str:
    return (
        f"postgresql+psycopg://postgres@{PG_HOST}:5432/{db}"
        f"?options=-c%20statement_timeout%3D{PG_STATEMENT_TIMEOUT_MS}"
    )


BLIND_INDEX_KEY = "bench-queue-blind-index-key-" + "b" * 20
ENCRYPTION_KEYS = "k:" + base64.urlsafe_b64encode(bytes(range(32))).decode()

START = datetime(2024, 1, 1)  # naive UTC inside the generator
SPAN = timedelta(days=3 * 365)
MID = START + SPAN / 2  # the frozen clock for the overdue case
RECENT = timedelta(days=60)
LIMIT = 50
SLOW_MS = 20.0
BATCH = 10_000
PROGRESS_EVERY = 100_000

TYPES = [("access", 50), ("deletion", 25), ("correction", 10), ("suspension", 15)]
CLOSED_STATUSES = [("completed", 79), ("refused", 6), ("rejected", 5), ("withdrawn", 5)]
OPEN_STATUSES = [
    ("pending_verification", 1.5),
    ("open", 1.5),
    ("in_progress", 1.5),
    ("fulfilling", 0.5),
]
CHANNELS = [("portal", 85), ("email", 8), ("letter", 4), ("phone", 3)]
DOMAINS = ["naver.com", "gmail.com", "daum.net", "kakao.com", "example.co.kr", "hanmail.net"]
STAFF_USERS = 20
ASSIGNED_SHARE = 0.02
PROXY_SHARE = 0.03
EXTENDED_SHARE = 0.04
DELEGATES = 2_000

# Dummy ciphertexts of about the real length (the queue never decrypts; row width matters).
NAME_ENC = "v1.k." + "x" * 52
EMAIL_ENC = "v1.k." + "x" * 70
PHONE_ENC = "v1.k." + "x" * 44
CATEGORIES = '["account"]'

COLUMNS = (
    "id",
    "reference",
    "type",
    "status",
    "channel",
    "locale",
    "subject_name_enc",
    "subject_email_enc",
    "subject_email_bidx",
    "subject_phone_enc",
    "requester_kind",
    "requester_name_enc",
    "requester_email_enc",
    "requester_email_bidx",
    "categories",
    "received_at",
    "due_at",
    "statutory_due_at",
    "assignee_id",
    "verified_at",
    "closed_at",
    "created_at",
    "updated_at",
    "version",
)
STAFF_COLUMNS = (
    "id",
    "email",
    "role",
    "password_hash",
    "active",
    "failed_logins",
    "created_at",
)

_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)


# --- data ---------------------------------------------------------------------------------


def _ulid(prefix: str, at: datetime, rnd: int) -> str:
    """The app's id layout (app.core.ids.new_id) for a given moment."""
    ms = int((at - datetime(1970, 1, 1)).total_seconds() * 1000)
    value = (ms << 80) | rnd
    encoded = base64.b32encode((value << 6).to_bytes(17, "big"))[:26]
    return f"{prefix}_{encoded.translate(_TO_CROCKFORD).decode()}"


class Picker:
    """Weighted choice with one random() and a bisect (random.choices is slow per call)."""

    def __init__(self, rng: random.Random, weights: list[tuple[str, float]]) -> None:
        self.rng = rng
        self.values = [v for v, _ in weights]
        total = sum(w for _, w in weights)
        acc, self.cum = 0.0, []
        for _, w in weights:
            acc += w / total
            self.cum.append(acc)

    def __call__(self) -> str:
        return self.values[min(bisect.bisect(self.cum, self.rng.random()), len(self.values) - 1)]


@dataclass
class Picks:
    """Values the cases look for, taken from the seeded rows."""

    staff_ids: list[str] = field(default_factory=list)
    reference: str = ""
    email: str = ""
    email_rows: int = 0


def staff_rows(dt_suffix: str, active: object) -> tuple[list[tuple], list[str]]:
    rng = random.Random(7)
    rows, ids = [], []
    for i in range(STAFF_USERS):
        created = START - timedelta(days=30 - i)
        sid = _ulid("usr", created, rng.getrandbits(80))
        ids.append(sid)
        role = "cpo" if i == 0 else "handler"
        at = created.isoformat(" ", "microseconds") + dt_suffix
        rows.append((sid, f"staff{i:02d}@bench.example", role, "x", active, 0, at))
    return rows, ids


def generate(n: int, layout: str, seed: int, staff_ids: list[str], dt_suffix: str, picks: Picks):
    """Yield lists of row tuples (COLUMNS order), in order of receipt, BATCH rows at a time."""
    from app.core.crypto import BlindIndex
    from app.law.deadlines import SEOUL, end_of_day, statutory_due_date

    rng = random.Random(seed)
    blind = BlindIndex(BLIND_INDEX_KEY)
    pick_type = Picker(rng, TYPES)
    pick_closed = Picker(rng, CLOSED_STATUSES)
    pick_open = Picker(rng, OPEN_STATUSES)
    pick_channel = Picker(rng, CHANNELS)
    uniform_status = Picker(rng, CLOSED_STATUSES + OPEN_STATUSES)
    span_s = SPAN.total_seconds()
    offsets = sorted(rng.random() * span_s for _ in range(n))
    recent_from = START + SPAN - RECENT
    n_subjects = max(1, int(n * 0.6))
    counters: dict[int, int] = {}
    due_cache: dict = {}
    email_pick_at, ref_pick_at = n // 2, (2 * n) // 3
    email_counts: dict[str, int] = {}

    def fmt(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat(" ", "microseconds") + dt_suffix

    def due_for(received: datetime) -> tuple[datetime, datetime]:
        local_day = (received + timedelta(hours=9)).date()  # Seoul has no DST
        hit = due_cache.get(local_day)
        if hit is None:
            aware = received.replace(tzinfo=UTC)
            statutory = end_of_day(statutory_due_date(aware, 10))
            extended = end_of_day(statutory_due_date(statutory, 10))
            hit = (statutory.replace(tzinfo=None), extended.replace(tzinfo=None))
            due_cache[local_day] = hit
            assert statutory.astimezone(SEOUL).hour == 23
        return hit

    batch: list[tuple] = []
    for i, off in enumerate(offsets):
        received = START + timedelta(seconds=off)
        statutory, extended = due_for(received)
        due = extended if rng.random() < EXTENDED_SHARE else statutory
        if layout == "uniform":
            status = uniform_status()
        elif received >= recent_from:
            status = pick_open() if rng.random() < 0.8 else pick_closed()
        else:
            status = pick_open() if rng.random() < 0.003 else pick_closed()
        channel = pick_channel()
        email = None
        if channel in ("portal", "email") or rng.random() < 0.5:
            k = rng.randrange(n_subjects)
            email = f"subject{k:07d}@{DOMAINS[k % len(DOMAINS)]}"
        req_kind = req_name = req_email_enc = req_bidx = None
        if rng.random() < PROXY_SHARE:
            req_kind = rng.choice(("legal_representative", "delegate"))
            d = rng.randrange(DELEGATES)
            req_name, req_email_enc = NAME_ENC, EMAIL_ENC
            req_bidx = blind.email(f"delegate{d:04d}@lawfirm{d % 40}.example")
        verified = None
        if status not in ("pending_verification", "rejected"):
            verified = received + timedelta(minutes=rng.uniform(1, 600))
        closed = None
        if status in ("completed", "refused", "rejected", "withdrawn"):
            closed = min(received + timedelta(days=rng.uniform(0.5, 9.5)), due)
        updated = closed or verified or received
        year = (received + timedelta(hours=9)).year
        counters[year] = counters.get(year, 0) + 1
        reference = f"RD-{year}-{counters[year]:06d}"
        if i == ref_pick_at:
            picks.reference = reference
        if email is not None and i >= email_pick_at and not picks.email:
            picks.email = email
        if email is not None:
            email_counts[email] = email_counts.get(email, 0) + 1
        batch.append(
            (
                _ulid("req", received, rng.getrandbits(80)),
                reference,
                pick_type(),
                status,
                channel,
                "ko" if rng.random() < 0.9 else "en",
                NAME_ENC,
                None if email is None else EMAIL_ENC,
                None if email is None else blind.email(email),
                PHONE_ENC if channel == "phone" else None,
                req_kind or "self",
                req_name,
                req_email_enc,
                req_bidx,
                CATEGORIES,
                fmt(received),
                fmt(due),
                fmt(statutory),
                rng.choice(staff_ids) if rng.random() < ASSIGNED_SHARE else None,
                fmt(verified),
                fmt(closed),
                fmt(received),
                fmt(updated),
                1,
            )
        )
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
    picks.email_rows = email_counts.get(picks.email, 0)


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.t0 = label, total, 0, time.perf_counter()
        self.next = PROGRESS_EVERY

    def add(self, count: int) -> None:
        self.done += count
        if self.done >= self.next or self.done == self.total:
            elapsed = time.perf_counter() - self.t0
            print(f"  {self.label}: {self.done:>9,} rows  {elapsed:7.1f} s", flush=True)
            while self.next <= self.done:
                self.next += PROGRESS_EVERY

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


# --- databases ----------------------------------------------------------------------------


def check_columns(notnull: dict[str, set[str]], present: dict[str, set[str]]) -> None:
    """Every NOT NULL column without a default gets a value; every seeded column exists."""
    for table, cols in (("request", COLUMNS), ("staff_user", STAFF_COLUMNS)):
        missing = notnull[table] - set(cols)
        unknown = set(cols) - present[table]
        if missing or unknown:
            raise Fatal(f"{table}: NOT NULL columns not seeded {missing}, unknown {unknown}")


class SQLiteTarget:
    name = "sqlite"

    def __init__(self, rows: int) -> None:
        self.path = VAR_DIR / f"queue-{rows}.db"
        self.url = f"sqlite:///{self.path}"
        self.picks_file = VAR_DIR / f"queue-{rows}.picks.json"

    def exists(self) -> bool:
        return self.path.is_file()

    def create(self) -> None:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        self.picks_file.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def drop(self) -> None:
        self.picks_file.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        if VAR_DIR.is_dir() and not any(VAR_DIR.iterdir()):
            VAR_DIR.rmdir()

    def seed(self, n: int, layout: str, seed: int, picks: Picks) -> float:
        import sqlite3

        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-1000000")  # 1 GB page cache while seeding
            conn.execute("PRAGMA temp_store=MEMORY")
            notnull, present = {}, {}
            for table in ("request", "staff_user"):
                info = conn.execute(f"PRAGMA table_info({table})").fetchall()
                present[table] = {r[1] for r in info}
                notnull[table] = {r[1] for r in info if r[3] and r[4] is None}
            check_columns(notnull, present)
            t0 = time.perf_counter()
            staff, picks.staff_ids = staff_rows("", 1)
            conn.execute("BEGIN")
            conn.executemany(
                f"INSERT INTO staff_user ({', '.join(STAFF_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(STAFF_COLUMNS))})",
                staff,
            )
            conn.execute("COMMIT")
            sql = (
                f"INSERT INTO request ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(COLUMNS))})"
            )
            progress = Progress("sqlite seed", n)
            conn.execute("BEGIN")
            for batch in generate(n, layout, seed, picks.staff_ids, "", picks):
                conn.executemany(sql, batch)
                progress.add(len(batch))
                if progress.done % PROGRESS_EVERY == 0:
                    conn.execute("COMMIT")
                    conn.execute("BEGIN")
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return time.perf_counter() - t0
        finally:
            conn.close()

    def analyze(self) -> float:
        import sqlite3

        t0 = time.perf_counter()
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("ANALYZE")
        finally:
            conn.close()
        return time.perf_counter() - t0

    def clear_statistics(self) -> None:
        """Forget ANALYZE's results (a reused file was analysed by an earlier run or serve)."""
        import sqlite3

        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            has = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
            if has:
                conn.execute("DELETE FROM sqlite_stat1")
                conn.execute("ANALYZE sqlite_schema")  # reload: the planner forgets them now
        finally:
            conn.close()

    def size(self) -> str:
        return f"{self.path.stat().st_size / 2**20:,.0f} MiB file"


class PostgresTarget:
    name = "postgresql"

    def __init__(self, rows: int, db: str) -> None:
        if PG_REFUSED.match(db):
            raise Fatal(f"refusing to use the database {db!r} (it would be dropped)")
        self.db = db
        self.url = pg_url(db)
        self.picks_file = VAR_DIR / f"{db}-{rows}.picks.json"

    def exists(self) -> bool:
        with self._admin() as conn:
            return (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db,)).fetchone()
                is not None
            )

    def _admin(self):
        import psycopg

        return psycopg.connect(
            host=PG_HOST, port=5432, user="postgres", dbname="postgres", autocommit=True
        )

    def _connect(self):
        import psycopg

        return psycopg.connect(
            host=PG_HOST,
            port=5432,
            user="postgres",
            dbname=self.db,
            options=f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS * 5}",
        )

    def create(self) -> None:
        self.picks_file.unlink(missing_ok=True)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.db}"')

    def drop(self) -> None:
        self.picks_file.unlink(missing_ok=True)
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    def seed(self, n: int, layout: str, seed: int, picks: Picks) -> float:
        with self._connect() as conn:
            notnull, present = {}, {}
            for table in ("request", "staff_user"):
                info = conn.execute(
                    "SELECT column_name, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_name = %s",
                    (table,),
                ).fetchall()
                present[table] = {r[0] for r in info}
                notnull[table] = {r[0] for r in info if r[1] == "NO" and r[2] is None}
            check_columns(notnull, present)
            t0 = time.perf_counter()
            staff, picks.staff_ids = staff_rows("+00", True)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO staff_user ({', '.join(STAFF_COLUMNS)}) "
                    f"VALUES ({', '.join(['%s'] * len(STAFF_COLUMNS))})",
                    staff,
                )
                progress = Progress("postgresql seed (COPY)", n)
                with cur.copy(f"COPY request ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for batch in generate(n, layout, seed, picks.staff_ids, "+00", picks):
                        # Text format; the generated values hold no tab, newline or backslash.
                        copy.write(
                            "".join(
                                "\t".join("\\N" if v is None else str(v) for v in row) + "\n"
                                for row in batch
                            )
                        )
                        progress.add(len(batch))
            conn.commit()
            return time.perf_counter() - t0

    def analyze(self) -> float:
        t0 = time.perf_counter()
        with self._connect() as conn:
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) request")
            conn.execute("ANALYZE staff_user")
        return time.perf_counter() - t0

    def size(self) -> str:
        with self._connect() as conn:
            heap, total = conn.execute(
                "SELECT pg_relation_size('request'), pg_total_relation_size('request')"
            ).fetchone()
        return f"heap {heap / 2**20:,.0f} MiB, with indexes {total / 2**20:,.0f} MiB"


# --- cases --------------------------------------------------------------------------------

OPEN_TWO = ["open", "in_progress"]
CLOSED_SQL = "('completed', 'refused', 'rejected', 'withdrawn')"  # app.requests.lifecycle.CLOSED


@dataclass
class Case:
    name: str
    filters: dict
    pages: int = 1  # follow next_cursor pages-1 times, time the last page
    cursor: str | None = None
    frozen: bool = False  # overdue: ctx.clock is a FrozenClock at MID


@dataclass
class Result:
    case: str
    rows: int
    reps: int
    median_ms: float
    p95_ms: float
    cursor: str | None = None
    matching: int = -1
    sql: str = ""
    params: object = None
    plan: list[str] = field(default_factory=list)
    summary: str = ""
    flags: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def cases(picks: Picks, deep_cursor: str) -> list[Case]:
    """The issue's filters, then three extras that show how the cost moves with the cursor."""
    return [
        Case("no filter, first page", {}),
        Case("no filter, page 200", {}, pages=200),
        Case("status in (open, in_progress)", {"status": OPEN_TWO}),
        Case("type = deletion", {"type": ["deletion"]}),
        Case("assignee = one staff user", {"assignee": picks.staff_ids[1]}),
        Case("overdue = true (clock mid-range)", {"overdue": True}, frozen=True),
        Case("due_before = 2025-01-01", {"due_before": datetime(2025, 1, 1, tzinfo=UTC)}),
        Case("q = reference", {"q": picks.reference}),
        Case("q = e-mail (blind index)", {"q": picks.email}),
        Case("extra: no filter, cursor at mid-table", {}, cursor=deep_cursor),
        Case("extra: status in (open, in_progress), page 50", {"status": OPEN_TWO}, pages=50),
        Case("extra: overdue = true, page 20", {"overdue": True}, pages=20, frozen=True),
    ]


class Capture:
    """Keeps the last SELECT on `request` that the engine sent to the driver."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.last: tuple[str, object] | None = None

        @event.listens_for(engine, "before_cursor_execute")
        def _capture(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "FROM request" in statement:
                self.last = (statement, parameters)


def build_context(url: str, frozen: bool):
    from app.core.clock import FrozenClock
    from app.core.config import Settings
    from app.core.context import AppContext

    settings = Settings(
        database_url=url,
        secret_key="x" * 40,
        encryption_keys=ENCRYPTION_KEYS,
        blind_index_key=BLIND_INDEX_KEY,
        delivery="off",
        var_dir=VAR_DIR,
    )
    clock = FrozenClock(MID.replace(tzinfo=UTC)) if frozen else None
    return AppContext.build(settings, clock=clock)


def deep_cursor_for(ctx, n: int) -> str:
    """A cursor the service would give out after n/2 rows (encode_cursor of that row)."""
    from sqlmodel import select

    from app.models import Request
    from app.requests.queue import encode_cursor

    with ctx.db.session(write=False) as session:
        due, rid = session.exec(
            select(Request.due_at, Request.id)
            .order_by(Request.due_at, Request.id)
            .offset(n // 2)
            .limit(1)
        ).one()
    return encode_cursor(due, rid)


def timings(fn, reps: int, warmup: int, budget: float) -> tuple[float, float, int]:
    """Median and p95 in ms of fn() over reps runs after warmup runs (fewer past budget s)."""
    times: list[float] = []
    started = time.perf_counter()
    for i in range(warmup + reps):
        elapsed = fn()
        if i >= warmup:
            times.append(elapsed * 1000)
        if time.perf_counter() - started > budget and len(times) >= 3:
            break
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return statistics.median(times), p95, len(times)


def time_case(ctx, capture: Capture, case: Case, args) -> Result:
    from app.requests.queue import QueueFilter, page

    f = QueueFilter(**case.filters)
    cursor, name = case.cursor, case.name
    if case.pages > 1:
        with ctx.db.session(write=False) as session:
            for reached in range(1, case.pages):
                _rows, following = page(session, ctx, f, limit=LIMIT, cursor=cursor)
                session.expunge_all()
                if following is None:  # fewer pages than asked: time the last one
                    name = f"{case.name} (only {reached} pages: the last)"
                    break
                cursor = following
    got: list = []

    def once() -> float:
        with ctx.db.session(write=False) as session:  # a fresh session, as per HTTP request
            t0 = time.perf_counter()
            rows, _next = page(session, ctx, f, limit=LIMIT, cursor=cursor)
            elapsed = time.perf_counter() - t0
        got[:] = rows
        return elapsed

    median, p95, n = timings(once, args.reps, args.warmup, args.budget)
    sql, params = capture.last or ("", None)
    return Result(name, len(got), n, median, p95, cursor, sql=sql, params=params)


def count_matching(ctx, result: Result) -> int:
    """Rows the captured statement matches without its LIMIT (from its cursor on)."""
    sql, params = result.sql, result.params
    if ctx.db.is_sqlite:
        if not sql.rstrip().endswith("LIMIT ? OFFSET ?"):
            return -1
        params = (*params[:-2], -1, 0)
    else:
        m = re.search(r"LIMIT %\((\w+)\)s", sql)
        if not m:
            return -1
        params = {**params, m.group(1): None}
    with ctx.db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM ({sql}) AS q", params).scalar()


# --- plans --------------------------------------------------------------------------------


def short_sql(sql: str) -> str:
    flat = " ".join(sql.split())
    return re.sub(r"^SELECT .*? FROM request", "SELECT request.<all columns> FROM request", flat)


def explain_sqlite(ctx, sql: str, params) -> tuple[list[str], str, list[str]]:
    with ctx.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    depth = {0: -1}
    lines = []
    for node_id, parent, _unused, detail in rows:
        depth[node_id] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node_id] + detail)
    details = [r[3].strip() for r in rows]
    has_where = " WHERE " in " ".join(sql.split())
    flags = []
    for d in details:
        if re.fullmatch(r"SCAN request", d):
            flags.append("FULL TABLE SCAN")
        if "USE TEMP B-TREE FOR ORDER BY" in d:
            flags.append("TEMP B-TREE FOR ORDER BY")
        if "USE TEMP B-TREE FOR RIGHT PART OF ORDER BY" in d:
            flags.append("temp b-tree for the id tie-break (right part of ORDER BY)")
        if re.match(r"SCAN request USING (COVERING )?INDEX", d) and has_where:
            flags.append("index walked from its start, WHERE checked row by row (no seek)")
    return lines, "; ".join(details), flags


_PG_NODE = re.compile(
    r"(Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|BitmapOr|"
    r"Incremental Sort|Sort|Limit)( Backward)?( using (\w+)| on (\w+))?"
)
_PG_ROWS = re.compile(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)")


def _pg_summary(lines: list[str]) -> tuple[str, list[str]]:
    """Node chain, and flags: sequential scans, full sorts (with their input rows), rows read
    and thrown away by a Filter."""
    nodes: list[tuple[int, str, int]] = []  # (indent, node, actual rows)
    removed = 0
    for line in lines:
        if "Rows Removed by Filter:" in line:
            removed += int(line.rsplit(":", 1)[1])
        if "(cost=" not in line:
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip().removeprefix("->").strip()
        m = _PG_NODE.match(text)
        rows = _PG_ROWS.search(text)
        if m:
            name = m.group(1) + (m.group(2) or "") + (f" {m.group(4)}" if m.group(4) else "")
        else:
            name = text.split("  (")[0]
        nodes.append((indent, name, int(rows.group(1)) if rows else -1))
    flags = []
    for i, (indent, name, _rows) in enumerate(nodes):
        if name.startswith("Seq Scan"):
            flags.append("FULL TABLE SCAN")
        if name == "Sort":
            child = next((n for n in nodes[i + 1 :] if n[0] > indent), None)
            flags.append(f"SORT for ORDER BY of {child[2]:,} rows" if child else "SORT")
    if removed:
        flags.append(f"{removed:,} rows read and filtered out")
    return " > ".join(n[1] for n in nodes if n[1] != "Limit"), flags


def explain_pg(ctx, sql: str, params) -> tuple[list[str], str, list[str]]:
    with ctx.db.engine.connect() as conn:
        lines = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)]
    summary, flags = _pg_summary(lines)
    return lines, summary, flags


def _pg_positional(sql: str) -> tuple[str, list[str]]:
    """%(name)s placeholders to $n in order of first appearance (as psycopg sends them)."""
    names: list[str] = []

    def repl(m: re.Match) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", repl, sql), names


def pg_generic_plan(ctx, result: Result) -> None:
    """The timed runs got custom plans: every read-only session ends in a ROLLBACK, and psycopg
    forgets its prepared statements on ROLLBACK, so it never reaches its threshold of 5 runs
    (the staff route's own log-in lookup ends the same way). Here: the plan the server would
    settle on if the statement were prepared (a generic one, after 5 custom runs, when its
    estimated cost is close), reported when its shape differs."""
    from psycopg import sql as pgsql

    positional, names = _pg_positional(result.sql)
    with ctx.db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute("PREPARE bench_queue AS " + positional)
        execute = pgsql.SQL("EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_queue")
        if names:
            literals = pgsql.SQL(", ").join(pgsql.Literal(result.params[n]) for n in names)
            execute = pgsql.SQL("{} ({})").format(execute, literals)
        prepared: list[str] = []
        for _ in range(7):
            prepared = [r[0] for r in raw.execute(execute).fetchall()]
        generic = raw.execute(
            "SELECT generic_plans FROM pg_prepared_statements WHERE name = 'bench_queue'"
        ).fetchone()[0]
        raw.execute("DEALLOCATE bench_queue")  # only ours: psycopg's own stay untouched
        conn.rollback()
    summary, flags = _pg_summary(prepared)
    if generic and summary != result.summary:
        result.extra.append(f"if prepared, the server switches to a GENERIC plan: {summary}")
        result.extra.extend("    " + line for line in prepared)
        result.extra.append("  generic plan flags: " + (", ".join(flags) or "none"))
    else:
        result.extra.append(
            "if prepared: " + ("generic plan of the same shape" if generic else "custom plans")
        )


# --- what if: the same questions in another SQL shape / with other indexes -----------------

WHAT_IF_INDEXES = {
    "bench_ix_request_open_due_at_id": "(due_at, id) WHERE closed_at IS NULL",
    "bench_ix_request_type_due_at_id": "(type, due_at, id)",
}
OR_CURSOR = "(due_at > :d OR (due_at = :d AND id > :i))"  # what page() sent before the fix
ROW_CURSOR = "(due_at, id) > (:d, :i)"  # what it sends now


@dataclass
class WhatIf:
    name: str
    old: str  # WHERE as page() built it before the fix
    current: str  # WHERE as page() builds it now
    params: dict | None


@dataclass
class WhatIfResult:
    name: str
    figures: dict[str, tuple[float, float]] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0


def what_ifs(results: list[Result]) -> list[WhatIf]:
    from app.requests.queue import decode_cursor

    by = {r.case.split(" (only")[0]: r for r in results}

    def cur(name: str) -> dict | None:
        if by[name].cursor is None:  # a small table: that case had a single page
            return None
        due, rid = decode_cursor(by[name].cursor)
        return {"d": due, "i": rid}

    mid = cur("extra: no filter, cursor at mid-table")
    open_p50 = cur("extra: status in (open, in_progress), page 50")
    overdue_p20 = cur("extra: overdue = true, page 20")
    now = {"now": MID.replace(tzinfo=UTC)}
    two = "status IN ('open', 'in_progress')"
    late = f"due_at < :now AND status NOT IN {CLOSED_SQL}"
    late_open = "due_at < :now AND closed_at IS NULL"
    items = [
        WhatIf("no filter, cursor at mid-table", OR_CURSOR, ROW_CURSOR, mid),
        WhatIf(
            "type = deletion, cursor at mid-table",
            f"type = 'deletion' AND {OR_CURSOR}",
            f"type = 'deletion' AND {ROW_CURSOR}",
            mid,
        ),
        WhatIf(
            "status in (open, in_progress), first page", two, f"{two} AND closed_at IS NULL", {}
        ),
        WhatIf(
            "status in (open, in_progress), page 50",
            f"{two} AND {OR_CURSOR}",
            f"{two} AND closed_at IS NULL AND {ROW_CURSOR}",
            open_p50,
        ),
        WhatIf("overdue, first page", late, late_open, now),
        WhatIf(
            "overdue, page 20",
            f"{late} AND {OR_CURSOR}",
            f"{late_open} AND {ROW_CURSOR}",
            {**now, **overdue_p20} if overdue_p20 else None,
        ),
    ]
    return [i for i in items if i.params is not None]


def _statement(where: str):
    from sqlalchemy import bindparam, text

    from app.models.base import UTCDateTime

    stmt = text(f"SELECT * FROM request WHERE {where} ORDER BY due_at, id LIMIT 51")
    typed = [bindparam(k, type_=UTCDateTime) for k in ("d", "now") if f":{k}" in where]
    return stmt.bindparams(*typed) if typed else stmt


def run_what_if(ctx, capture: Capture, items: list[WhatIf], stage: str, which: str, args, out):
    for item, res in zip(items, out, strict=True):
        stmt = _statement(getattr(item, which))
        got: list = []

        def once(stmt=stmt, item=item, got=got) -> float:
            with ctx.db.engine.connect() as conn:
                t0 = time.perf_counter()
                rows = conn.execute(stmt, item.params).fetchall()
                elapsed = time.perf_counter() - t0
            got[:] = rows
            return elapsed

        res.figures[stage] = timings(once, args.reps, args.warmup, args.budget)[:2]
        res.rows = len(got)
        sql, params = capture.last
        explain = explain_sqlite if ctx.db.is_sqlite else explain_pg
        _lines, res.plans[stage], res.flags[stage] = explain(ctx, sql, params)
        print(
            f"  {item.name:<44} {stage:<28} median {res.figures[stage][0]:8.2f} ms  "
            f"| {res.plans[stage]}",
            flush=True,
        )


def what_if_phase(target, label: str, args, results: list[Result]) -> list[WhatIfResult]:
    """Time the old WHERE and page()'s current one as raw SQL (no ORM), before and after adding
    the candidate indexes (ANALYZEd too, unless this is SQLite without stats); the indexes are
    dropped again at the end."""
    items = what_ifs(results)
    out = [WhatIfResult(i.name) for i in items]
    analyze = label != "sqlite, no stats"
    print(f"\n== {label}: what if (raw SQL, no ORM; {args.reps} runs per figure)")
    for name, definition in WHAT_IF_INDEXES.items():
        print(f"  candidate {name} ON request {definition}")
    ctx = build_context(target.url, False)
    try:
        capture = Capture(ctx.db.engine)
        run_what_if(ctx, capture, items, "old SQL, schema indexes", "old", args, out)
        with ctx.db.engine.begin() as conn:
            for name, definition in WHAT_IF_INDEXES.items():
                t0 = time.perf_counter()
                conn.exec_driver_sql(f"CREATE INDEX {name} ON request {definition}")
                print(f"  created {name} in {time.perf_counter() - t0:.1f} s")
            if analyze:
                conn.exec_driver_sql("ANALYZE request")
        ctx.db.dispose()
        run_what_if(ctx, capture, items, "old SQL, + candidates", "old", args, out)
        run_what_if(ctx, capture, items, "page() SQL, + candidates", "current", args, out)
    finally:
        try:
            with ctx.db.engine.begin() as conn:
                for name in WHAT_IF_INDEXES:
                    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        finally:
            ctx.db.dispose()
    return out


# --- HTTP: the route through a real server, against a bare app in the same run ------------

HTTP_PATH = f"/v1/staff/requests?limit={LIMIT}"
HTTP_USER = "bench.http@bench.example"
HTTP_PASSWORD = "bench-queue-http-password"
LUA_GET = BENCH_DIR / "get.lua"
HTTP_GOAL = 0.35  # service / bare at the highest connection count
PAGE_ENV = "RIGHTSDESK_BENCH_PAGE"  # the bare app's page: a JSON file


def page_app():
    """The bare baseline (uvicorn imports it in its own process: `staff_queue:page_app`):
    FastAPI with one async endpoint that answers a queue page held in memory. The page is read
    once at start from the JSON file named by RIGHTSDESK_BENCH_PAGE (the service's own answer,
    fetched by the benchmark), validated into the service's `QueuePage`, and on each call
    serialised through the same response model, as the service's route does. No auth, no
    database, no middleware."""
    from fastapi import FastAPI

    from app.requests.schemas import QueuePage

    page = QueuePage.model_validate(json.loads(Path(os.environ[PAGE_ENV]).read_text()))
    api = FastAPI()

    @api.get("/v1/staff/requests", response_model=QueuePage)
    async def queue_page():
        return page

    return api


@dataclass
class HttpFigures:
    name: str  # service | bare
    connections: int
    rounds: list[dict] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.rounds)


def _figures(res) -> dict:
    return {
        "rps": res.rps,
        "p50_ms": res.p50_ms,
        "p99_ms": res.p99_ms,
        "cpu_ms_per_request": res.cpu_ms_per_request,
        "cpu_share": res.cpu_share,
        "requests": res.requests,
        "errors": res.errors,
        "statuses": res.statuses,
    }


def _staff_token(rightsdesk: str, env: dict, tmp: Path, service) -> str:
    """A CPO account made by `rightsdesk create-user` (kept from an earlier run if there),
    logged in through POST /v1/auth/token like the dashboard does."""
    import subprocess
    from urllib.parse import urlencode

    done = subprocess.run(
        [rightsdesk, "create-user", "--email", HTTP_USER, "--role", "cpo", "--password-stdin"],
        input=HTTP_PASSWORD + "\n",
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "exists" not in (done.stderr + done.stdout).lower():
        raise Fatal(f"create-user failed: {done.stderr.strip() or done.stdout.strip()}")
    status, body = http(
        service,
        "/v1/auth/token",
        method="POST",
        body=urlencode({"username": HTTP_USER, "password": HTTP_PASSWORD}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise Fatal(f"log-in answered {status}: {body[:300]!r}")
    return json.loads(body)["access_token"]


def http_phase(target, args) -> dict:
    """GET /v1/staff/requests?limit=50 through a real `rightsdesk serve` on the benchmark
    database, and in the same run a bare FastAPI app answering the same page from memory,
    both under wrk at each connection count, alternating for --http-rounds rounds."""
    import secrets

    wrk = find_wrk()
    rightsdesk = find_rightsdesk()
    info = machine()
    workers = args.http_workers or (1 if target.name == "sqlite" else 4)
    print(
        f"\n== {target.name}: HTTP, GET {HTTP_PATH} (serve --workers {workers}; bare app the "
        f"same), wrk -t{args.http_threads} -d{args.http_duration:g}s, connections "
        f"{', '.join(map(str, args.http_connections))}, {args.http_rounds} rounds alternating"
    )
    print("  " + machine_line(info, wrk))
    tmp = run_folder("bench-queue-http-")
    servers = []
    try:
        env = service_env(
            RIGHTSDESK_DATABASE_URL=target.url,
            RIGHTSDESK_VAR_DIR=str(tmp / "var"),
            RIGHTSDESK_NOTIFY_DIR=str(tmp / "notify"),
            # No background pump: no reminder, expiry or rejection sweeps over the bench data
            # (they would write to it); the queue read does not depend on it.
            RIGHTSDESK_DELIVERY="off",
            RIGHTSDESK_SECRET_KEY=secrets.token_urlsafe(48),
            RIGHTSDESK_ENCRYPTION_KEYS=ENCRYPTION_KEYS,
            RIGHTSDESK_BLIND_INDEX_KEY=BLIND_INDEX_KEY,
        )
        service = start_service(rightsdesk, workers, env, tmp)
        servers.append(service)
        wait_http(service, "/readyz", timeout=300)
        token = _staff_token(rightsdesk, env, tmp, service)
        status, body = http(service, HTTP_PATH, headers={"Authorization": f"Bearer {token}"})
        if status != 200:
            raise Fatal(f"the queue answered {status}: {body[:300]!r}")
        page = json.loads(body)
        if len(page["items"]) != LIMIT:
            raise Fatal(f"the queue page has {len(page['items'])} items, not {LIMIT}")
        (tmp / "page.json").write_bytes(body)
        bare = start_bare(
            "staff_queue:page_app", workers, {**env, PAGE_ENV: str(tmp / "page.json")}, tmp
        )
        servers.append(bare)
        wait_http(bare, HTTP_PATH, timeout=120)
        status, bare_body = http(bare, HTTP_PATH)
        if json.loads(bare_body) != page:
            raise Fatal("the bare app's page differs from the service's")
        print(
            f"  service pid {service.proc.pid}, bare pid {bare.proc.pid}; page of "
            f"{len(body):,} bytes, {LIMIT} items"
        )
        by_name = {"service": service, "bare": bare}

        def measure(name: str, connections: int, duration: float, tag: str):
            pid = by_name[name].proc.pid
            before = cpu_seconds(pid)
            res = run_wrk(
                wrk,
                by_name[name].url(HTTP_PATH),
                lua=LUA_GET,
                script_args=[tag, token if name == "service" else ""],
                connections=connections,
                duration=duration,
                threads=args.http_threads,
            )
            res.cpu_s = cpu_seconds(pid) - before
            return res

        if args.http_warmup:
            for name in ("service", "bare"):
                w = measure(name, max(args.http_connections), args.http_warmup, "warm")
                print(f"  warm-up {name:<8} {w.rps:8.1f} req/s  errors {w.errors}")
        figures: dict[tuple[str, int], HttpFigures] = {}
        for conns in args.http_connections:
            for name in ("service", "bare"):
                figures[name, conns] = HttpFigures(name, conns)
            for i in range(args.http_rounds):
                order = ("service", "bare") if i % 2 == 0 else ("bare", "service")
                line = []
                for name in order:
                    res = measure(name, conns, args.http_duration, f"c{conns}r{i}")
                    figures[name, conns].rounds.append(_figures(res))
                    line.append(
                        f"{name} {res.rps:7.1f}/s p50 {res.p50_ms:6.1f} p99 {res.p99_ms:7.1f} ms"
                        f" cpu {res.cpu_ms_per_request:5.2f} ms/req err {res.errors}"
                    )
                print(f"  c={conns:<3} round {i + 1}: " + " | ".join(line), flush=True)
        info["loadavg_after"] = machine()["loadavg"]
    finally:
        clean_up(servers, tmp, args.keep_http, indent="  ")

    rows = []
    print(
        f"\n  {'median':<8} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu ms/req':>10} {'cpu':>5} {'errors':>6}  service/bare"
    )
    for conns in args.http_connections:
        svc, bare_f = figures["service", conns], figures["bare", conns]
        ratio = svc.median("rps") / bare_f.median("rps") if bare_f.median("rps") else 0.0
        for f in (svc, bare_f):
            print(
                f"  {f.name:<8} {conns:>5} {f.median('rps'):>9.1f} {f.median('p50_ms'):>8.2f} "
                f"{f.median('p99_ms'):>8.2f} {f.median('cpu_ms_per_request'):>10.2f} "
                f"{100 * f.median('cpu_share'):>4.0f}% {sum(r['errors'] for r in f.rounds):>6}"
                + (f"  {ratio:.3f}" if f is svc else "")
            )
        rows.append(
            {
                "connections": conns,
                "ratio": ratio,
                **{
                    f"{f.name}_{k}": f.median(k)
                    for f in (svc, bare_f)
                    for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "cpu_share")
                },
                "rounds": {"service": svc.rounds, "bare": bare_f.rounds},
            }
        )
    low, high = rows[0], rows[-1]
    verdicts = [
        f"ratio at {high['connections']} connections {high['ratio']:.3f} "
        f"(goal >= {HTTP_GOAL}: {'met' if high['ratio'] >= HTTP_GOAL else 'NOT met'})",
        f"service at {high['connections']} vs {low['connections']} connections "
        f"{high['service_rps']:.0f} vs {low['service_rps']:.0f} req/s "
        f"({'not slower' if high['service_rps'] >= low['service_rps'] else 'SLOWER'})",
    ]
    for v in verdicts:
        print("  " + v)
    errors = sum(r["errors"] for f in figures.values() for r in f.rounds)
    if errors:
        print(f"  WARNING: {errors} answers were not 200 or failed (the figures are not valid)")
    print(f"  load average before {info['loadavg']}, after {info['loadavg_after']}")
    return {"workers": workers, "machine": info, "rows": rows, "errors": errors}


# --- run ----------------------------------------------------------------------------------


def run_phase(target, label: str, args, picks: Picks, deep_cursor: str) -> list[Result]:
    print(f"\n== {label}: timing page() ({args.reps} runs + {args.warmup} warm-up per case)")
    results = []
    contexts = {}
    try:
        for frozen in (False, True):
            contexts[frozen] = build_context(target.url, frozen)
        captures = {k: Capture(ctx.db.engine) for k, ctx in contexts.items()}
        for case in cases(picks, deep_cursor):
            ctx = contexts[case.frozen]
            result = time_case(ctx, captures[case.frozen], case, args)
            explain = explain_sqlite if ctx.db.is_sqlite else explain_pg
            result.plan, result.summary, result.flags = explain(ctx, result.sql, result.params)
            if not ctx.db.is_sqlite:
                pg_generic_plan(ctx, result)
            result.matching = count_matching(ctx, result)
            results.append(result)
            slow = "  SLOW" if result.median_ms > SLOW_MS else ""
            print(
                f"  {result.case:<46} rows {result.rows:>2}/{result.matching:<9,} "
                f"median {result.median_ms:8.2f} ms  p95 {result.p95_ms:8.2f} ms  "
                f"(n={result.reps}){slow}",
                flush=True,
            )
    finally:
        for ctx in contexts.values():
            ctx.db.dispose()
    print(f"\n-- {label}: plans")
    for r in results:
        print(f"\n[{r.case}]  median {r.median_ms:.2f} ms, {r.matching:,} rows match")
        print("  SQL: " + short_sql(r.sql))
        print(f"  params: {r.params!r}")
        for line in r.plan:
            print("    " + line)
        for line in r.extra:
            print("  " + line)
        print("  flags: " + (", ".join(r.flags) if r.flags else "none"))
    return results


def load_picks(target, args) -> Picks | None:
    """The picks saved when this database was seeded (None if it was seeded otherwise)."""
    try:
        saved = json.loads(target.picks_file.read_text())
    except (OSError, ValueError):
        return None
    if saved.pop("key", None) != [args.rows, args.layout, args.seed]:
        return None
    return Picks(**saved)


def save_picks(target, args, picks: Picks) -> None:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    target.picks_file.write_text(
        json.dumps({"key": [args.rows, args.layout, args.seed], **picks.__dict__})
    )


def regenerate_picks(args, dt_suffix: str) -> Picks:
    """The generator is deterministic: run it again without writing to learn the picks."""
    picks = Picks()
    _staff, picks.staff_ids = staff_rows(dt_suffix, True)
    for _batch in generate(args.rows, args.layout, args.seed, picks.staff_ids, dt_suffix, picks):
        pass
    return picks


def bench_target(target, args) -> dict:
    from app.core.migrations import upgrade

    out: dict = {"db": target.name, "phases": {}, "what_if": {}, "http": None}
    print(f"\n######## {target.name}: {args.rows:,} rows, layout {args.layout}")
    picks = None
    if args.reuse and target.exists():
        print(f"reusing the kept database ({target.url.split('?')[0]})")
        out["seed_s"] = 0.0
        upgrade(target.url)  # as `rightsdesk serve` would: a no-op when at head
        if args.query:
            picks = load_picks(target, args)
            if picks is None:
                print("  no saved picks for these --rows/--layout/--seed: regenerating them")
                picks = regenerate_picks(args, "" if target.name == "sqlite" else "+00")
                save_picks(target, args, picks)
    else:
        target.create()
        t0 = time.perf_counter()
        upgrade(target.url)
        print(f"schema by migrations: {time.perf_counter() - t0:.1f} s")
        picks = Picks()
        out["seed_s"] = target.seed(args.rows, args.layout, args.seed, picks)
        save_picks(target, args, picks)
        print(f"seeded {args.rows:,} rows in {out['seed_s']:.1f} s")
    if args.query:
        print(
            f"picks: reference {picks.reference}, e-mail {picks.email} "
            f"({picks.email_rows} rows), assignee {picks.staff_ids[1]}"
        )
        ctx = build_context(target.url, False)
        try:
            deep_cursor = deep_cursor_for(ctx, args.rows)
        finally:
            ctx.db.dispose()
    if args.query and target.name == "sqlite":
        # A file without planner statistics: what SQLite does before anything has run
        # ANALYZE. The service itself analyses at `serve` and `migrate` (sampled: PRAGMA
        # analysis_limit) and hourly, so this is the worst case, not how it runs.
        target.clear_statistics()
        label = "sqlite, no stats"
        out["phases"][label] = run_phase(target, label, args, picks, deep_cursor)
        if args.what_if:
            out["what_if"][label] = what_if_phase(target, label, args, out["phases"][label])
    out["analyze_s"] = target.analyze()
    out["size"] = target.size()
    print(f"\nANALYZE: {out['analyze_s']:.1f} s; size: {out['size']}")
    if args.query:
        # SQLite with statistics, as the service runs it (ANALYZE at serve/migrate).
        label = "sqlite, after ANALYZE" if target.name == "sqlite" else "postgresql"
        out["phases"][label] = run_phase(target, label, args, picks, deep_cursor)
        if args.what_if:
            out["what_if"][label] = what_if_phase(target, label, args, out["phases"][label])
    if args.http:
        out["http"] = http_phase(target, args)
    return out


def print_summary(outcomes: list[dict], args) -> None:
    print(f"\n######## summary ({args.rows:,} rows, layout {args.layout}, limit {LIMIT})")
    for o in outcomes:
        print(
            f"{o['db']}: seeded in {o['seed_s']:.1f} s (0: reused), ANALYZE {o['analyze_s']:.1f} s,"
            f" {o['size']}"
        )
    labels = [label for o in outcomes for label in o["phases"]]
    if labels:
        print_query_summary(outcomes, labels)
    print_http_summary(outcomes)


def print_http_summary(outcomes: list[dict]) -> None:
    runs = [o for o in outcomes if o.get("http")]
    if not runs:
        return
    print(
        f"\nHTTP, GET {HTTP_PATH}, medians (service = rightsdesk serve, bare = the same page "
        "from memory):\n"
    )
    print(
        "| database | workers | connections | service req/s | p50 / p99 ms | cpu ms/req "
        "| bare req/s | p50 / p99 ms | cpu ms/req | service / bare |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for o in runs:
        h = o["http"]
        for r in h["rows"]:
            print(
                f"| {o['db']} | {h['workers']} | {r['connections']} | {r['service_rps']:.0f} | "
                f"{r['service_p50_ms']:.1f} / {r['service_p99_ms']:.1f} | "
                f"{r['service_cpu_ms_per_request']:.2f} | {r['bare_rps']:.0f} | "
                f"{r['bare_p50_ms']:.1f} / {r['bare_p99_ms']:.1f} | "
                f"{r['bare_cpu_ms_per_request']:.2f} | {r['ratio']:.3f} |"
            )
        print(f"\n{o['db']}: load average {h['machine']['loadavg']} -> "
              f"{h['machine']['loadavg_after']}")  # fmt: skip


def print_query_summary(outcomes: list[dict], labels: list[str]) -> None:
    print(
        "\n| case | matching rows | "
        + " | ".join(f"{label} median / p95 ms" for label in labels)
        + " |"
    )
    print("| --- | ---: |" + " ---: |" * len(labels))
    first = next(iter(o for o in outcomes if o["phases"]))["phases"]
    first = next(iter(first.values()))
    for i, r0 in enumerate(first):
        cells = []
        for o in outcomes:
            for results in o["phases"].values():
                r = results[i]
                mark = "**" if r.median_ms > SLOW_MS else ""
                cells.append(f"{mark}{r.median_ms:.2f}{mark} / {r.p95_ms:.2f}")
        print(f"| {r0.case} | {r0.matching:,} | " + " | ".join(cells) + " |")
    print()
    for o in outcomes:
        for label, results in o["phases"].items():
            for r in results:
                if r.flags or r.median_ms > SLOW_MS:
                    slow = "SLOW " if r.median_ms > SLOW_MS else ""
                    print(f"{slow}[{label}] {r.case}: {', '.join(r.flags) or 'no flag'}")
                    print(f"    {r.summary}")
    for o in outcomes:
        for label, items in o["what_if"].items():
            stages = list(items[0].figures)
            print(f"\nwhat if, {label} (raw SQL median / p95 ms):\n")
            print("| query | " + " | ".join(stages) + " | plan of page()'s SQL |")
            print("| --- |" + " ---: |" * len(stages) + " --- |")
            for w in items:
                cells = [f"{w.figures[s][0]:.2f} / {w.figures[s][1]:.2f}" for s in stages]
                print(f"| {w.name} | " + " | ".join(cells) + f" | {w.plans[stages[-1]]} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--layout", choices=["recent", "uniform"], default="recent")
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of runs per case")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument(
        "--no-what-if",
        dest="what_if",
        action="store_false",
        help="skip the candidate indexes and query shapes",
    )
    parser.add_argument("--json", type=Path, help="write the figures and plans here")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the database a --keep run left (same --rows) instead of building it "
        "again (implies --keep)",
    )
    parser.add_argument(
        "--pg-db",
        default=PG_DB,
        help=f"the PostgreSQL database to create, seed and (unless --keep) drop ({PG_DB})",
    )
    parser.add_argument(
        "--no-query",
        dest="query",
        action="store_false",
        help="skip the page() timings and plans (and the what-if phase)",
    )
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the HTTP phase")
    parser.add_argument(
        "--http-connections",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 32],
        help="wrk connection counts, comma-separated (1,32)",
    )
    parser.add_argument("--http-duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--http-rounds", type=int, default=3, help="alternating rounds; medians")
    parser.add_argument("--http-warmup", type=float, default=3, help="seconds per server")
    parser.add_argument("--http-threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--http-workers",
        type=int,
        default=0,
        help="serve --workers (and the bare app's); default 1 on SQLite, 4 on PostgreSQL",
    )
    parser.add_argument(
        "--keep-http", action="store_true", help="keep the HTTP phase's folder (logs, page)"
    )
    args = parser.parse_args()
    if args.rows < 20_000:
        parser.error("--rows must be at least 20,000 (page 200 of 50)")
    if not args.query:
        args.what_if = False
    if args.reuse:
        args.keep = True  # a database worth reusing is worth keeping
    if not all(1 <= n <= 512 for n in args.http_connections):
        parser.error("--http-connections: each between 1 and 512")
    if not (1 <= args.http_duration <= 600 and 1 <= args.http_rounds <= 50):
        parser.error("keep --http-duration in 1..600 and --http-rounds in 1..50")
    if not (0 <= args.http_warmup <= 60 and 1 <= args.http_threads <= 16):
        parser.error("keep --http-warmup in 0..60 and --http-threads in 1..16")
    if not 0 <= args.http_workers <= 16:
        parser.error("keep --http-workers in 0..16")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    import app

    print(f"code under test: {Path(app.__file__).resolve().parent}")
    targets = []
    if args.db in ("sqlite", "both"):
        targets.append(SQLiteTarget(args.rows))
    outcomes = []
    try:
        if args.db in ("postgresql", "both"):
            targets.append(PostgresTarget(args.rows, args.pg_db))
        for target in targets:
            try:
                outcomes.append(bench_target(target, args))
            finally:
                if not args.keep:
                    target.drop()
                    print(f"{target.name}: benchmark database dropped")
    except Fatal as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print_summary(outcomes, args)
    if args.json:
        payload = [
            {
                **{k: v for k, v in o.items() if k not in ("phases", "what_if")},
                "phases": {
                    label: [{**r.__dict__, "params": repr(r.params)} for r in results]
                    for label, results in o["phases"].items()
                },
                "what_if": {
                    label: [w.__dict__ for w in items] for label, items in o["what_if"].items()
                },
            }
            for o in outcomes
        ]
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

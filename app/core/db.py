"""Engine and session scope. One transaction per unit of work, committed once by its owner;
services only flush.

SQLite (the embedded default) runs in WAL mode with foreign keys on, and write transactions
start with BEGIN IMMEDIATE: the write lock is taken up front, so two writers queue on the
busy timeout instead of failing mid-transaction, and a read-then-write (the audit chain head,
a reference counter) cannot be overtaken. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from app.core.errors import NotFound

log = logging.getLogger("rightsdesk.db")

AfterCommit = Callable[[], None]
T = TypeVar("T")


WRITE_LOCK_TIMEOUT = 30.0
# In `session.info`: this session's transaction is a group writer's batch of filings
# (core/group_writer.py). What every filing shares is then written at its commit: the access
# record's entries (audit/service.py) and the reference counter (requests/reference.py).
BATCH = "batch"
_TABLE = re.compile(r"[a-z_]+")
_PENDING_UPSERT = text(
    "INSERT INTO scrub_pending (table_name, destructions, since, last_at) "
    "VALUES (:table, 1, now(), now()) ON CONFLICT (table_name) DO UPDATE "
    "SET destructions = scrub_pending.destructions + 1, last_at = now()"
)


def _sqlite_setup(engine: Engine, write_lock: threading.Lock) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN instead of the driver.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        # NORMAL in WAL: a commit survives a crash of the process (kill -9), not of the OS.
        cur.execute("PRAGMA synchronous=NORMAL")
        # Freed pages are zeroed, so destroyed documents do not linger in the file.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":
            # Writers of this process queue on a lock instead of on SQLite's busy handler,
            # which sleeps and polls: first come, first served, and no 100 ms naps.
            if not write_lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
                raise TimeoutError("waited too long for the database write lock")
            conn.info["holds_write_lock"] = True
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _release(conn)
            raise

    def _end(verb: str):
        def end(conn) -> None:
            # These events fire *before* SQLAlchemy tells the driver to commit: end the
            # transaction here, then let the next writer in (the driver's own commit or
            # rollback that follows finds no transaction and does nothing).
            if "holds_write_lock" not in conn.info:
                return
            try:
                raw = conn.connection.driver_connection
                if raw.in_transaction:
                    raw.execute(verb)
            finally:
                _release(conn)

        return end

    def _release(conn) -> None:
        if conn.info.pop("holds_write_lock", False):
            write_lock.release()

    event.listen(engine, "commit", _end("COMMIT"))
    event.listen(engine, "rollback", _end("ROLLBACK"))


@dataclass(frozen=True)
class Pool:
    """PostgreSQL connections one process keeps (`size`), may open beyond them under load
    (`overflow`), and how long a unit waits for one before it gets a 503 (`timeout`)."""

    size: int = 10
    overflow: int = 5
    timeout: float = 10.0

    @property
    def most(self) -> int:
        return self.size + self.overflow


def make_engine(
    url: str, write_lock: threading.Lock | None = None, pool: Pool | None = None
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = not parsed.database or parsed.database == ":memory:"
        if not in_memory:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            hide_parameters=True,  # never put bound values (personal data) in error messages
            **({} if in_memory else {"pool_size": 8, "max_overflow": 16}),
        )
        _sqlite_setup(engine, write_lock or threading.Lock())
        return engine
    pool = pool or Pool()
    # Bounded, so that N processes cannot open more than the server takes ("too many clients"
    # was a 500 for every call in a surge); past the bound a unit waits, then gets a 503.
    engine = create_engine(
        url,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    event.listen(engine, "connect", _plan_each_execution)
    return engine


def _plan_each_execution(dbapi_conn, _record) -> None:
    """Plan every execution of a prepared statement for its parameters and the table as it is
    now. psycopg prepares a statement run five times on a connection, and PostgreSQL may then
    keep one generic plan for the connection's life: one made while a table was small (a new
    database, or a surge's first minute before autovacuum's ANALYZE) stays a sequential scan
    as the table grows. The hourly count per filer did exactly that in bench/intake.py: one
    scan of the whole request table per filing, the server's CPU per filing growing round by
    round. Planning these short statements costs far less than that risk."""
    with dbapi_conn.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_conn.commit()


# A pooled connection unused for this long is pinged before it is handed out; one returned
# moments ago is not (see `_ping_when_idle`).
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections that sat idle: a round trip before every
    checkout cost each filing batch two of its ~ten (bench/README.md), to guard against what
    happens to idle connections (a server restart, a firewall's idle cut-off). A connection
    that fails its ping is replaced, as with `pool_pre_ping`; one that dies while in use
    fails that unit, and SQLAlchemy then invalidates the pool's older connections."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn, record, _proxy) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return  # new, or back in the pool a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out another (or a new one).
            raise sa_exc.DisconnectionError("idle connection failed its ping") from error


class Database:
    def __init__(self, url: str, pool: Pool | None = None) -> None:
        self.url = url
        self.pool = pool or Pool()
        self.engine = make_engine(url, threading.Lock(), self.pool)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )
        # Wakes whoever delivers the outbox (notices, webhooks); set by the app or worker.
        self.wake: Callable[[], None] = lambda: None

    def session(self, *, write: bool = True, cls: type[Session] = Session) -> Session:
        session = cls(bind=self._write_engine if write else self.engine, expire_on_commit=False)
        session.info["after_commit"] = []
        session.info["wake_outbox"] = self._wake
        return session

    def _wake(self) -> None:
        self.wake()  # looked up at call time: the deliverer is set after the engine

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work outside HTTP (CLI, worker): commit on success, roll back on error."""
        with self.session(write=write) as session:
            yield session
            commit(session)

    def dispose(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """One round trip to the database (raises if it does not answer)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def after_commit(session: Session, callback: AfterCommit) -> None:
    """Run `callback` once the unit of work has committed (e.g. wake the outbox sender)."""
    callbacks: list[AfterCommit] = session.info.setdefault("after_commit", [])
    if callback not in callbacks:
        callbacks.append(callback)


def before_commit(session: Session, callback: AfterCommit) -> None:
    """Run `callback` inside the transaction, just before it commits (once, whoever commits
    it): for writes that must come last, such as the access record's entries of a group
    writer's batch (audit/service.py). If it fails, the commit fails and nothing is kept."""
    callbacks: list[AfterCommit] = session.info.setdefault("before_commit", [])
    if callback not in callbacks:
        callbacks.append(callback)


@event.listens_for(OrmSession, "before_commit")
def run_before_commit(session: OrmSession) -> None:
    """Run the transaction's `before_commit` callbacks now (SQLAlchemy does at commit; a
    session that must finish its writes before SQLAlchemy's commit begins calls it first)."""
    callbacks = session.info.pop("before_commit", None)
    for callback in callbacks or ():
        callback()


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_before_commit(session: OrmSession, transaction) -> None:
    # A transaction that ended without its commit (rolled back, closed) takes its pending
    # writes with it: none may leak into the session's next transaction.
    if transaction.parent is None:
        session.info.pop("before_commit", None)


def commit(session: Session) -> None:
    """Commit the unit of work, then run its after-commit callbacks (see `run_after_commit`)."""
    session.commit()
    run_after_commit(session)


def run_after_commit(session: Session) -> None:
    """Run and forget the callbacks of a committed unit. A failing one is logged by type only
    (its message may carry personal data) and fails nothing: the unit is committed, and what
    the callback should have done (say, delivery) is retried from the outbox."""
    callbacks = session.info.get("after_commit") or []
    session.info["after_commit"] = []
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:
            log.error("after-commit work failed: %s", type(exc).__name__)


def refresh_statistics(db: Database) -> None:
    """SQLite chooses the queue's indexes well only with statistics (ANALYZE); sampled, so it
    is quick on a large file. PostgreSQL keeps its own (autovacuum): see analyze_stale."""
    if not db.is_sqlite:
        return
    with db.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")


# The service's tables that the server's autovacuum will never analyse: all of them when
# autovacuum (or the statistics it reads) is off, else those switched off one by one.
_UNWATCHED = text(
    "SELECT s.relname, s.n_mod_since_analyze, greatest(c.reltuples, 0) AS reltuples, "
    "current_setting('autovacuum_analyze_threshold')::float8 AS base, "
    "current_setting('autovacuum_analyze_scale_factor')::float8 AS share, c.reloptions "
    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema()"
)
_OFF = re.compile(r"autovacuum_enabled=(false|off|no|0|f|n)$", re.IGNORECASE)


def autovacuum_off(conn) -> bool:
    """Whether this PostgreSQL server analyses nothing by itself (autovacuum or track_counts
    off)."""
    row = conn.execute(
        text("SELECT current_setting('autovacuum'), current_setting('track_counts')")
    ).one()
    return "off" in row


def analyze_stale(db: Database) -> list[str]:
    """On PostgreSQL, ANALYZE the tables that autovacuum would have analysed by now but will
    not, because it is off (for the server or for the table): more rows changed since the last
    ANALYZE than autovacuum's own threshold (autovacuum_analyze_threshold + scale factor x
    rows). Without statistics the planner keeps planning for the empty tables of the first
    minute: in a surge, the queue's first page became a scan and sort of every open request.
    SKIP_LOCKED: another worker analysing the same table is enough. The tables analysed."""
    if db.is_sqlite:
        return []
    with db.engine.connect() as conn:
        server_off = autovacuum_off(conn)
        stale = [
            row.relname
            for row in conn.execute(_UNWATCHED)
            if (server_off or any(_OFF.match(o) for o in row.reloptions or ()))
            and row.n_mod_since_analyze > row.base + row.share * row.reltuples
            and _TABLE.fullmatch(row.relname)
        ]
    if stale:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in stale:
                conn.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {table}")
    return stale


def warn_if_unanalysed(db: Database) -> None:
    """At each start (`serve`, `worker`): a warning when the PostgreSQL server analyses nothing by
    itself, so the operator learns it before a surge does."""
    if db.is_sqlite:
        return
    try:
        with db.engine.connect() as conn:
            off = autovacuum_off(conn)
    except Exception as exc:  # the database away at start: /readyz says so, not this
        log.debug("statistics check failed: %s", type(exc).__name__)
        return
    if off:
        log.warning(
            "PostgreSQL's autovacuum (or track_counts) is off: the server neither analyses nor "
            "vacuums this database. The worker analyses the tables that changed, every minute; "
            "vacuuming is left to you. Turn autovacuum on (docs/operations.md)."
        )


def connection_budget(db: Database, processes: int) -> str | None:
    """A warning when `processes` API workers, each allowed `db.pool.most` connections, could
    together take every connection the PostgreSQL server accepts for ordinary clients (the
    delivery workers, the CLI and other clients need theirs too); None when they fit."""
    if db.is_sqlite:
        return None
    with db.engine.connect() as conn:
        limit, reserved = conn.execute(
            text(
                "SELECT current_setting('max_connections')::int, "
                "current_setting('superuser_reserved_connections')::int"
            )
        ).one()
    available = limit - reserved
    most = processes * db.pool.most
    if most < available:
        return None
    return (
        f"{processes} API worker(s) may open up to {most} PostgreSQL connections "
        f"(RIGHTSDESK_DB_POOL_SIZE {db.pool.size} + RIGHTSDESK_DB_POOL_OVERFLOW "
        f"{db.pool.overflow} each), and the server accepts {available} (max_connections "
        f"{limit} less {reserved} reserved) for everyone, delivery workers included: past "
        "that, calls fail. Lower the pool settings or the workers, or raise max_connections."
    )


def locked(session: Session, model: type[T], row_id: str, *, missing: str) -> T:
    """The row `model[row_id]`, locked until commit (FOR UPDATE; SQLite's write transaction is
    exclusive already) and re-read, so a copy loaded before the lock is refreshed in place and
    checks see what the last committed writer left. 404 `missing` when there is none."""
    row = session.exec(
        select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise NotFound(missing)
    return row


def scrub(db: Database, tables: Iterable[str]) -> bool:
    """After a destruction commits (PIPA Art. 21(3), Decree 16: irrecoverably), make the
    storage forget what it erased. SQLite keeps the pages' old versions in the `-wal` file
    until a checkpoint (freed space in the main file is zeroed by `secure_delete`): checkpoint
    and truncate the WAL. PostgreSQL keeps the rows' old versions as dead tuples until a
    vacuum: VACUUM the tables (and their TOAST tables), outside any transaction, and enter them
    in `scrub_pending`: VACUUM does not zero the freed bytes, a rewrite does (VACUUM FULL, which
    locks the table, so it runs when the operator says: retention/scrub.py). True when it
    completed; False (logged) when the checkpoint was kept from finishing by a reader, or the
    vacuum failed (docs/operations.md says what to run by hand then). Never raises: the
    destruction itself is committed."""
    names = sorted(set(tables))
    try:
        if db.is_sqlite:
            with db.engine.connect() as conn:
                raw = conn.connection.driver_connection
                busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                log.warning("scrub: the WAL checkpoint was blocked by a reader; retried later")
                return False
            return True
        for name in names:
            if not _TABLE.fullmatch(name):
                raise ValueError(f"not a table name: {name!r}")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # VACUUM frees the dead tuples but leaves their bytes in the pages' free space:
            # the tables wait for a rewrite (`rightsdesk scrub`), and say so (/metrics).
            for name in names:
                conn.execute(_PENDING_UPSERT, {"table": name})
            conn.exec_driver_sql(f"VACUUM {', '.join(names)}")
        return True
    except Exception as exc:
        log.error("scrub failed: %s", type(exc).__name__)
        return False

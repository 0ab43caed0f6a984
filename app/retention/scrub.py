"""The rewrite that makes PostgreSQL forget destroyed data (issue 21.1, PIPA Art. 21(3),
Decree 16: irrecoverably).

After each destruction batch core/db.scrub VACUUMs the tables it touched: no tuple, live or
dead, then holds the erased values, but PostgreSQL does not zero the space VACUUM frees, so
their bytes stay in the table's (and its TOAST table's and indexes') pages until new rows
overwrite them. Only a rewrite removes them: VACUUM FULL copies the live rows into new files
and drops the old ones. It holds an ACCESS EXCLUSIVE lock on the table while it runs (no
reads, no writes; docs/operations.md gives times measured here), so it is not run after
each batch: core/db.scrub enters the touched tables in `scrub_pending`, and `rightsdesk
scrub` rewrites them when the operator chooses. `/metrics` shows what waits
(`rightsdesk_destructions_pending_rewrite`).

Each table waits for its lock at most `lock_timeout` seconds (a long transaction holding the
table would otherwise queue every request behind the rewrite); one that could not be locked
stays pending, and so does one while a transaction older than its last destruction runs
(VACUUM FULL keeps the dead rows such a snapshot may still see). A destruction committed while a table is rewritten enters it again, so its
row is only removed when no destruction came in between.

SQLite: its checkpoint (TRUNCATE, with secure_delete on) already zeroes what was destroyed;
nothing is ever pending, and `rewrite` only checkpoints.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, select, text

from app.core.db import _TABLE, Database
from app.law.deadlines import SEOUL
from app.models import ScrubPending

log = logging.getLogger("rightsdesk.scrub")

_p = ScrubPending.__table__


def in_window(window: tuple[dt.time, dt.time] | None, now: dt.datetime) -> bool:
    """Whether `now` (aware) falls in the window (Asia/Seoul hours; it may pass midnight)."""
    if window is None:
        return False
    start, end = window
    at = now.astimezone(SEOUL).time()
    return start <= at < end if start < end else (at >= start or at < end)


def pending(db: Database) -> list[dict]:
    """Tables destroyed in since their last rewrite: name, batches, first and last."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(_p.c.table_name, _p.c.destructions, _p.c.since, _p.c.last_at).order_by(
                _p.c.table_name
            )
        ).all()
    return [
        {
            "table": name,
            "destructions": n,
            "since": since.isoformat(),
            "last": last.isoformat(),
        }
        for name, n, since, last in rows
    ]


def _older_snapshots(db: Database, since: dt.datetime) -> int:
    """Sessions of this database whose transaction began before `since` (and so may hold a
    snapshot that still sees the rows destroyed then)."""
    with db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                "AND backend_xmin IS NOT NULL AND xact_start < :since"
            ),
            {"since": since},
        ).scalar_one()


@dataclass
class RewriteReport:
    rewritten: list[str] = field(default_factory=list)
    # Tables whose lock did not come within the timeout (or whose rewrite failed): pending.
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rewritten": self.rewritten, "skipped": self.skipped, "seconds": self.seconds}


def rewrite(db: Database, *, lock_timeout: float = 5.0) -> RewriteReport:
    """VACUUM FULL each pending table (with its TOAST table and indexes), one at a time."""
    report = RewriteReport()
    if db.is_sqlite:
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return report
    with db.engine.connect() as conn:
        todo = conn.execute(select(_p.c.table_name, _p.c.destructions, _p.c.last_at)).all()
    for name, seen, last in sorted(todo):
        if not _TABLE.fullmatch(name):
            raise ValueError(f"not a table name: {name!r}")
        if _older_snapshots(db, last):
            # VACUUM FULL copies a dead row that such a transaction may still see: the
            # destroyed values would survive the rewrite. Later, then.
            log.warning("scrub: %s left pending: a transaction older than its destruction", name)
            report.skipped.append(name)
            continue
        started = time.monotonic()
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"SET lock_timeout = {int(lock_timeout * 1000)}")
                conn.exec_driver_sql(f"VACUUM FULL {name}")
                conn.exec_driver_sql("RESET lock_timeout")
                # Only if no destruction entered the table again meanwhile.
                conn.execute(delete(_p).where(_p.c.table_name == name, _p.c.destructions == seen))
        except Exception as exc:
            log.warning("scrub: %s not rewritten (%s); still pending", name, type(exc).__name__)
            report.skipped.append(name)
            continue
        report.rewritten.append(name)
        report.seconds[name] = round(time.monotonic() - started, 3)
    return report

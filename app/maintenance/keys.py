"""Moving personal data to new keys while the service runs: `Rotation` re-seals every value of
the registry (maintenance/sealed.py) under the newest key of the ring, `Reindex` recomputes
the e-mail blind index under RIGHTSDESK_BLIND_INDEX_KEY. Free of typer: the CLI
(maintenance/cli_keys.py) and the tests drive them.

How a job walks the data, and why:
- Batches of `batch_size` rows, table by table, by keyset on the primary key (`id > last`
  ORDER BY id), each batch in its own short transaction. A long lock or a long snapshot would
  hold up the service; a batch holds a few hundred rows for milliseconds.
- The batch locks its rows with FOR UPDATE SKIP LOCKED (PostgreSQL): it never waits on a row
  the service holds, so it can never be part of a deadlock with a service transaction, and
  the service waits at most one short batch for it. A row the service holds is left for the
  next pass and counted as `busy`. On SQLite the batch's write transaction is exclusive.
- Every write is a compare-and-set (`UPDATE … SET col = :new WHERE id = :id AND col = :old`):
  a value the service changed in between is never overwritten, only counted (`lost`) and left
  for the next pass. Only the sealed column changes: not `version` (staff If-Match would get
  spurious 412s), not `updated_at` — re-sealing changes nothing a person did.
- Progress is one `maintenance_job` row per job (`keys.rotate:<kid>`, `keys.reindex:<key
  fingerprint>`): per table the last id done, rows done of the total counted at the start.
  Each batch updates it in its own transaction, under the row's lock, so a stopped run (kill,
  `--max-batches`) resumes where it stopped, and two runs at once share the work instead of
  doing it twice.
- A finished job reports done. If values were left behind (busy, lost, or — for rotation —
  written under an old key since, by a process still on the old ring), running it again
  starts a new pass over everything.

Nothing here logs or returns personal data: reports carry counts, table and column names, and
row ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import app.models  # noqa: F401  (every table in SQLModel.metadata)
from app.audit import service as audit
from app.core.actors import SYSTEM
from app.core.crypto import BlindIndex, CryptoError, KeyRing
from app.core.db import Database
from app.maintenance.sealed import SealedColumn, tables
from app.requests import pii

log = logging.getLogger("rightsdesk.keys")

_job = SQLModel.metadata.tables["maintenance_job"]
# Unreadable values are reported by place (table.column:id) up to this many.
UNREADABLE_SHOWN = 20


class KeysRefused(Exception):
    """The configuration does not allow the job (one line for the operator, exit 2)."""


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class BatchStats:
    rows: int = 0  # rows walked (the progress)
    changed: int = 0  # values re-sealed / index entries moved
    lost: int = 0  # compare-and-set lost to a concurrent change, or the row was busy
    unreadable: list[str] = field(default_factory=list)  # "table.column:id"
    kept: int = 0  # reindex: index entries with no e-mail left to recompute them from
    last_id: str | None = None  # the keyset cursor after this batch


@dataclass
class JobState:
    name: str
    total: int
    done: int
    passes: int
    finished: bool
    # Running it does nothing: finished, and nothing was left behind.
    complete: bool


@dataclass
class JobReport:
    name: str
    total: int
    done: int
    passes: int
    finished: bool
    batches: int = 0  # in this run
    changed: int = 0  # in this run
    lost: int = 0  # in this pass (all runs)
    unreadable: int = 0  # in this pass (all runs)
    unreadable_at: list[str] = field(default_factory=list)
    kept: int = 0  # reindex: index entries with no e-mail left to recompute them from


class KeyJob:
    """A resumable walk over tables in batches; subclasses say what a batch does."""

    name: str
    # The access-record entry written when a pass finishes (PIPC safety-measures standard:
    # a change to how personal data is protected is itself on the record).
    audit_action: str

    def __init__(self, db: Database, *, now: Callable[[], datetime] = _utcnow) -> None:
        self.db = db
        self.now = now

    # What subclasses provide ------------------------------------------------------------
    def tables(self) -> tuple[str, ...]:
        raise NotImplementedError

    def batch(self, conn: Connection, table: str, rows: list) -> BatchStats:
        """Work on `rows` (locked); `rows` are the table's rows, with the columns of `columns`."""
        raise NotImplementedError

    def columns(self, table: str) -> list:
        raise NotImplementedError

    def left_behind(self, job_cursor: dict) -> bool:
        """Whether a finished pass left work for another one."""
        return bool(job_cursor.get("lost") or job_cursor.get("unreadable"))

    # The walk ---------------------------------------------------------------------------
    def _fresh_cursor(self, passes: int) -> dict:
        return {
            "pass": passes,
            "tables": {t: {"after": None, "finished": False} for t in self.tables()},
            "lost": 0,
            "unreadable": 0,
            "unreadable_at": [],
            "kept": 0,
        }

    def _count(self, conn: Connection) -> int:
        return sum(
            conn.execute(select(func.count()).select_from(_table(t))).scalar_one()
            for t in self.tables()
        )

    def start(self) -> JobState:
        """Create the job, resume it, or — finished with work left behind — begin a new pass."""
        now = self.now()
        with self.db.transaction() as session:
            conn = session.connection()
            row = conn.execute(
                select(_job).where(_job.c.name == self.name).with_for_update()
            ).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(_job).values(
                                name=self.name,
                                cursor=self._fresh_cursor(1),
                                done=0,
                                total=self._count(conn),
                                started_at=now,
                                updated_at=now,
                                finished_at=None,
                            )
                        )
                except IntegrityError:  # another run created it this instant: share it
                    pass
                row = conn.execute(
                    select(_job).where(_job.c.name == self.name).with_for_update()
                ).one()
            elif row.finished_at is not None and self.left_behind(row.cursor):
                passes = int(row.cursor.get("pass", 1)) + 1
                conn.execute(
                    update(_job)
                    .where(_job.c.name == self.name)
                    .values(
                        cursor=self._fresh_cursor(passes),
                        done=0,
                        total=self._count(conn),
                        updated_at=now,
                        finished_at=None,
                    )
                )
                row = conn.execute(select(_job).where(_job.c.name == self.name)).one()
            finished = row.finished_at is not None
            return JobState(
                name=self.name,
                total=row.total,
                done=row.done,
                passes=int(row.cursor.get("pass", 1)),
                finished=finished,
                complete=finished and not self.left_behind(row.cursor),
            )

    def run(
        self,
        *,
        batch_size: int = 500,
        max_batches: int | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> JobReport:
        """Batches until the job is finished or `max_batches` ran; `on_batch(rows)` after each
        committed batch. Call `start()` first."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        batches = changed = 0
        while max_batches is None or batches < max_batches:
            stats = self._one_batch(batch_size)
            if stats is None:
                break
            batches += 1
            changed += stats.changed
            if on_batch is not None:
                on_batch(stats.rows)
        return self._report(batches, changed)

    def _one_batch(self, batch_size: int) -> BatchStats | None:
        """One batch in one transaction; None when the job is finished."""
        with self.db.transaction() as session:
            conn = session.connection()
            job = conn.execute(select(_job).where(_job.c.name == self.name).with_for_update()).one()
            if job.finished_at is not None:
                return None
            cursor = dict(job.cursor)
            progress = {t: dict(v) for t, v in cursor["tables"].items()}
            table = next((t for t in self.tables() if not progress[t]["finished"]), None)
            stats = BatchStats()
            if table is not None:
                stats = self._walk(conn, table, progress[table]["after"], batch_size)
                if stats.rows:
                    progress[table]["after"] = stats.last_id
                if stats.rows < batch_size:
                    progress[table]["finished"] = True
            cursor["tables"] = progress
            cursor["lost"] = int(cursor.get("lost", 0)) + stats.lost
            cursor["unreadable"] = int(cursor.get("unreadable", 0)) + len(stats.unreadable)
            shown = list(cursor.get("unreadable_at", []))
            cursor["unreadable_at"] = (shown + stats.unreadable)[:UNREADABLE_SHOWN]
            cursor["kept"] = int(cursor.get("kept", 0)) + stats.kept
            all_done = all(p["finished"] for p in progress.values())
            now = self.now()
            conn.execute(
                update(_job)
                .where(_job.c.name == self.name)
                .values(
                    cursor=cursor,
                    done=job.done + stats.rows,
                    updated_at=now,
                    finished_at=now if all_done else None,
                )
            )
            if all_done:  # counts and names only: no value, no address
                audit.append(
                    session,
                    at=now,
                    actor=SYSTEM.label,
                    action=self.audit_action,
                    detail={
                        "job": self.name,
                        "rows": job.done + stats.rows,
                        "left_behind": cursor["lost"],
                        "unreadable": cursor["unreadable"],
                    },
                )
            return stats

    def _walk(self, conn: Connection, table: str, after: str | None, limit: int) -> BatchStats:
        t = _table(table)
        ids_query = select(t.c.id).order_by(t.c.id).limit(limit)
        if after is not None:
            ids_query = ids_query.where(t.c.id > after)
        ids = list(conn.execute(ids_query).scalars())
        if not ids:
            return BatchStats()
        rows = list(
            conn.execute(
                select(t.c.id, *self.columns(table))
                .where(t.c.id.in_(ids))
                .order_by(t.c.id)
                .with_for_update(skip_locked=True)
            )
        )
        stats = self.batch(conn, table, rows)
        stats.rows = len(ids)
        stats.lost += len(ids) - len(rows)  # busy: held by the service, left for the next pass
        stats.last_id = ids[-1]
        return stats

    def _report(self, batches: int, changed: int) -> JobReport:
        with self.db.transaction(write=False) as session:
            job = session.connection().execute(select(_job).where(_job.c.name == self.name)).one()
        c = job.cursor
        return JobReport(
            name=self.name,
            total=job.total,
            done=job.done,
            passes=int(c.get("pass", 1)),
            finished=job.finished_at is not None,
            batches=batches,
            changed=changed,
            lost=int(c.get("lost", 0)),
            unreadable=int(c.get("unreadable", 0)),
            unreadable_at=list(c.get("unreadable_at", [])),
            kept=int(c.get("kept", 0)),
        )


def _cas(conn: Connection, t: Table, row_id: str, column: str, old, new, **also) -> bool:
    """Write `new` only where the row still holds `old` (and `also`): False if it changed."""
    where = [t.c.id == row_id, t.c[column] == old if old is not None else t.c[column].is_(None)]
    where += [t.c[k] == v if v is not None else t.c[k].is_(None) for k, v in also.items()]
    return conn.execute(update(t).where(*where).values({column: new})).rowcount == 1


# Rotation --------------------------------------------------------------------------------


class Rotation(KeyJob):
    """Re-seal every registered value under the ring's newest key (`keys.rotate:<kid>`)."""

    audit_action = "keys_rotated"

    def __init__(self, db: Database, keys: KeyRing, **kw) -> None:
        super().__init__(db, **kw)
        self.keys = keys
        self.kid = keys.current_kid
        self.name = f"keys.rotate:{self.kid}"
        self._prefix = f"v1.{self.kid}."
        self._registry = tables()

    def tables(self) -> tuple[str, ...]:
        return tuple(self._registry)

    def columns(self, table: str) -> list:
        t = _table(table)
        return [t.c[s.column] for s in self._registry[table]]

    def left_behind(self, job_cursor: dict) -> bool:
        return super().left_behind(job_cursor) or remaining(self.db, self.kid) > 0

    def batch(self, conn: Connection, table: str, rows: list) -> BatchStats:
        t = _table(table)
        stats = BatchStats()
        for row in rows:
            for sealed in self._registry[table]:
                old = getattr(row, sealed.column)
                if not old or old.startswith(self._prefix):
                    continue  # empty, or already under the newest key
                new = self._reseal(sealed, row.id, old)
                if new is None:
                    stats.unreadable.append(f"{sealed.name}:{row.id}")
                elif _cas(conn, t, row.id, sealed.column, old, new):
                    stats.changed += 1
                else:
                    stats.lost += 1
        return stats

    def _reseal(self, sealed: SealedColumn, row_id: str, value: str) -> str | None:
        aad = sealed.aad(row_id)
        try:
            plain = self.keys.decrypt_bytes(value, aad)
        except CryptoError:
            # By place only: the value itself may be personal data.
            log.warning("a sealed value does not open: %s:%s", sealed.name, row_id)
            return None
        return self.keys.encrypt_bytes(plain, aad)


def _sealed_where(t: Table, sealed: SealedColumn, prefix: str):
    col = t.c[sealed.column]
    return col.is_not(None), col != "", func.substr(col, 1, len(prefix)) != prefix


def remaining(db: Database, kid: str) -> int:
    """How many sealed values are under any key other than `kid`."""
    prefix = f"v1.{kid}."
    total = 0
    with db.transaction(write=False) as session:
        conn = session.connection()
        for table, columns in tables().items():
            t = _table(table)
            for sealed in columns:
                total += conn.execute(
                    select(func.count()).select_from(t).where(*_sealed_where(t, sealed, prefix))
                ).scalar_one()
    return total


def _kid_expr(conn: Connection, col):
    # Values are `v1.<kid>.<body>`; a kid has no dots.
    if conn.dialect.name == "postgresql":
        return func.split_part(col, ".", 2)
    rest = func.substr(col, 4)
    return func.substr(rest, 1, func.instr(rest, ".") - 1)


def census(db: Database) -> dict[str, dict[str, int]]:
    """Per sealed column (`table.column`), how many values each key id seals."""
    out: dict[str, dict[str, int]] = {}
    with db.transaction(write=False) as session:
        conn = session.connection()
        for table, columns in tables().items():
            t = _table(table)
            for sealed in columns:
                col = t.c[sealed.column]
                kid = _kid_expr(conn, col).label("kid")
                rows = conn.execute(
                    select(kid, func.count())
                    .select_from(t)
                    .where(col.is_not(None), col != "")
                    .group_by(kid)
                    .order_by(kid)
                )
                out[sealed.name] = {k or "?": n for k, n in rows}
    return out


def jobs(db: Database) -> list:
    """Every maintenance job, newest first (for `keys status`)."""
    with db.transaction(write=False) as session:
        return list(session.connection().execute(select(_job).order_by(_job.c.started_at.desc())))


# Reindex ---------------------------------------------------------------------------------

_EMAILS = (
    ("subject_email_enc", "subject_email_bidx"),
    ("requester_email_enc", "requester_email_bidx"),
)


class Reindex(KeyJob):
    """Recompute `request.subject_email_bidx` and `requester_email_bidx` under the current
    blind-index key (`keys.reindex:<fingerprint>`), from the sealed e-mail addresses."""

    audit_action = "blind_index_moved"

    def __init__(self, db: Database, keys: KeyRing, blind_index: BlindIndex, **kw) -> None:
        super().__init__(db, **kw)
        self.keys = keys
        self.blind_index = blind_index
        self.name = f"keys.reindex:{blind_index.fingerprint}"

    def tables(self) -> tuple[str, ...]:
        return ("request",)

    def columns(self, table: str) -> list:
        t = _table(table)
        return [t.c[c] for pair in _EMAILS for c in pair]

    def batch(self, conn: Connection, table: str, rows: Iterable) -> BatchStats:
        t = _table(table)
        stats = BatchStats()
        for row in rows:
            for enc_col, bidx_col in _EMAILS:
                enc, old = getattr(row, enc_col), getattr(row, bidx_col)
                if not enc:
                    # No address left to recompute from (e.g. purged): nothing can match it.
                    stats.kept += old is not None
                    continue
                try:
                    email = self.keys.decrypt(enc, pii.aad(row.id, enc_col.removesuffix("_enc")))
                except CryptoError:
                    log.warning("a sealed e-mail does not open: request.%s:%s", enc_col, row.id)
                    stats.unreadable.append(f"request.{enc_col}:{row.id}")
                    continue
                new = self.blind_index.email(email or "")
                if new == old:
                    continue
                if _cas(conn, t, row.id, bidx_col, old, new, **{enc_col: enc}):
                    stats.changed += 1
                else:
                    stats.lost += 1
        return stats

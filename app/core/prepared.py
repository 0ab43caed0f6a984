"""Core statements run straight on the driver, for the hottest write path (filing).

SQLAlchemy's execution of a Core statement costs ~40-60 µs of Python per statement on these
machines (cache key, compiled-cache look-up, execution context, events, result set-up) against
~10-30 µs for the statement itself in SQLite; a filing runs about ten. `PreparedConnection`
wraps the transaction's `Connection`: a module-level statement that it has seen before is
compiled once per parameter shape (by SQLAlchemy, for this dialect, so the SQL, the bind
order and the type conversions are SQLAlchemy's own) and then run on the DBAPI cursor of the
same connection, inside the same transaction. Anything it cannot do exactly the same way
(Python-side column defaults, expanding IN, result columns that need conversion, text()) goes
through SQLAlchemy as usual, so callers never see the difference.

The group writer hands its units a `PreparedSession`: a Session whose `connection()` is that
wrapper, so the services (requests/service.py and the helpers it calls) keep writing plain
`session.connection().execute(STATEMENT, params)` and stay the one path for every channel.
Driver errors come out wrapped as SQLAlchemy's (DBAPIError subclasses, parameters hidden).

**Pipelined on PostgreSQL, in a group writer's batch** (`BATCH`): from the transaction's
first statement (so its BEGIN travels with it) the connection is in psycopg's pipeline mode.
A statement that returns nothing (the INSERTs of a filing) is sent without waiting for its
answer; one that returns rows is sent too, and its rows are waited for when the caller first
reads them, so whatever was sent before it shares that round trip (an advisory lock and the
count it guards: one). A batch's filings cost round trips only where the service reads an
answer. The pipeline is synced, and the errors of what it sent are raised, before anything
else reaches the connection: anything SQLAlchemy or the ORM runs (`before_cursor_execute`),
and the commit. So a batch commits only once every statement it sent has succeeded, and
nothing is acknowledged before its commit (core/group_writer.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, namedtuple
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session

from app.core.db import BATCH, run_before_commit
from app.models.base import UTCDateTime

_SEEN_MAX = 512
_PREPARED_MAX = 256


# The conversion of the last UTC datetime bound, per dialect: a filing binds the same `now`
# object to a dozen columns of several statements, and SQLite's conversion to text cost more
# than some of the statements. Every UTCDateTime column converts alike, so one cell serves all;
# the cell is a tuple, swapped whole, so threads sharing it never see half of one.
_LAST_DATETIME: dict[str, tuple] = {}


def _shared_datetime(process, dialect_name: str):
    def convert(value):
        seen = _LAST_DATETIME.get(dialect_name)
        if seen is not None and seen[0] is value:
            return seen[1]
        out = process(value)
        if value is not None:
            _LAST_DATETIME[dialect_name] = (value, out)
        return out

    return convert


class _Prepared:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("converters", "fixed", "order", "processors", "returns", "row", "sql", "types")

    def __init__(self, statement, conn: Connection, keys: tuple[str, ...]) -> None:
        dialect = conn.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise _Unsupported  # Python-side defaults: SQLAlchemy fills them per execution
        if (
            getattr(compiled, "_post_compile_expanded_state", None)
            or compiled.literal_execute_params
        ):
            raise _Unsupported
        if compiled.post_compile_params:
            raise _Unsupported
        self.sql = compiled.string
        # Bind names in the order the driver wants them (qmark/numeric), or None (named).
        self.order = tuple(compiled.positiontup) if compiled.positional else None
        self.processors = {
            name: _shared_datetime(process, dialect.name)
            if isinstance(compiled.binds[name].type, UTCDateTime)
            else process
            for name, process in compiled._bind_processors.items()
        }
        # Values the statement carries itself (literals in WHERE), by bind name.
        self.fixed = {
            name: bind.effective_value
            for bind, name in compiled.bind_names.items()
            if not bind.required and name not in keys
        }
        columns = compiled._result_columns
        self.returns = bool(columns)
        self.types = [c[3] for c in columns]
        # Per column, the conversion SQLAlchemy's result would apply (JSON, datetimes …):
        # known once the driver has described the columns (the first execution).
        self.converters: list | None = None
        self.row = namedtuple("Row", [c[0] for c in columns], rename=True) if columns else None

    def rows(self, cursor, dialect) -> list:
        raw = cursor.fetchall()
        if self.converters is None:
            self.converters = [
                type_._cached_result_processor(dialect, desc[1])
                for type_, desc in zip(self.types, cursor.description, strict=True)
            ]
        make, converters = self.row._make, self.converters
        if not any(converters):
            return [make(r) for r in raw]
        return [
            make([v if f is None else f(v) for f, v in zip(converters, r, strict=True)])
            for r in raw
        ]

    def bind(self, params: dict[str, Any]):
        """The driver's parameters: converted by the column types, in the driver's order."""
        fixed, processors = self.fixed, self.processors
        if self.order is not None:
            out = []
            for name in self.order:
                value = params[name] if name in params else fixed[name]
                process = processors.get(name)
                out.append(value if process is None else process(value))
            return out
        values = {**fixed, **params} if fixed else params
        if not processors:
            return values
        return {k: (processors[k](v) if k in processors else v) for k, v in values.items()}


class _Unsupported(Exception):
    pass


class _Result:
    """The parts of CursorResult the services use: rows (named), scalars, rowcount."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self):
        return iter(self._rows)

    def all(self) -> list:
        return list(self._rows)

    fetchall = all

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            raise (
                sa_exc.NoResultFound("No row")
                if not self._rows
                else sa_exc.MultipleResultsFound("Multiple rows")
            )
        return self._rows[0]

    def one_or_none(self):
        if len(self._rows) > 1:
            raise sa_exc.MultipleResultsFound("Multiple rows")
        return self._rows[0] if self._rows else None

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalar_one(self):
        return self.one()[0]

    def scalar_one_or_none(self):
        row = self.one_or_none()
        return None if row is None else row[0]

    def scalars(self) -> _Result:
        return _Result([row[0] for row in self._rows], self.rowcount)


class _Awaited(_Result):
    """A pipelined statement's result: its rows are fetched (and its error raised) when the
    result is first read."""

    __slots__ = ("_fetch",)

    def __init__(self, fetch) -> None:
        self._fetch = fetch

    def __getattr__(self, name: str):
        if name not in ("_rows", "rowcount"):
            raise AttributeError(name)
        self._rows, self.rowcount = self._fetch()
        return getattr(self, name)


class _Cache:
    """Statements seen once (not yet worth compiling: a statement built per call is seen only
    once) and statements prepared, both bounded, per dialect; shared by the threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: OrderedDict = OrderedDict()
        self.prepared: OrderedDict = OrderedDict()

    def get(self, key, statement, conn: Connection, keys: tuple[str, ...]):
        """The prepared statement, or None: run it through SQLAlchemy this time."""
        with self.lock:
            found = self.prepared.get(key)
            if found is not None:
                return found
            if key not in self.seen:
                self.seen[key] = True
                if len(self.seen) > _SEEN_MAX:
                    self.seen.popitem(last=False)
                return None
        try:
            prepared: _Prepared | bool = _Prepared(statement, conn, keys)
        except _Unsupported:
            prepared = False
        except Exception:  # anything odd: SQLAlchemy runs it, as always
            prepared = False
        with self.lock:
            self.prepared[key] = prepared
            if len(self.prepared) > _PREPARED_MAX:
                self.prepared.popitem(last=False)
        return prepared


_CACHE = _Cache()
_FAST = (Insert, Update, Select)


_PIPELINE = "pipeline"  # in the Connection's info: psycopg's open pipeline, if any


def sync_pipeline(conn: Connection, *, discard: bool = False) -> None:
    """Close the connection's pipeline, if one is open: wait for the answers of every statement
    sent through it, raising the first error among them (unless `discard`: a rollback)."""
    pipeline = conn.info.pop(_PIPELINE, None)
    if pipeline is None:
        return
    try:
        pipeline.__exit__(None, None, None)
    except Exception:
        if not discard:
            raise


@event.listens_for(Engine, "before_cursor_execute")
def _sync_before_execute(conn, cursor, statement, parameters, context, executemany) -> None:
    if _PIPELINE in conn.info:
        sync_pipeline(conn)


@event.listens_for(Engine, "commit")
def _sync_before_commit(conn) -> None:
    if _PIPELINE in conn.info:
        sync_pipeline(conn)


@event.listens_for(Engine, "rollback")
def _discard_on_rollback(conn) -> None:
    if _PIPELINE in conn.info:
        sync_pipeline(conn, discard=True)


class PreparedConnection:
    """A Connection whose `execute` of a known Core statement goes straight to the driver."""

    def __init__(self, conn: Connection, *, pipelined: bool = False) -> None:
        self._conn = conn
        self.dialect = conn.dialect
        self._dialect_name = conn.dialect.name
        self._dbapi_error = conn.dialect.loaded_dbapi.Error
        self._pipelined = pipelined and self._dialect_name == "postgresql"
        self._queue_cursor = None

    def __getattr__(self, name: str):
        return getattr(self._conn, name)

    def execute(self, statement, parameters=None, **kw):
        if kw or not isinstance(statement, _FAST):
            return self._conn.execute(statement, parameters, **kw)
        many = isinstance(parameters, list)
        if many and not parameters:
            return self._conn.execute(statement, parameters)
        first = parameters[0] if many else (parameters or {})
        keys = tuple(first)
        prepared = _CACHE.get((statement, self._dialect_name, keys), statement, self._conn, keys)
        if not prepared:
            return self._conn.execute(statement, parameters)
        if self._pipelined and not prepared.returns:
            return self._send(prepared, parameters if many else first, many)
        if self._pipelined and not many:
            return self._send_returning(prepared, first)
        cursor = self._conn.connection.driver_connection.cursor()
        try:
            if _PIPELINE in self._conn.info:
                sync_pipeline(self._conn)
            if many:
                if prepared.returns:
                    return self._conn.execute(statement, parameters)
                cursor.executemany(prepared.sql, [prepared.bind(p) for p in parameters])
                return _Result([], cursor.rowcount)
            cursor.execute(prepared.sql, prepared.bind(first))
            rows = prepared.rows(cursor, self.dialect) if prepared.returns else []
            return _Result(rows, cursor.rowcount)
        except self._dbapi_error as error:
            raise self._wrap(prepared, error) from error
        finally:
            cursor.close()

    def sync(self) -> None:
        """Wait for the answers of what the pipeline sent (errors raised as SQLAlchemy's)."""
        if _PIPELINE not in self._conn.info:
            return
        try:
            sync_pipeline(self._conn)
        except self._dbapi_error as error:
            raise sa_exc.DBAPIError.instance(
                None, None, error, self._dbapi_error, hide_parameters=True, dialect=self.dialect
            ) from error

    def _pipeline(self):
        """The driver connection, in pipeline mode (entered at the transaction's first
        statement, so its BEGIN travels with that statement instead of on its own)."""
        info = self._conn.info
        raw = self._conn.connection.driver_connection
        if _PIPELINE not in info:
            pipeline = raw.pipeline()
            pipeline.__enter__()
            info[_PIPELINE] = pipeline
        return raw

    def _send_returning(self, prepared: _Prepared, parameters) -> _Result:
        """Send a statement that returns rows through the pipeline; its rows are waited for
        when first read. What was sent before it travels in the same round trip, and a
        statement whose rows nobody reads (an advisory lock taken) costs none of its own."""
        try:
            cursor = self._pipeline().cursor()
            cursor.execute(prepared.sql, prepared.bind(parameters))
        except self._dbapi_error as error:
            sync_pipeline(self._conn, discard=True)
            raise self._wrap(prepared, error) from error

        def fetch() -> tuple[list, int]:
            try:
                return prepared.rows(cursor, self.dialect), cursor.rowcount
            except self._dbapi_error as error:
                raise self._wrap(prepared, error) from error
            finally:
                cursor.close()

        return _Awaited(fetch)

    def _wrap(self, prepared: _Prepared, error: Exception) -> sa_exc.DBAPIError:
        return sa_exc.DBAPIError.instance(
            prepared.sql,
            None,
            error,
            self._dbapi_error,
            hide_parameters=True,
            dialect=self.dialect,
        )

    def _send(self, prepared: _Prepared, parameters, many: bool) -> _Result:
        """Send a statement that returns nothing through the pipeline, without waiting."""
        try:
            raw = self._pipeline()
            if self._queue_cursor is None:
                self._queue_cursor = raw.cursor()
            if many:
                self._queue_cursor.executemany(prepared.sql, [prepared.bind(p) for p in parameters])
            else:
                self._queue_cursor.execute(prepared.sql, prepared.bind(parameters))
        except self._dbapi_error as error:
            sync_pipeline(self._conn, discard=True)
            raise self._wrap(prepared, error) from error
        # The row count is not known yet; the filing's statements do not ask for it.
        return _Result([], -1)


class PreparedSession(Session):
    """A Session whose `connection()` is the transaction's PreparedConnection (one per
    transaction); the ORM (`get`, `add`, `flush`) works as in any session."""

    def commit(self) -> None:
        # The last writes (`before_commit`) and the answers of everything sent through the
        # pipeline come before SQLAlchemy's commit begins: an error among them leaves the
        # transaction open for the caller's rollback, as any failed statement does.
        run_before_commit(self)
        cached = self.info.get("_prepared")
        if cached is not None and cached[0] is self._transaction:
            cached[1].sync()
        super().commit()

    def connection(self, *args, **kw):  # type: ignore[override]
        if args or kw:
            return super().connection(*args, **kw)
        cached = self.info.get("_prepared")
        # One connection per transaction: the wrapper is good while the transaction is.
        if cached is not None and cached[0] is self._transaction and cached[0].is_active:
            return cached[1]
        wrapped = PreparedConnection(super().connection(), pipelined=bool(self.info.get(BATCH)))
        self.info["_prepared"] = (self._transaction, wrapped)
        return wrapped

"""A statement prepared while a table was small keeps using its index once the table is large.

psycopg prepares a statement run five times on a connection, and PostgreSQL may then keep one
generic plan for the connection's life. Made on a new, empty table (a new database, or a
surge's first minute before autovacuum analyses it), the hourly count per filer was a
sequential scan, and stayed one: in bench/intake.py every filing scanned the whole request
table, and the server's CPU per filing grew round by round. core/db.py plans each execution.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from app.core.db import make_engine
from app.requests.service import _RECENT_BY_FILER
from tests.support import T0

# A new, empty copy of the request table, found first by the statement's unqualified name.
_FRESH = "CREATE SCHEMA fresh; CREATE TABLE fresh.request (LIKE public.request INCLUDING ALL)"
_GROW = text(
    "INSERT INTO fresh.request (id, reference, type, status, channel, locale, categories,"
    " received_at, due_at, statutory_due_at, created_at, updated_at, version, requester_kind,"
    " subject_email_bidx) "
    "SELECT 'req_' || g, 'RD-' || g, 'access', 'open', 'portal', 'ko', '[]', now(), now(), now(),"
    " now(), now(), 1, 'self', 'bidx-' || g FROM generate_series(1, 20000) AS g"
)
_SCANS = text(
    "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables "
    "WHERE schemaname = 'fresh' AND relname = 'request'"
)


def test_the_hourly_count_is_planned_for_the_table_as_it_is(app, database_url):
    engine = make_engine(database_url)
    params = {"bidx": "bidx-nobody", "since": T0 - timedelta(hours=1)}
    if database_url.startswith("sqlite"):
        # An embedded database: SQLite keeps no plan per connection from a table's early
        # size; the count runs, and that is all there is to see.
        with engine.connect() as conn:
            assert conn.execute(_RECENT_BY_FILER, params).scalar_one() == 0
        engine.dispose()
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(_FRESH)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET search_path = fresh, public")
            conn.commit()  # kept for the session: the rollbacks below must not undo it
            for _ in range(12):  # prepared by psycopg after five runs, then by the server
                assert conn.execute(_RECENT_BY_FILER, params).scalar_one() == 0
            [(generic, custom)] = conn.execute(_PLANS).all()
            _flush(conn)
            with engine.begin() as grow:
                grow.execute(_GROW)
            before = _scans(engine)
            for _ in range(3):
                assert conn.execute(_RECENT_BY_FILER, params).scalar_one() == 0
            _flush(conn)
            after = _scans(engine)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS fresh CASCADE")
        engine.dispose()
    # Planned on the empty table, a kept (generic) plan is a sequential scan; none is kept.
    assert generic == 0 and custom >= 5
    # Once the table has grown, each count goes through the two e-mail indexes.
    assert after[0] == before[0], "the count scanned the whole table"
    assert after[1] == before[1] + 6


_PLANS = text(
    "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
    "WHERE statement LIKE 'SELECT count(*)%'"
)


def _flush(conn) -> None:
    """End the connection's transaction with its statistics reported (PostgreSQL reports a
    backend's counts when it goes idle, at most once a second unless forced)."""
    conn.execute(text("SELECT pg_stat_force_next_flush()"))
    conn.rollback()


def _scans(engine) -> tuple[int, int]:
    """Sequential and index scans of the fresh table so far, as reported."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return tuple(conn.execute(_SCANS).one())

"""Planner statistics when the PostgreSQL server keeps none itself (core/db.py).

With autovacuum off, no table is ever analysed and the planner plans for the empty tables of
the first minute: in bench/soak.py the staff queue's first page became a scan and sort of every
open request. The worker analyses what autovacuum would have (its own threshold), and each
start warns the operator.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.db import Database, analyze_stale, warn_if_unanalysed

# A copy of the request table in a schema of its own, found first by the engine's search path.
_SCHEMA = "unwatched"
_MAKE = (
    f"CREATE SCHEMA {_SCHEMA}; CREATE TABLE {_SCHEMA}.request (LIKE public.request INCLUDING ALL);"
    # Switched off for this table whatever the server's setting, so the test means the same
    # on a server with autovacuum on (PostgreSQL's default) and on this machine's (off).
    f" ALTER TABLE {_SCHEMA}.request SET (autovacuum_enabled = false)"
)
_GROW = (
    f"INSERT INTO {_SCHEMA}.request (id, reference, type, status, channel, locale, categories,"
    " received_at, due_at, statutory_due_at, created_at, updated_at, version, requester_kind,"
    " subject_email_bidx) "
    "SELECT 'req_' || g, 'RD-' || g, 'access', 'open', 'portal', 'ko', '[]', now(), now(), now(),"
    " now(), now(), 1, 'self', 'bidx-' || g FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS g"
)
_STATS = text(
    "SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL, n_mod_since_analyze "
    "FROM pg_stat_user_tables WHERE schemaname = :schema AND relname = 'request'"
)


def _stats(db: Database) -> tuple[bool, int]:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return tuple(conn.execute(_STATS, {"schema": _SCHEMA}).one())


def _grow(db: Database, first: int, last: int) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(_GROW), {"first": first, "last": last})
        conn.execute(text("SELECT pg_stat_force_next_flush()"))


def test_the_worker_analyses_what_autovacuum_would_have(app, database_url):
    if database_url.startswith("sqlite"):
        # SQLite has no autovacuum to stand in for: its statistics are the hourly ANALYZE.
        db = Database(database_url)
        assert analyze_stale(db) == []
        db.dispose()
        return
    main = Database(database_url)
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={_SCHEMA}"})
    db = Database(url.render_as_string(hide_password=False))
    try:
        with main.engine.begin() as conn:
            conn.exec_driver_sql(_MAKE)
        assert analyze_stale(db) == []  # an empty table: nothing changed
        _grow(db, 1, 20_000)
        assert _stats(db) == (False, 20_000)
        assert analyze_stale(db) == ["request"]
        assert _stats(db) == (True, 0)
        assert analyze_stale(db) == []  # nothing changed since
        # Below autovacuum's threshold (50 + 10 % of 20,000 rows): left alone, as it would be.
        _grow(db, 20_001, 21_000)
        assert analyze_stale(db) == []
        assert _stats(db) == (True, 1_000)
        _grow(db, 21_001, 23_500)
        assert analyze_stale(db) == ["request"]
        assert _stats(db) == (True, 0)
    finally:
        with main.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_SCHEMA} CASCADE")
        db.dispose()
        main.dispose()


def test_each_start_warns_when_the_server_analyses_nothing(database_url, caplog):
    db = Database(database_url)
    try:
        if db.is_sqlite:
            expected = False
        else:
            with db.engine.connect() as conn:
                settings = conn.execute(
                    text("SELECT current_setting('autovacuum'), current_setting('track_counts')")
                ).one()
            expected = "off" in settings
        with caplog.at_level(logging.WARNING, logger="rightsdesk.db"):
            warn_if_unanalysed(db)
    finally:
        db.dispose()
    warned = [r for r in caplog.records if "autovacuum" in r.getMessage()]
    assert bool(warned) == expected

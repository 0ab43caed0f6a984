"""The queue's pages are index seeks, even deep into a million rows (bench/staff_queue.py measures
it; this guards the query shape): the plan of every page uses an index, never a table scan."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app.core.db import refresh_statistics
from app.models.request import Request
from app.requests import queue
from tests.support import T0, file_request

SEEDED = 3000


def _seed(app) -> None:
    """A queue worth planning for, shaped like a real one: one filing copied SEEDED times, most
    of them closed history, few deletions, nobody assigned. Each filter is then selective, so
    the index that leads with it is the right plan. (On an empty table every index costs the
    same and the planner's pick was a tie broken by what earlier tests left behind: CI once saw
    the assignee filter served by (due_at, id).)"""
    with TestClient(app) as client:
        file_request(client)
    names = [c.name for c in Request.__table__.columns]
    chosen = {
        "id": "'req_seed' || g.n",
        "reference": "'RS-' || g.n",
        "type": "CASE WHEN g.n % 47 = 0 THEN 'deletion' ELSE 'access' END",
        "status": "CASE WHEN g.n % 10 < 8 THEN 'closed' "
        "WHEN g.n % 10 = 8 THEN 'open' ELSE 'in_progress' END",
        "closed_at": "CASE WHEN g.n % 10 < 8 THEN r.received_at END",
        "assignee_id": "NULL",
    }
    columns = ", ".join(names)
    values = ", ".join(chosen.get(name, f"r.{name}") for name in names)
    ctx = app.state.ctx
    with ctx.db.engine.begin() as conn:
        conn.execute(
            text(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n) "
                f"INSERT INTO request ({columns}) SELECT {values} FROM request r, g"
            ),
            {"n": SEEDED},
        )
    if not ctx.db.is_sqlite:  # autovacuum would, in its own time
        with ctx.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE request")


def _plan(conn, sql: str, params) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        return " | ".join(str(r[-1]) for r in rows)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny tables: ask what it *would* use
    rows = conn.exec_driver_sql(f"EXPLAIN {sql}", params).all()
    return " | ".join(r[0] for r in rows)


# Which indexes may serve each filter: the one that leads with the filter, then (due_at, id).
@pytest.mark.parametrize(
    ("filters", "indexes"),
    [
        ({}, {"ix_request_due_at_id"}),
        (
            {"status": ["open", "in_progress"]},
            {"ix_request_status_due_at_id", "ix_request_open_due_at_id"},
        ),
        ({"type": ["deletion"]}, {"ix_request_type_due_at_id"}),
        ({"overdue": True}, {"ix_request_open_due_at_id"}),
        ({"assignee": "usr_x"}, {"ix_request_assignee_id_due_at_id"}),
        ({"due_before": T0 + timedelta(days=30)}, {"ix_request_due_at_id"}),
    ],
)
def test_every_page_is_an_index_seek(app, filters, indexes):
    ctx = app.state.ctx
    _seed(app)
    refresh_statistics(ctx.db)
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM request" in statement:
            captured.append((statement, parameters))

    with ctx.db.session(write=False) as session:
        event.listen(ctx.db.engine, "before_cursor_execute", capture)
        try:
            cursor = queue.encode_cursor(T0, "req_m")
            queue.page(session, ctx, queue.QueueFilter(**filters), limit=50, cursor=cursor)
        finally:
            event.remove(ctx.db.engine, "before_cursor_execute", capture)
        sql, params = captured[-1]
        session_dialect = session.connection().dialect.name
        plan = _plan(session.connection(), sql, params)
    assert "SCAN request" not in plan and "Seq Scan" not in plan, plan
    used = set(re.findall(r"\b(ix_request_\w+)", plan))
    assert used and used <= indexes, plan
    # A seek: the cursor's row comparison is a condition *of the index*, not a filter applied
    # to rows read in order from the start (which PostgreSQL with seqscan off would also call
    # an "Index Scan", and which costs a full walk on deep pages).
    if session_dialect == "sqlite":
        assert "(due_at,id)>(?,?)" in plan, plan
    else:
        index_conds = [part for part in plan.split(" | ") if "Index Cond:" in part]
        assert any("ROW(due_at, (id)::text) >" in c for c in index_conds), plan


def test_statistics_are_kept_on_sqlite(app, database_url):
    ctx = app.state.ctx
    refresh_statistics(ctx.db)
    if ctx.db.is_sqlite:
        with ctx.db.engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                ).scalar_one()
                == 1
            )

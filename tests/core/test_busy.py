"""A database that cannot serve a call now is a 503 with Retry-After that changes nothing, not
a 500 (core/errors.py database_busy).

The soak found it: four API workers and a delivery worker, each allowed 30 PostgreSQL
connections, opened more than the server takes in a surge, and every call that met "too many
clients" was a 500. Each process's pool is now bounded (RIGHTSDESK_DB_POOL_*); past the bound
a call waits the pool's timeout and is then told to come back. On SQLite the same holds for
the write lock: a writer that waited too long for it gets the 503.
"""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.core import db as db_module
from app.core.db import Database, Pool, connection_budget
from app.main import create_app
from tests.conftest import _clean
from tests.support import login, make_settings, make_staff, request_body, sql_rows


@pytest.fixture
def settings(database_url, tmp_path):
    # One connection, and a short wait for it: the test holds it, and the calls queue.
    return make_settings(
        database_url,
        tmp_path,
        db_pool_size=1,
        db_pool_overflow=0,
        db_pool_timeout_seconds=0.3,
    )


class _Held:
    """Takes what every write needs and keeps it: PostgreSQL's one pooled connection, or
    SQLite's write lock (its wait shortened to the pool's)."""

    def __init__(self, ctx, monkeypatch) -> None:
        if ctx.db.is_sqlite:
            monkeypatch.setattr(db_module, "WRITE_LOCK_TIMEOUT", 0.3)
            self._held = ctx.db.session()
            self._held.connection()  # BEGIN IMMEDIATE: this process's write lock, held
        else:
            self._held = ctx.db.engine.connect()
            self._held.exec_driver_sql("SELECT 1")

    def release(self) -> None:
        self._held.close()


def _count(database_url) -> int:
    [(n,)] = sql_rows(database_url, "SELECT count(*) FROM request")
    return n


def test_calls_while_the_database_is_busy_are_503s_that_change_nothing(
    app, client, database_url, monkeypatch, caplog
):
    make_staff(app, "cpo@example.com", "cpo")
    headers = login(client, "cpo@example.com")
    held = _Held(app.state.ctx, monkeypatch)
    try:
        with caplog.at_level(logging.WARNING, logger="rightsdesk.errors"):
            filing = client.post("/v1/requests", json=request_body())
            entered = client.post(
                "/v1/staff/requests",
                json=request_body(channel="letter", received_at="2026-03-02T09:00:00+09:00"),
                headers=headers,
            )
    finally:
        held.release()
    for answer in (filing, entered):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["retry-after"] == "2"
        problem = answer.json()
        assert problem["type"].endswith("/service-unavailable")
        assert "nothing was changed" in problem["detail"]
    assert _count(database_url) == 0
    logged = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(logged) == 2
    assert all("example.com" not in line for line in logged)  # no personal data in the log
    # Once the database is free again, the same call goes through.
    assert client.post("/v1/requests", json=request_body()).status_code == 201
    assert _count(database_url) == 1


def test_serve_warns_when_its_workers_could_take_every_connection(database_url):
    db = Database(database_url, Pool(size=5, overflow=10))
    try:
        if db.is_sqlite:
            assert connection_budget(db, 64) is None  # an embedded file: no server to exhaust
            return
        [(limit, reserved)] = sql_rows(
            database_url,
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int",
        )
        fits = (limit - reserved - 1) // 15
        assert connection_budget(db, fits) is None
        warning = connection_budget(db, fits + 1)
    finally:
        db.dispose()
    assert warning is not None
    assert f"up to {(fits + 1) * 15} PostgreSQL connections" in warning
    assert f"accepts {limit - reserved}" in warning
    assert "RIGHTSDESK_DB_POOL_SIZE" in warning


def test_a_server_refusing_connections_is_a_503_too(database_url, tmp_path, clock, _cleaner):
    """The soak's own failure: PostgreSQL's "too many connections" at connect."""
    if database_url.startswith("sqlite"):
        return  # an embedded file: there is no server to refuse a connection
    url = make_url(database_url)
    role = f"rd_busy_{url.database}"
    grants = (
        f"DROP ROLE IF EXISTS {role}",
        f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in grants:
            conn.exec_driver_sql(statement)
    as_role = url.set(username=role).render_as_string(hide_password=False)
    app = create_app(make_settings(as_role, tmp_path), clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            app.state.ctx.db.engine.dispose()  # the app holds no connection now
            holder = create_engine(as_role)
            other = holder.connect()  # the role's one connection, taken
            try:
                refused = client.post("/v1/requests", json=request_body())
            finally:
                other.close()
                holder.dispose()
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "2"
            assert client.post("/v1/requests", json=request_body()).status_code == 201
        assert _count(database_url) == 1
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
            )
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
        _clean(_cleaner)

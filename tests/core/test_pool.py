"""Pooled connections on PostgreSQL: one that sat idle is pinged before it is handed out, so a
connection the server dropped meanwhile (a restart, an idle cut-off) is replaced instead of
failing the call; one returned a moment ago is handed out without a round trip (core/db.py)."""

from __future__ import annotations

from app.core import db as db_module
from tests.support import request_body, sql_rows

_DROP_THE_APPS_CONNECTIONS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _pings(engine, monkeypatch) -> list[int]:
    """Counts the pings the engine's dialect sends (psycopg's: `SELECT 1` in autocommit)."""
    seen: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_conn):
        seen.append(1)
        return ping(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def test_an_idle_connection_the_server_dropped_is_replaced(app, client, database_url, monkeypatch):
    assert client.post("/v1/requests", json=request_body()).status_code == 201
    if database_url.startswith("sqlite"):
        return  # an embedded database: no server to drop a connection, nothing to ping
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # every one counts as idle
    [(dropped,)] = sql_rows(database_url, _DROP_THE_APPS_CONNECTIONS)
    assert dropped >= 1  # the connections the filing and its writer left in the pool
    for n in range(3):
        body = request_body(subject={"name": "김영희", "email": f"after.drop{n}@example.com"})
        assert client.post("/v1/requests", json=body).status_code == 201
    assert client.get("/readyz").status_code == 200


def test_a_connection_back_in_the_pool_a_moment_ago_is_not_pinged(app, client, monkeypatch):
    pings = _pings(app.state.ctx.db.engine, monkeypatch)
    assert client.post("/v1/requests", json=request_body()).status_code == 201
    pings.clear()  # a connection left idle by an earlier test may have been pinged: fine
    for n in range(5):
        body = request_body(subject={"name": "김영희", "email": f"busy{n}@example.com"})
        assert client.post("/v1/requests", json=body).status_code == 201
    assert pings == []  # five filings, every connection reused within the idle limit

"""Test harness: a real database built by the migrations, a real app, HTTP through httpx.

RIGHTSDESK_TEST_DATABASE_URL selects PostgreSQL; unset means a SQLite file. A PostgreSQL that
cannot be reached fails the run: it is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.migrations import downgrade, upgrade
from app.main import create_app
from tests.support import T0, login, make_settings, make_staff

PG_URL = os.environ.get("RIGHTSDESK_TEST_DATABASE_URL")


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if PG_URL:
        assert make_url(PG_URL).get_backend_name() == "postgresql", "only PostgreSQL is supported"
        _reset_postgres(PG_URL)  # raises (fails the run) when PostgreSQL is unreachable
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'rightsdesk.db'}"
    # Both directions of every migration run on every test run.
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)
    return url


# Children before parents, for SQLite's DELETEs.
TABLES = [
    "maintenance_job",
    "audit_entry",
    "audit_review",
    "rate_limit_bucket",
    "webhook_delivery",
    "webhook_endpoint",
    "idempotency_key",
    "access_result",
    "transmission_log",
    "hold",
    "reminder",
    "timeline_event",
    "verification_code",
    "outbox_message",
    "objection",
    "extension",
    "task",
    "decision",
    "document",
    "staff_note",
    "request",
    "reference_counter",
    "api_client",
    "staff_user",
]


def _clean(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
            else:
                for table in TABLES:
                    conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(
                text(
                    "UPDATE audit_head SET seq = 0, hash = :h, base_seq = 0, base_hash = :h WHERE id = 1"
                ),
                {"h": "0" * 64},
            )
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def outbox_dir(tmp_path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def app(settings, clock, database_url):
    application = create_app(settings, clock)
    yield application
    _clean(database_url)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def staff(app, client):
    """Tokens (headers) and ids for a CPO, two handlers and an auditor."""
    people = {
        "cpo": ("cpo@example.com", "cpo"),
        "handler": ("handler@example.com", "handler"),
        "handler2": ("handler2@example.com", "handler"),
        "auditor": ("auditor@example.com", "auditor"),
    }
    out = {}
    for key, (email, role) in people.items():
        user_id = make_staff(app, email, role)
        out[key] = {"id": user_id, "email": email, "headers": login(client, email)}
    return out

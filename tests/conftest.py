"""Test harness: a real database built by the migrations, a real app, HTTP through httpx.

RIGHTSDESK_TEST_DATABASE_URL selects PostgreSQL; unset means a SQLite file. A PostgreSQL that
cannot be reached fails the run: it is never skipped.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import app.models
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.context import AppContext
from app.core.migrations import upgrade
from app.law import deadlines
from app.main import create_app
from tests.support import SEOUL_HOURS, T0, login, make_settings, make_staff

# The pages' browser fixtures (tests/portal, tests/console), registered once: one chromium
# per test session for both.
from tests.web.browser import browser, live, page, watch  # noqa: F401

PG_URL = os.environ.get("RIGHTSDESK_TEST_DATABASE_URL")


def _admin_url(url: str) -> str:
    """The same server, its maintenance database: CREATE/DROP DATABASE run from there."""
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def _recreate_postgres(url: str, *, template: str | None = None) -> None:
    """Drop and create the database of `url` (optionally as a copy of `template`)."""
    name = make_url(url).database
    engine = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        engine.dispose()


def _worker_suffix(worker_id: str) -> str:
    # Under pytest-xdist each worker ("gw0", "gw1", …) has a database of its own; a plain run
    # ("master") uses the configured one as it is.
    return "" if worker_id == "master" else f"_{worker_id}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    """A database for this test process, built by the migrations (`alembic upgrade head`).

    The migrations' way down and back up is tested on its own in tests/test_migrations.py.
    """
    if PG_URL:
        base = make_url(PG_URL)
        assert base.get_backend_name() == "postgresql", "only PostgreSQL is supported"
        url = base.set(database=f"{base.database}{_worker_suffix(worker_id)}").render_as_string(
            hide_password=False
        )
        if url == PG_URL:
            # The configured database itself: emptied in place (CI's user may not create
            # databases). Raises, failing the run, when PostgreSQL is unreachable.
            engine = create_engine(url)
            try:
                with engine.begin() as conn:
                    conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                    conn.execute(text("CREATE SCHEMA public"))
            finally:
                engine.dispose()
        else:
            _recreate_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'rightsdesk.db'}"
    upgrade(url)
    return url


# Every table but audit_head (one row, reset below), children before parents for SQLite.
TABLES = [
    t.name
    for t in reversed(SQLModel.metadata.sorted_tables)
    if t.name not in {"audit_head", "alembic_version"}
]


def _clean(engine: Engine) -> None:
    with engine.begin() as conn:
        # DELETE, not TRUNCATE, on PostgreSQL too: a test leaves a few rows, and TRUNCATE's
        # new files cost ~0.6 s per test against ~10 ms (measured on this 2-core machine).
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(
            text(
                "UPDATE audit_head SET seq = 0, hash = :h, base_seq = 0, base_hash = :h WHERE id = 1"
            ),
            {"h": "0" * 64},
        )


@pytest.fixture(scope="session")
def _cleaner(database_url) -> Iterator[Engine]:
    """The engine that empties the database after each test: one per test process (an engine
    made and disposed per test cost ~5 ms of its ~7). No pool: it holds no connection to the
    database between tests (a SQLite connection kept open across tests was followed by disk
    I/O errors in a whole-suite run)."""
    engine = create_engine(database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "seoul_hours: run the module's frozen clock at 00:30, 08:59, 10:00 and 23:59 in Seoul "
        "on T0's day (tests.support.SEOUL_HOURS)",
    )


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("seoul_hours") and (
        "clock_start" in metafunc.fixturenames
    ):
        metafunc.parametrize(
            "clock_start", list(SEOUL_HOURS.values()), ids=list(SEOUL_HOURS), indirect=True
        )


@pytest.fixture
def clock_start(request) -> datetime:
    """Where the frozen clock starts: T0, or each of SEOUL_HOURS in a `seoul_hours` module."""
    return getattr(request, "param", T0)


@pytest.fixture
def clock(clock_start) -> FrozenClock:
    return FrozenClock(clock_start)


@pytest.fixture
def outbox_dir(tmp_path) -> Path:
    return tmp_path / "outbox"


class _SharedApp:
    """One app per test process for the tests that take the default settings, instead of one
    per test: FastAPI builds each included route's handler on an app's first requests, ~3 ms
    per route, so a new app's first calls cost 0.2-0.4 s of CPU, the bulk of the suite's time.

    What was per test stays per test. The settings' folders are `<here>/var` and
    `<here>/outbox`, where `here` is a symlink re-pointed at each test's tmp_path (the files
    land in tmp_path/var and tmp_path/outbox, as with make_settings), the context's clock is
    the test's, the database is emptied after each test as before, and the lifespan runs per
    TestClient as before. A test that takes `monkeypatch` gets settings (and so an app) of its
    own, as does a module that defines its own `settings`; a test that changed the app or its
    context (a replaced attribute, a dead group writer, a new route, middleware, state or
    override) leaves it behind: the next test builds a new one.
    """

    def __init__(self, database_url: str, folder: Path) -> None:
        self.here = folder / "test"
        self.settings = make_settings(database_url, self.here)
        self.app = None
        self._baseline: tuple = ()

    def point_at(self, tmp_path: Path) -> None:
        link = self.here.with_name("test.new")
        link.unlink(missing_ok=True)
        link.symlink_to(tmp_path, target_is_directory=True)
        os.replace(link, self.here)

    def app_for(self, clock: FrozenClock):
        if self.app is None:
            self.app = create_app(self.settings, clock)
            self._baseline = self._shape(self.app)
        else:
            # create_app's one global: another app of the test process may have changed it.
            deadlines.configure(self.settings.extra_holiday_dates)
            self.app.state.ctx.clock = clock
        return self.app

    @staticmethod
    def _shape(application) -> tuple:
        ctx = application.state.ctx
        return (
            {k: id(v) for k, v in vars(ctx).items() if k != "clock"},
            {k: id(v) for k, v in vars(ctx.db).items()},
            {k: id(v) for k, v in application.state._state.items()},
            len(application.router.routes),
            len(application.user_middleware),
            len(application.exception_handlers),
        )

    def after(self) -> None:
        """Keep the app for the next test only if this one left it as it was. Its group
        writer is stopped and its engine's connections closed either way, as the lifespan's
        end does: no thread or connection of one test is left running into the next."""
        if self.app is None:
            return
        ctx = self.app.state.ctx
        ctx.intake_writer.stop()
        ctx.db.dispose()
        if (
            self._shape(self.app) != self._baseline
            or not ctx.intake_writer.alive
            or self.app.dependency_overrides
        ):
            self.app = None


@pytest.fixture(scope="session")
def _shared_app(database_url, tmp_path_factory) -> _SharedApp:
    return _SharedApp(database_url, tmp_path_factory.mktemp("shared"))


@pytest.fixture
def settings(database_url, tmp_path, request, _shared_app) -> Settings:
    if "monkeypatch" in request.fixturenames:
        return make_settings(database_url, tmp_path)
    _shared_app.point_at(tmp_path)
    return _shared_app.settings


@pytest.fixture
def app(settings, clock, _cleaner, _shared_app):
    shared = settings is _shared_app.settings
    application = _shared_app.app_for(clock) if shared else create_app(settings, clock)
    yield application
    if shared:
        _shared_app.after()
    _clean(_cleaner)


@pytest.fixture
def app_context(settings, clock) -> Iterator[Callable[..., AppContext]]:
    """Builds an AppContext outside the app (to run a job or a service by hand): on the test's
    settings and clock unless given others; each one's engine is disposed at teardown."""
    built: list[AppContext] = []

    def build(with_settings: Settings | None = None, with_clock=None) -> AppContext:
        ctx = AppContext.build(with_settings or settings, with_clock or clock)
        built.append(ctx)
        return ctx

    yield build
    for ctx in built:
        ctx.db.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class StaffMember(dict):
    """One of the `staff` fixture's people: `id` and `email`, and `headers` (a bearer token),
    logged in through the API the first time a test asks for them. A log-in costs a session
    row and access-record entries (~16 ms), and most tests use one or two of the four."""

    def __init__(self, client, **fields) -> None:
        super().__init__(**fields)
        self._client = client

    def __missing__(self, key: str):
        if key != "headers":
            raise KeyError(key)
        self["headers"] = login(self._client, self["email"])
        return self["headers"]


@pytest.fixture
def staff(app, client):
    """Tokens (headers, on first use) and ids for a CPO, two handlers and an auditor."""
    people = {
        "cpo": ("cpo@example.com", "cpo"),
        "handler": ("handler@example.com", "handler"),
        "handler2": ("handler2@example.com", "handler"),
        "auditor": ("auditor@example.com", "auditor"),
    }
    out = {}
    for key, (email, role) in people.items():
        user_id = make_staff(app, email, role)
        out[key] = StaffMember(client, id=user_id, email=email)
    return out


# Tests that start real processes (the server, workers, the CLI, pip) or race many threads for
# seconds: `make test-fast` leaves them out for day-to-day work; `make test` and CI run them.
SLOW = (
    "tests/e2e/",
    "tests/concurrency/test_multiprocess.py",
    "tests/integrations/test_webhook_workers.py",
    "tests/test_packaging.py",
)


def pytest_collection_modifyitems(config, items):
    root = Path(str(config.rootpath))
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
    # The slow tests first (a stable sort: each module keeps its order), so that pytest-xdist
    # hands them out while the many quick ones can still fill the other workers around them,
    # instead of one worker finishing a long e2e test alone at the end of the run.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# The suite builds an app per test, and what those leave behind for the cyclic collector grows
# with the run: each full collection walks it all (gen-2 passes cost 15-20 % of the suite's
# CPU), and the interpreter's last collection at exit took ~10 s per process. Objects alive at
# the start (modules, the app's code) are frozen out of every collection; the young generation
# is collected less often; and at the end everything is frozen, so the exit does not walk it.
def pytest_sessionstart(session):
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    gc.freeze()

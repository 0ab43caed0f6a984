"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.core.config import Settings

TEST_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
# Tuesday 1 December 2026, 10:00 in Seoul.
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)

# The same Seoul day at the hours where the zones disagree: from 00:00 to 08:59 in Seoul the UTC
# date is still the day before, and 23:59 is the last minute of the Seoul day. Modules marked
# `seoul_hours` (and tests/law) run their frozen clock at each of these and at T0.
SEOUL_HOURS = {
    "kst0030": datetime(2026, 11, 30, 15, 30, tzinfo=UTC),
    "kst0859": datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
    "kst1000": T0,
    "kst2359": datetime(2026, 12, 1, 14, 59, tzinfo=UTC),
}


class _TestSettings(Settings):
    """Settings from the test's own values only: neither the developer's environment nor a
    `.env` file leaks into a test (and reading them cost a tenth of a second per app)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *_, **__):
        return (init_settings,)


def make_settings(database_url: str, tmp_path: Path, **overrides) -> Settings:
    values = dict(
        database_url=database_url,
        var_dir=tmp_path / "var",
        notify_dir=tmp_path / "outbox",
        secret_key="test-secret-" + "x" * 40,
        encryption_keys=f"t1:{TEST_KEY}",
        blind_index_key="test-blind-index",
        delivery="sync",
        # Cheap hashing keeps the suite fast; production uses the argon2 defaults.
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    values.update(overrides)
    return _TestSettings(**values)


def read_outbox(directory: Path) -> list[dict]:
    if not directory.exists():
        return []
    files = sorted(directory.glob("*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def latest_code(directory: Path, request_id: str) -> str:
    messages = [
        m
        for m in read_outbox(directory)
        if m["template"] == "verification_code" and m["request_id"] == request_id
    ]
    assert messages, "no verification code was sent"
    # File names sort by message id, which is time-ordered.
    return CODE_RE.search(messages[-1]["text"]).group(1)


def request_body(**overrides) -> dict:
    body = {
        "type": "access",
        "subject": {
            "name": "홍길동",
            "email": "hong.gildong@example.com",
            "phone": "010-1234-5678",
        },
        "locale": "ko",
    }
    body.update(overrides)
    return body


def file_request(client: TestClient, **overrides) -> dict:
    response = client.post("/v1/requests", json=request_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def file_many(settings: Settings, clock, n: int, prefix: str = "user") -> None:
    """n portal filings through an app of these settings, each with its own e-mail address
    (`{prefix}{i}@example.com`): with delivery off, 2n notices wait in the outbox."""
    from app.main import create_app  # here, not at the top: most helpers need no app

    with TestClient(create_app(settings, clock)) as client:
        for i in range(n):
            file_request(
                client, subject={"name": f"사용자{i}", "email": f"{prefix}{i}@example.com"}
            )


def verified(client: TestClient, outbox: Path, **overrides) -> tuple[dict, dict]:
    """File a request and verify it; returns (created body, auth headers)."""
    created = file_request(client, **overrides)
    code = latest_code(outbox, created["id"])
    response = client.post(f"/v1/requests/{created['id']}/verification", json={"code": code})
    assert response.status_code == 200, response.text
    return created, {"Authorization": f"Bearer {response.json()['access_token']}"}


def count_rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


PASSWORD = "correct horse battery staple"


def make_staff(app, email: str, role: str, password: str = PASSWORD) -> str:
    """Create a staff account straight through the service (as `rightsdesk create-user` does)."""
    from app.accounts import service
    from app.accounts.schemas import Role

    ctx = app.state.ctx
    with ctx.db.transaction() as session:
        return service.create_user(session, ctx, email=email, role=Role(role), password=password).id


def token_response(client: TestClient, email: str, password: str = PASSWORD):
    """The raw answer to a staff log-in (`POST /v1/auth/token`), whatever it is."""
    return client.post("/v1/auth/token", data={"username": email, "password": password})


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = token_response(client, email, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def staff_read(client: TestClient, headers: dict, request_id: str) -> dict:
    response = client.get(f"/v1/staff/requests/{request_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def act(
    client: TestClient,
    headers: dict,
    request_id: str,
    action: str,
    body=None,
    version: int | None = None,
    expect: int = 200,
) -> dict:
    """POST a staff action with If-Match (the current version unless given)."""
    if version is None:
        version = staff_read(client, headers, request_id)["version"]
    response = client.post(
        f"/v1/staff/requests/{request_id}/{action}",
        headers={**headers, "If-Match": str(version)},
        json=body,
    )
    assert response.status_code == expect, response.text
    return response.json()


class InProgress(NamedTuple):
    """A request verified and assigned: what filing answered, and the subject's token headers."""

    created: dict
    subject: dict

    @property
    def id(self) -> str:
        return self.created["id"]


def in_progress(
    client: TestClient, outbox: Path, staff: dict, *, assignee="handler@example.com", **overrides
) -> InProgress:
    """File a request (`request_body(**overrides)`), verify it by the subject's code and have the
    CPO assign it (to the handler unless told): it is in progress."""
    created, subject = verified(client, outbox, **overrides)
    act(client, staff["cpo"]["headers"], created["id"], "assign", {"assignee": assignee})
    return InProgress(created, subject)


def fresh_subject_token(client: TestClient, outbox: Path, request_id: str) -> dict:
    """After the clock moved past a token's life: a new code, a new token."""
    assert client.post(f"/v1/requests/{request_id}/verification/resend").status_code == 202
    code = latest_code(outbox, request_id)
    response = client.post(f"/v1/requests/{request_id}/verification", json={"code": code})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def relogin(client: TestClient, staff: dict) -> None:
    for person in staff.values():
        person["headers"] = login(client, person["email"])


def start_until_ready(
    argv: list[str], env: dict, log: Path, ready_url: str, timeout: float = 30.0
) -> subprocess.Popen:
    """Start a server process (output to `log`) and wait until `ready_url` answers 200; the
    process is killed and the test fails if it exits or is not ready in time."""
    import time

    import httpx
    import pytest

    proc = subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{argv[1]} exited: {log.read_text()}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail(f"{argv[1]} did not become ready: {log.read_text()}")


def finish_tasks(
    client: TestClient, headers: dict, request_id: str, data: dict | None = None
) -> list[dict]:
    """Complete every open fulfil and collect task of a request, so it can be completed: a
    collect task returns `data` (default: one record naming its category and system)."""
    listed = client.get(
        "/v1/staff/tasks", headers=headers, params={"request_id": request_id, "limit": 200}
    )
    assert listed.status_code == 200, listed.text
    done = []
    for task in listed.json()["items"]:
        if task["kind"] not in ("fulfil", "collect"):
            continue
        body: dict = {"outcome": "done"}
        if task["kind"] == "collect":
            body["data"] = data or {"category": task["category"], "system": task["system"]}
        response = client.post(f"/v1/staff/tasks/{task['id']}/complete", headers=headers, json=body)
        assert response.status_code == 200, response.text
        done.append(response.json())
    return done


def make_client(
    client: TestClient,
    cpo_headers: dict,
    scopes: list[str],
    systems: list[str] | None = None,
    name: str = "Shop app",
) -> dict:
    """Grant an integration client through the staff API; returns its credentials."""
    response = client.post(
        "/v1/staff/clients",
        headers=cpo_headers,
        json={"name": name, "scopes": scopes, "systems": systems or []},
    )
    assert response.status_code == 201, response.text
    return response.json()


def client_token(client: TestClient, credentials: dict, scope: str | None = None) -> dict:
    """A bearer header for an integration client (client credentials in the form)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
    }
    if scope:
        form["scope"] = scope
    response = client.post("/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def integration_file(
    client: TestClient, headers: dict, key: str, expect: int = 201, **overrides
) -> dict:
    response = client.post(
        "/v1/integrations/requests",
        headers={**headers, "Idempotency-Key": key},
        json=request_body(**overrides),
    )
    assert response.status_code == expect, response.text
    return response.json()


RIGHTSDESK = str(Path(sys.executable).with_name("rightsdesk"))
# The test settings' password hashing, for the processes a test starts (the argon2 defaults
# cost ~0.25 s of CPU per hash or log-in, paid by every CLI and server test).
CHEAP_HASHING = {"RIGHTSDESK_ARGON2_TIME_COST": "1", "RIGHTSDESK_ARGON2_MEMORY_KIB": "1024"}


def rightsdesk_process(
    env: dict[str, str], *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """The installed `rightsdesk` command in a process of its own, with these RIGHTSDESK_*
    settings only (the caller's own are dropped): for what only a process shows (the entry
    point, start-up refusals, signals, a terminal)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    return subprocess.run(
        [RIGHTSDESK, *args],
        cwd=cwd,
        env={**clean, **env},
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rightsdesk(
    env: dict[str, str], *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """`rightsdesk ARGS` as the installed command runs it (app.cli:main, the same exit codes,
    stdout and stderr), but in this process: a process of its own costs ~1.5 s of CPU to
    import the app, and the suite runs the CLI a hundred times. The environment, working
    directory, settings cache, root logger and signal handlers are the command's for its run
    and restored after; an exception the command lets out is a traceback on stderr and exit 1,
    as in a process."""
    import contextlib
    import io
    import logging
    import signal
    import traceback

    from app import cli
    from app.core.config import get_settings

    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv, saved_stdin = sys.argv, sys.stdin
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_signals = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    try:
        for key in [k for k in os.environ if k.startswith("RIGHTSDESK_")]:
            del os.environ[key]
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        get_settings.cache_clear()
        sys.argv = ["rightsdesk", *args]
        sys.stdin = io.StringIO(stdin or "")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if isinstance(exc.code, str):
                    err.write(exc.code + "\n")
            except Exception:
                err.write(traceback.format_exc())
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.argv, sys.stdin = saved_argv, saved_stdin
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)
        get_settings.cache_clear()
    return subprocess.CompletedProcess(["rightsdesk", *args], code, out.getvalue(), err.getvalue())


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The RIGHTSDESK_* settings of a command that works on the test's database, var folder,
    keys and password hashing (`extra`: more settings)."""
    return {
        "RIGHTSDESK_DATABASE_URL": settings.database_url,
        "RIGHTSDESK_VAR_DIR": str(settings.var_dir),
        "RIGHTSDESK_SECRET_KEY": settings.secret_key,
        "RIGHTSDESK_ENCRYPTION_KEYS": f"t1:{TEST_KEY}",
        "RIGHTSDESK_BLIND_INDEX_KEY": settings.blind_index_key,
        "RIGHTSDESK_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "RIGHTSDESK_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        **extra,
    }


def run_cli(tmp_path: Path, settings: Settings, *args: str, **extra: str):
    """`rightsdesk ARGS` in tmp_path on the test's database and keys (`extra`: more settings)."""
    env = {
        "RIGHTSDESK_DATABASE_URL": settings.database_url,
        "RIGHTSDESK_VAR_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_NOTIFY_DIR": str(tmp_path / "outbox"),
        "RIGHTSDESK_SECRET_KEY": settings.secret_key,
        "RIGHTSDESK_ENCRYPTION_KEYS": f"t1:{TEST_KEY}",
        "RIGHTSDESK_BLIND_INDEX_KEY": settings.blind_index_key,
        **CHEAP_HASHING,
        **extra,
    }
    return rightsdesk(env, *args, cwd=tmp_path)


def wait_for(predicate, timeout: float = 15.0):
    """Poll `predicate` until it gives something truthy (returned), or None after `timeout`
    seconds: for work another thread or process does (delivery, workers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picked it, then it was closed):
    for a server a test starts, or as an address where a connection is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sql_rows(database_url: str, sql: str, **params) -> list:
    """The rows of one query, on a connection of its own (the app's sessions are not used)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def audit_entries(database_url: str, *actions: str) -> list[tuple[str, str, dict]]:
    """(actor, action, detail) of the access record's entries of these actions, in order."""
    import json

    rows = sql_rows(database_url, "SELECT actor, action, detail FROM audit_entry ORDER BY seq")
    out = []
    for actor, action, detail in rows:
        if action in actions:
            out.append((actor, action, json.loads(detail) if isinstance(detail, str) else detail))
    return out

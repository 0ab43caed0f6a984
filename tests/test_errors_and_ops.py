"""Errors are RFC 9457 problems everywhere; operations endpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import count_rows, file_request, free_port, make_settings, request_body


def _is_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    return body


def test_unknown_path(client):
    _is_problem(client.get("/v1/nothing-here"), 404, "not-found")


def test_wrong_method(client):
    _is_problem(client.delete("/v1/requests"), 405, "method-not-allowed")


def test_unknown_request_id(client):
    # Without a token: 401 comes first (nothing is said about whether it exists).
    _is_problem(client.get("/v1/requests/req_nope"), 401, "unauthorized")


@pytest.mark.parametrize("slug", ["validation-error", "code-locked", "illegal-transition"])
def test_problem_types_are_documented(client, slug):
    body = client.get(f"/problems/{slug}").json()
    assert body["type"] == f"/problems/{slug}" and body["description"]


def test_unknown_problem_type(client):
    _is_problem(client.get("/problems/nope"), 404, "not-found")


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_readyz_fails_on_an_unmigrated_database(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    with TestClient(create_app(settings)) as c:
        _is_problem(c.get("/readyz"), 503, "service-unavailable")


def test_readyz_fails_when_the_database_is_unreachable(tmp_path):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    with TestClient(create_app(make_settings(url, tmp_path))) as c:
        body = _is_problem(c.get("/readyz"), 503, "service-unavailable")
        assert "nobody" not in str(body)


def test_unexpected_errors_are_problems_without_details(tmp_path, caplog):
    """A database that vanishes mid-flight gives a 500 problem, not a stack trace."""
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        response = c.post(
            "/v1/requests",
            json={"type": "access", "subject": {"name": "홍길동", "email": "hong@example.com"}},
        )
        body = _is_problem(response, 500, "internal-error")
        assert "Traceback" not in response.text and "sqlite" not in response.text.lower()
        assert set(body) == {"type", "title", "status", "detail", "instance", "request_id"}
    assert "hong@example.com" not in caplog.text and "홍길동" not in caplog.text


def test_readyz_fails_when_the_intake_writer_is_dead(app, client):
    """A dead writer would leave every filing waiting forever: say so, and refuse filings."""
    assert client.get("/readyz").status_code == 200

    def fatal(session):
        raise SystemExit(1)  # the one kind of error that ends the writer thread

    writer = app.state.ctx.intake_writer
    assert writer.submit(fatal).exception(5) is not None
    body = _is_problem(client.get("/readyz"), 503, "service-unavailable")
    assert "writer" in body["detail"]
    with ThreadPoolExecutor(1) as pool:  # a hanging filing fails the test instead of hanging it
        filing = pool.submit(client.post, "/v1/requests", json=request_body()).result(10)
    _is_problem(filing, 503, "service-unavailable")


def test_a_failing_after_commit_callback_does_not_fail_the_committed_request(
    app, client, clock, database_url, caplog
):
    created = file_request(client)
    clock.advance(minutes=2)  # past the wait between codes
    email = "hong.gildong@example.com"

    def deliver() -> None:
        raise ConnectionError(f"relay refused {email}")

    app.state.ctx.outbox_kick = deliver
    before = count_rows(database_url, "outbox_message")
    response = client.post(f"/v1/requests/{created['id']}/verification/resend")
    assert response.status_code == 202, response.text
    assert count_rows(database_url, "outbox_message") == before + 1
    assert "ConnectionError" in caplog.text and email not in caplog.text


def _boom_route(app):
    @app.get("/boom")
    def boom(email: str):
        raise ValueError(f"no account for {email}")


def test_an_unexpected_error_is_logged_without_its_message(app, client, caplog):
    _boom_route(app)
    body = _is_problem(
        client.get("/boom", params={"email": "hong.gildong@example.com"}), 500, "internal-error"
    )
    assert "hong" not in str(body)
    assert "ValueError" in caplog.text and "/boom" in caplog.text
    assert "hong.gildong@example.com" not in caplog.text


_BOOM_SERVER = """
import sys

import uvicorn

from app.cli import _logging
from app.main import create_app

app = create_app()


@app.get("/boom")
def boom(email: str):
    raise ValueError(f"no account for {email}")


_logging()
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="info")
"""


def test_a_real_server_never_logs_an_exception_message(tmp_path):
    """uvicorn logs whatever reaches it, message and all: nothing may reach it."""
    port = free_port()
    env = {
        **os.environ,
        "RIGHTSDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'boom.db'}",
        "RIGHTSDESK_VAR_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_NOTIFY_DIR": str(tmp_path / "outbox"),
        "RIGHTSDESK_DELIVERY": "off",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _BOOM_SERVER, str(port)], env=env, stdout=out, stderr=out
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        response = httpx.get(f"{base}/boom", params={"email": "hong.gildong@example.com"})
        _is_problem(response, 500, "internal-error")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    text = log.read_text()
    assert "ValueError" in text and "/boom" in text
    assert "hong.gildong@example.com" not in text, text

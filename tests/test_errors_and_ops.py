"""Errors are RFC 9457 problems everywhere; operations endpoints."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import make_settings


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
        assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert "hong@example.com" not in caplog.text and "홍길동" not in caplog.text

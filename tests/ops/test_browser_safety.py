"""Browser-facing safety (issue 11.5): security headers on every response, a strict CSP for
the API and a fitting one (this origin, hashed inline scripts) for /docs, no-store on
everything that may carry personal data, HSTS in production, CORS for configured origins only."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import file_request, make_settings, verified

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _app(database_url, tmp_path, clock, **overrides):
    return create_app(make_settings(database_url, tmp_path, **overrides), clock)


def test_every_kind_of_answer_carries_the_headers(client, outbox_dir):
    created, subject = verified(client, outbox_dir)
    answers = [
        client.get(f"/v1/requests/{created['id']}", headers=subject),  # personal data
        client.post("/v1/requests", json={"type": "x"}),  # a problem
        client.get("/no/such/path"),  # 404 from the router
        client.get("/healthz"),
        client.get("/metrics"),
    ]
    for r in answers:
        for name, value in COMMON.items():
            assert r.headers[name] == value, (r.url, name)
        assert r.headers["cache-control"] == "no-store", r.url
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" not in r.headers  # development


def test_docs_get_a_csp_that_lets_exactly_their_scripts_run(client):
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        page = client.get(path)
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        for script in re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
    asset = client.get("/docs/assets/swagger-ui.css")
    assert asset.status_code == 200 and asset.headers.get("cache-control") != "no-store"
    assert asset.headers["x-content-type-options"] == "nosniff"


def test_hsts_in_production(database_url, tmp_path, clock):
    app = _app(
        database_url,
        tmp_path,
        clock,
        env="production",
        blind_index_key="b" * 40,
        notify_allow_file=True,
        allow_sample_profile=True,
    )
    with TestClient(app) as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def test_no_cors_unless_configured(client):
    r = client.options(
        "/v1/requests",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_for_the_portals_origins(database_url, tmp_path, clock):
    app = _app(
        database_url,
        tmp_path,
        clock,
        cors_origins="https://privacy.example.com, http://localhost:3000",
    )
    with TestClient(app) as c:
        pre = c.options(
            "/v1/requests",
            headers={
                "Origin": "https://privacy.example.com",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, idempotency-key",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://privacy.example.com"
        filed = c.post(
            "/v1/requests",
            json={"type": "access", "subject": {"name": "정하늘", "email": "ha@example.com"}},
            headers={"Origin": "http://localhost:3000"},
        )
        assert filed.status_code == 201
        assert filed.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "x-request-id" in filed.headers["access-control-expose-headers"].lower()
        other = c.options(
            "/v1/requests",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("bad", ["*", "https://x.example/path", "privacy.example.com"])
def test_a_bad_origin_refuses_the_start(database_url, tmp_path, bad):
    with pytest.raises(ValueError, match="RIGHTSDESK_CORS_ORIGINS"):
        make_settings(database_url, tmp_path, cors_origins=bad)


def test_portal_filing_still_works(client):
    assert file_request(client)["status"] == "pending_verification"

"""What every page carries, checked over HTTP (the browser tests see the rest)."""

from __future__ import annotations

import re

import pytest

PAGES = ["/portal/", "/portal/file", "/portal/sign-in", "/portal/requests/RD-2026-000001/code"]


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("path", PAGES)
def test_headers_of_every_page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert '<html lang="ko">' in response.text
    assert "style=" not in response.text  # no inline style
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", response.text, re.S)
    assert scripts == [""]  # one script, from the service itself, nothing inline
    assert '<script src="/web/static/pages.js" defer>' in response.text


def test_the_csrf_cookie_is_strict_and_scoped_to_the_portal(client):
    cookie = client.get("/portal/").headers["set-cookie"]
    assert "rd_csrf=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/portal" in cookie


def test_a_token_from_another_browser_is_refused(client, app):
    from fastapi.testclient import TestClient

    with TestClient(app) as other:
        foreign = _token(other.get("/portal/sign-in").text)
    client.get("/portal/sign-in")
    response = client.post(
        "/portal/sign-in", data={"csrf_token": foreign, "reference": "RD-2026-000001"}
    )
    assert response.status_code == 403


def test_the_language_switch_never_leaves_the_portal(client):
    for target in ("https://evil.example/", "//evil.example/", "/v1/staff/requests"):
        response = client.get(
            "/portal/language/en", params={"next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/portal/"
    response = client.get("/portal/language/en", params={"next": "/portal/file"})
    assert '<html lang="en">' in response.text


def test_filing_by_form_keeps_personal_data_out_of_the_url(client):
    token = _token(client.get("/portal/file").text)
    response = client.post(
        "/portal/file",
        data={
            "csrf_token": token,
            "type": "access",
            "subject.name": "홍길동",
            "subject.email": "hong@example.com",
            "subject.phone": "010-1234-5678",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/portal/requests/RD-\d{4}-\d{6}/code\?sent=filed", location)


def test_pages_are_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/portal", "/console", "/web"))]


def test_a_correction_by_form_carries_its_items(client, outbox_dir):
    token = _token(client.get("/portal/file").text)
    missing = client.post(
        "/portal/file",
        data={
            "csrf_token": token,
            "type": "correction",
            "subject.name": "홍길동",
            "subject.email": "hong@example.com",
        },
    )
    assert 'id="f-scope-corrections"' in missing.text
    assert "정정할 항목을 하나 이상 입력해 주십시오." in missing.text
    filed = client.post(
        "/portal/file",
        data={
            "csrf_token": token,
            "type": "correction",
            "subject.name": "홍길동",
            "subject.email": "hong@example.com",
            "scope.corrections.0.item": "phone",
            "scope.corrections.0.current": "010-0000-0000",
            "scope.corrections.0.requested": "010-1234-5678",
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text

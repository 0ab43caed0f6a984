"""Steps the console's tests share: a staff member's browser (its own cookies), logged in
through the console's form, and the forms' CSRF token; the log-in in a real browser."""

from __future__ import annotations

import re
from contextlib import contextmanager

from fastapi.testclient import TestClient

from tests.support import PASSWORD

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')

# A delegate's filing (PIPA Art. 38(1)) with the power of attorney's fields (Form 11).
DELEGATE = {"kind": "delegate", "name": "이대리", "email": "proxy@example.com"}
POA = {
    "grantor": {
        "name": "홍길동",
        "birth_date": "1980-03-01",
        "contact": "010-1234-5678",
        "address": "서울특별시 종로구 세종대로 1",
    },
    "grantee": {
        "name": "이대리",
        "birth_date": "1985-07-15",
        "contact": "proxy@example.com",
        "address": "서울특별시 종로구 세종대로 1",
        "relationship": "배우자",
    },
    "rights": ["access"],
    "signed_on": "2026-11-28",
}


def csrf(html: str) -> str:
    return TOKEN.search(html).group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the CSRF token of this browser."""
    token = csrf(client.get("/console/login").text)
    response = client.post(
        "/console/login",
        data={"csrf_token": token, "username": email, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/"
    return token


@contextmanager
def another_browser(app, email: str | None = None):
    """Another browser (its own cookies), logged in as `email` when given: (client, token)."""
    with TestClient(app, raise_server_exceptions=False) as other:
        token = log_in(other, email) if email else csrf(other.get("/console/login").text)
        yield other, token


def version_on(html: str) -> str:
    return VERSION.search(html).group(1)


def log_in_page(page, email: str, password: str = PASSWORD) -> None:
    """Log in through the console's form in a real browser (Playwright's `page`)."""
    page.goto("/console/login")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url(re.compile(r"/console/$"))

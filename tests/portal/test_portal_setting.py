"""RIGHTSDESK_PORTAL=on|off and where notices link (no browser needed)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import file_request, make_settings, read_outbox


def _code_mail(outbox) -> str:
    return next(m for m in read_outbox(outbox) if m["template"] == "verification_code")["text"]


@pytest.fixture
def make_client(app, database_url, tmp_path, clock):
    """Apps of their own settings (conftest's `app` cleans the database after the test)."""
    made = []

    def make(**overrides) -> TestClient:
        settings = make_settings(database_url, tmp_path, **overrides)
        client = TestClient(create_app(settings, clock), raise_server_exceptions=False)
        client.__enter__()
        made.append(client)
        return client

    yield make
    for client in made:
        client.__exit__(None, None, None)


def test_on_by_default_and_notices_link_to_our_portal(make_client, tmp_path):
    client = make_client()
    assert client.get("/portal/").status_code == 200
    created = file_request(client)
    link = f"http://127.0.0.1:8000/portal/requests/{created['reference']}"
    assert link in _code_mail(tmp_path / "outbox")


def test_the_served_address_is_the_link(make_client, tmp_path):
    client = make_client(public_base_url="http://127.0.0.1:9000")
    created = file_request(client)
    assert f"http://127.0.0.1:9000/portal/requests/{created['reference']}" in _code_mail(
        tmp_path / "outbox"
    )


def test_off_is_404_and_notices_link_to_the_company_portal(make_client, tmp_path):
    client = make_client(portal=False, portal_url="https://privacy.example.com/")
    assert client.get("/portal/").status_code == 404
    assert client.get("/portal/sign-in").status_code == 404
    created = file_request(client)
    text = _code_mail(tmp_path / "outbox")
    assert f"https://privacy.example.com/requests/{created['reference']}" in text
    assert "/portal/" not in text


def test_serve_links_to_the_address_it_serves():
    from app.cli import _served_address

    assert _served_address("127.0.0.1", 9000) == "http://127.0.0.1:9000"
    assert _served_address("0.0.0.0", 9000) == "http://127.0.0.1:9000"
    assert _served_address("privacy.local", 8080) == "http://privacy.local:8080"

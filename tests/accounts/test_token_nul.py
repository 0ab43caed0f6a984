"""NUL characters in credentials (issue 21.4). PostgreSQL text cannot hold one: a NUL in HTTP
Basic credentials or in a multipart form field used to reach a query and answer 500, and the
failed attempt went unrecorded. Every way credentials come in — urlencoded and multipart
forms, HTTP Basic — answers 401 (a client) or 422 (a staff log-in) and records the failed
attempt in the access record."""

from __future__ import annotations

import base64

import pytest

from tests.support import count_rows, make_client

URL = "/v1/auth/token"
PROBLEM = "application/problem+json"


def _basic(client_id: str, secret: str) -> dict:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _failures(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM audit_entry "
                    "WHERE action IN ('login_failed', 'client_auth_failed')"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def _multipart(fields: dict) -> dict:
    return {name: (None, value) for name, value in fields.items()}


@pytest.fixture
def creds(client, staff) -> dict:
    return make_client(client, staff["cpo"]["headers"], ["requests:read"])


def _client_attempts(creds):
    cid, secret = creds["client_id"], creds["client_secret"]
    grant = {"grant_type": "client_credentials"}
    return [
        ("basic id", dict(data=grant, headers=_basic(cid + "\x00", secret))),
        ("basic secret", dict(data=grant, headers=_basic(cid, secret + "\x00"))),
        ("basic id only", dict(data=grant, headers=_basic("\x00", "x"))),
        (
            "multipart id",
            dict(files=_multipart({**grant, "client_id": cid + "\x00", "client_secret": secret})),
        ),
        (
            "multipart secret",
            dict(files=_multipart({**grant, "client_id": cid, "client_secret": "\x00" + secret})),
        ),
        ("form id", dict(data={**grant, "client_id": "\x00" + cid, "client_secret": secret})),
        ("form secret", dict(data={**grant, "client_id": cid, "client_secret": secret + "\x00"})),
    ]


def test_a_nul_in_client_credentials_is_401_and_recorded(client, creds, database_url):
    for name, kwargs in _client_attempts(creds):
        before = _failures(database_url)
        r = client.post(URL, **kwargs)
        assert r.status_code == 401, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM), name
        assert r.json()["error"] == "invalid_client", name
        assert _failures(database_url) == before + 1, name
    # The real credentials still work.
    ok = client.post(
        URL,
        data={"grant_type": "client_credentials"},
        headers=_basic(creds["client_id"], creds["client_secret"]),
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("encoding", ["form", "multipart"])
@pytest.mark.parametrize(
    "fields",
    [
        {"username": "cpo@example.com\x00", "password": "x"},
        {"username": "\x00", "password": "x"},
        {"username": "cpo@example.com", "password": "pw\x00"},
    ],
)
def test_a_nul_in_the_staff_log_in_is_422_and_recorded(
    client, staff, database_url, encoding, fields
):
    before = _failures(database_url)
    kwargs = {"data": fields} if encoding == "form" else {"files": _multipart(fields)}
    r = client.post(URL, **kwargs)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["errors"][0]["field"] in ("username", "password")
    assert _failures(database_url) == before + 1
    assert "\x00" not in r.text and "\\u0000" not in r.text


def test_a_malformed_basic_header_is_recorded_too(client, database_url):
    before = count_rows(database_url, "audit_entry")
    r = client.post(
        URL, data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!"}
    )
    assert r.status_code == 401, r.text
    assert count_rows(database_url, "audit_entry") == before + 1

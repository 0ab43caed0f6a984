"""Rate limits under real parallelism (issue 11): N callers race on one key and exactly
`limit` of them pass, from one address or from many (a guesser rotating addresses behind a
trusted proxy); every other one gets a 429 with Retry-After, never a 500. On PostgreSQL the
threads' counts truly overlap: a read-then-write count lets more through and turns the first
hits into unique-key errors."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.main import create_app
from tests.support import file_request, make_settings

N = 32


def _query(database_url: str, sql: str, **params):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def test_parallel_sign_ins_from_one_address_pass_exactly_the_limit(
    database_url, tmp_path, clock, race
):
    limit = 7
    app = create_app(
        make_settings(
            database_url,
            tmp_path,
            rate_limit_sign_in_per_address=f"{limit}/hour",
            rate_limit_sign_in_per_reference="off",
        ),
        clock,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        responses = race(
            N,
            lambda i: client.post(
                "/v1/requests/sign-in",
                json={"reference": f"RD-2026-{900000 + i}", "email": f"x{i}@example.com"},
            ),
        )

    assert Counter(r.status_code for r in responses) == {202: limit, 429: N - limit}
    for r in responses:
        if r.status_code == 429:
            assert r.json()["type"] == "/problems/rate-limited"
            assert 1 <= int(r.headers["Retry-After"]) <= 3600
    rows = _query(database_url, "SELECT name, count FROM rate_limit_bucket")
    assert rows == [("sign_in_per_address", N)]  # one row, every call counted once


@pytest.fixture
def proxied(database_url, tmp_path, clock):
    """An app behind a trusted proxy at 10.0.0.2 that allows 6 code entries per request and
    day, from any number of addresses."""
    app = create_app(
        make_settings(
            database_url,
            tmp_path,
            trusted_proxies="10.0.0.2",
            rate_limit_code_check_per_request="6/day",
        ),
        clock,
    )
    with TestClient(app, raise_server_exceptions=False, client=("10.0.0.2", 40000)) as client:
        yield client


def test_parallel_code_guesses_from_many_addresses_pass_exactly_the_limit(
    proxied, database_url, race
):
    rid = file_request(proxied)["id"]

    responses = race(
        N,
        lambda i: proxied.post(
            f"/v1/requests/{rid}/verification",
            json={"code": "000000"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
        ),
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {400: 6, 429: N - 6}, statuses  # 400: wrong (or locked) code
    # The first refusal of the window is in the access record, once, without the addresses'
    # hashes or any personal data.
    entries = _query(
        database_url,
        "SELECT request_id, ip, detail FROM audit_entry WHERE action = 'rate_limited'",
    )
    assert len(entries) == 1
    assert entries[0][0] == rid and entries[0][1].startswith("203.0.113.")
    per_address = _query(
        database_url,
        "SELECT count(*) FROM rate_limit_bucket WHERE name = 'code_check_per_address'",
    )
    assert per_address == [(N,)]  # each rotated address counted on its own

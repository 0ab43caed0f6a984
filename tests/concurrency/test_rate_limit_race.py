"""Rate limits under real parallelism (issue 11): N callers race on one key and exactly
`limit` of them pass, from one address or from many (a guesser rotating addresses behind a
trusted proxy); every other one gets a 429 with Retry-After, never a 500. On PostgreSQL the
threads' counts truly overlap: a read-then-write count lets more through and turns the first
hits into unique-key errors."""

from __future__ import annotations

from collections import Counter

import pytest
from fastapi.testclient import TestClient

from app.core.rate_limit import bucket_key
from app.main import create_app
from tests.support import file_request, make_settings, sql_rows

N = 32


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
    rows = sql_rows(database_url, "SELECT name, count FROM rate_limit_bucket")
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
    entries = sql_rows(
        database_url,
        "SELECT request_id, ip, detail FROM audit_entry WHERE action = 'rate_limited'",
    )
    assert len(entries) == 1
    assert entries[0][0] == rid and entries[0][1].startswith("203.0.113.")
    per_address = sql_rows(
        database_url,
        "SELECT count(*) FROM rate_limit_bucket WHERE name = 'code_check_per_address'",
    )
    assert per_address == [(N,)]  # each rotated address counted on its own


def test_parallel_filings_through_two_writers_pass_exactly_the_limit_per_address(
    app, database_url, tmp_path, clock, race
):
    """Filing counts its per-address limit inside the group writer's batch transaction (no
    transaction of its own): two apps (two writers, as two workers would have) file at once
    for four addresses behind a trusted proxy. Per address exactly `limit` calls get past the
    limit, whether they are then filed (201) or refused by the service's rules (422: a birth
    date in the future); every call is counted once; no 500, no deadlock between batches that
    lock several addresses' buckets."""
    limit, addresses = 3, ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    settings = make_settings(
        database_url,
        tmp_path,
        trusted_proxies="10.0.0.2",
        rate_limit_filing_per_address=f"{limit}/hour",
    )
    (before,) = sql_rows(database_url, "SELECT count(*) FROM request")[0]
    apps = [create_app(settings, clock), create_app(settings, clock)]  # `app` cleans up after
    clients = [
        TestClient(a, raise_server_exceptions=False, client=("10.0.0.2", 40000)) for a in apps
    ]
    for c in clients:
        c.__enter__()
    try:

        def file(i: int):
            subject = {"name": "홍길동", "email": f"f{i}@example.com"}
            if i % 3 == 0:  # refused by the service, after the limit has counted it
                subject["birth_date"] = "2999-01-01"
            response = clients[i % 2].post(
                "/v1/requests",
                json={"type": "access", "subject": subject},
                headers={"X-Forwarded-For": addresses[i % 4]},
            )
            return addresses[i % 4], response

        results = race(N, file)
    finally:
        for c in clients:
            c.__exit__(None, None, None)

    assert {r.status_code for _, r in results} <= {201, 422, 429}
    for address in addresses:
        mine = [r for a, r in results if a == address]
        assert sum(r.status_code != 429 for r in mine) == limit
        for r in mine:
            if r.status_code == 429:
                assert r.json()["type"] == "/problems/rate-limited"
                assert "filings from your network" in r.json()["detail"]
    filed = sum(r.status_code == 201 for _, r in results)
    assert sql_rows(database_url, "SELECT count(*) FROM request") == [(before + filed,)]
    keys = {bucket_key(settings.resolved_secret_key(), "filing_per_address", a) for a in addresses}
    rows = sql_rows(database_url, "SELECT key, count FROM rate_limit_bucket")
    assert sorted(n for key, n in rows if key in keys) == [N // 4] * 4  # each call counted once

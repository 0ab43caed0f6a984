"""Parallel calls with one Idempotency-Key (issue 9.3): whatever the interleaving, one request
is filed, every other call gets its answer replayed or a 409 while it runs (422 for another
body), and none gets a 500. On PostgreSQL the calls truly overlap; the unique constraint on
(client_id, key) decides, not a check-then-insert."""

from __future__ import annotations

from collections import Counter

from tests.support import client_token, count_rows, make_client, request_body


def _client(client, staff):
    creds = make_client(client, staff["cpo"]["headers"], ["requests:write"])
    return client_token(client, creds)


def test_one_key_one_body_files_once(client, staff, race, database_url, outbox_dir):
    headers = {**_client(client, staff), "Idempotency-Key": "same-key"}

    def file(i: int):
        r = client.post("/v1/integrations/requests", headers=headers, json=request_body())
        return r.status_code, r.headers.get("idempotent-replayed"), r.json()

    results = race(12, file)
    codes = Counter(code for code, _, _ in results)
    assert set(codes) <= {201, 409}, results
    fresh = [body for code, replayed, body in results if code == 201 and replayed is None]
    assert len(fresh) == 1, results
    assert {body["id"] for code, _, body in results if code == 201} == {fresh[0]["id"]}
    assert count_rows(database_url, "request") == 1
    # A retry after the race gets the first answer.
    again = client.post("/v1/integrations/requests", headers=headers, json=request_body())
    assert again.status_code == 201 and again.json() == fresh[0]


def test_one_key_many_bodies_files_once(client, staff, race, database_url):
    headers = {**_client(client, staff), "Idempotency-Key": "contested"}
    types = ["access", "deletion", "suspension"]

    def file(i: int):
        r = client.post(
            "/v1/integrations/requests", headers=headers, json=request_body(type=types[i % 3])
        )
        return r.status_code

    codes = Counter(race(12, file))
    assert codes[201] >= 1 and set(codes) <= {201, 409, 422}, codes
    assert count_rows(database_url, "request") == 1

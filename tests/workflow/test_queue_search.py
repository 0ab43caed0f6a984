"""Searching the queue by reference, id or e-mail follows the may-see rule and is recorded."""

from __future__ import annotations

from tests.support import act, verified


def _search(client, headers, q):
    response = client.get("/v1/staff/requests", headers=headers, params={"q": q})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_a_handler_finds_only_what_they_may_see(client, outbox_dir, staff):
    email = "lee.search@example.com"
    mine, _ = verified(client, outbox_dir, subject={"name": "이순신", "email": email})
    theirs, _ = verified(client, outbox_dir, subject={"name": "이순신", "email": email})
    nobodys, _ = verified(client, outbox_dir, subject={"name": "이순신", "email": email})
    cpo = staff["cpo"]["headers"]
    act(client, cpo, mine["id"], "assign", {"assignee": "handler@example.com"})
    act(client, cpo, theirs["id"], "assign", {"assignee": "handler2@example.com"})

    handler = staff["handler"]["headers"]
    assert sorted(_search(client, handler, email)) == sorted([mine["id"], nobodys["id"]])
    assert _search(client, handler, theirs["reference"]) == []
    assert _search(client, handler, theirs["id"]) == []
    assert sorted(_search(client, cpo, email)) == sorted([mine["id"], theirs["id"], nobodys["id"]])
    # Without a search, the queue (no personal data) still shows all the work.
    listed = client.get("/v1/staff/requests", headers=handler).json()["items"]
    assert theirs["id"] in [i["id"] for i in listed]


def test_searches_are_recorded_without_the_email(client, outbox_dir, staff):
    email = "park.search@example.com"
    created, _ = verified(client, outbox_dir, subject={"name": "박지성", "email": email})
    assert _search(client, staff["handler"]["headers"], email) == [created["id"]]
    assert _search(client, staff["cpo"]["headers"], created["reference"]) == [created["id"]]
    client.get("/v1/staff/requests", headers=staff["cpo"]["headers"])  # no q: not a search

    entries = client.get(
        "/v1/staff/audit", headers=staff["auditor"]["headers"], params={"action": "search"}
    ).json()["items"]
    got = sorted((e["actor"], e["detail"]["by"], e["request_id"]) for e in entries)
    assert got == sorted(
        [
            (f"staff:{staff['handler']['id']}", "email", created["id"]),
            (f"staff:{staff['cpo']['id']}", "reference", created["id"]),
        ]
    )
    assert all(email not in str(e) for e in entries)

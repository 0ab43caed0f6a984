"""The CPO's webhook routes: register (the secret shown once), list, delete, rotate the
secret, list deliveries, retry a failed one; who may call them; what is refused."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import create_engine, text
from standardwebhooks.webhooks import Webhook

from tests.integrations.receiver import ALL_EVENTS, deliveries, register
from tests.support import client_token, file_request, make_client

ROUTES = [
    ("post", "/v1/staff/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["task.created"]}),
    ("get", "/v1/staff/webhooks", None),
    ("delete", "/v1/staff/webhooks/whk_x", None),
    ("post", "/v1/staff/webhooks/whk_x/rotate-secret", None),
    ("get", "/v1/staff/webhooks/whk_x/deliveries", None),
    ("post", "/v1/staff/webhooks/deliveries/msg_x/retry", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_only_the_cpo_may_manage_webhooks(client, staff, method, path, body):
    kwargs = {"json": body} if body is not None else {}
    anonymous = client.request(method, path, **kwargs)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    for role in ("handler", "auditor"):
        response = client.request(method, path, headers=staff[role]["headers"], **kwargs)
        assert response.status_code == 403, (role, response.text)
    if method != "post" or "webhooks" == path.rsplit("/", 1)[-1]:
        return
    assert client.request(method, path, headers=staff["cpo"]["headers"]).status_code == 404


def _audit(client, staff, action):
    response = client.get(
        "/v1/staff/audit", headers=staff["auditor"]["headers"], params={"action": action}
    )
    return response.json()["items"]


def test_register_shows_the_secret_once_and_keeps_it_encrypted(client, staff, database_url):
    cpo = staff["cpo"]["headers"]
    created = register(
        client,
        cpo,
        url="http://127.0.0.1:9/hooks?token=abc",
        events=["request.created", "task.created", "request.created"],
        description="processor: 발송 대행",
    )
    assert created["id"].startswith("whk_")
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    Webhook(created["secret"])  # the form the standardwebhooks library reads
    assert created["events"] == ["request.created", "task.created"]  # duplicates dropped
    assert (created["active"], created["system"]) == (True, None)

    listed = client.get("/v1/staff/webhooks", headers=cpo).json()
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None
    assert "secret" not in listed["items"][0]
    assert created["secret"] not in client.get("/v1/staff/webhooks", headers=cpo).text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_enc FROM webhook_endpoint")).scalar_one()
    engine.dispose()
    assert created["secret"] not in stored and created["secret"][6:] not in stored

    entries = _audit(client, staff, "webhook_registered")
    assert len(entries) == 1
    assert entries[0]["actor"] == f"staff:{staff['cpo']['id']}"
    assert entries[0]["detail"]["host"] == "127.0.0.1"
    assert created["secret"] not in str(entries) and "token=abc" not in str(entries)


def test_the_list_is_paginated(client, staff):
    cpo = staff["cpo"]["headers"]
    made = [register(client, cpo)["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/staff/webhooks", headers=cpo, params=params).json()
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made


BAD_BODIES = [
    ({"url": "ftp://127.0.0.1/x"}, "url", "scheme"),
    ({"url": "not a url"}, "url", None),
    ({"url": "http://user:pw@127.0.0.1/x"}, "url", "credentials"),
    ({"url": "http:///x"}, "url", None),
    ({"url": "http://127.0.0.1/" + "x" * 2100}, "url", "string_too_long"),
    ({"events": ["request.deleted"]}, "events.0", "literal_error"),
    ({"events": []}, "events", "too_short"),
    ({"system": "nonesuch"}, "system", "unknown_system"),
    ({"secret": "whsec_mine"}, "secret", "extra_forbidden"),
    ({"description": "a\x00b"}, None, None),
]


def test_bad_bodies_are_422_problems_naming_the_field(client, staff):
    for body, field, code in BAD_BODIES:
        payload = {"url": "http://127.0.0.1:9/x", "events": ["task.created"], **body}
        response = client.post("/v1/staff/webhooks", headers=staff["cpo"]["headers"], json=payload)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        if field is not None:
            problem = response.json()
            assert response.status_code == 422
            assert field in [e["field"] for e in problem["errors"]], problem
            if code:
                assert code in [e["code"] for e in problem["errors"]], problem
    assert client.get("/v1/staff/webhooks", headers=staff["cpo"]["headers"]).json()["items"] == []


def test_a_system_must_be_in_the_profile(client, staff):
    ctx = client.app.state.ctx
    system = sorted(set(ctx.profile.systems) | set(ctx.profile.processors))[0]
    created = register(client, staff["cpo"]["headers"], system=system, events=["task.created"])
    assert created["system"] == system


def test_delete_removes_the_endpoint_and_its_deliveries(client, staff, database_url):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, url="http://127.0.0.1:9/down")  # nothing listens there
    file_request(client)
    assert len(deliveries(client, cpo, hook["id"])) == 1
    assert client.delete(f"/v1/staff/webhooks/{hook['id']}", headers=cpo).status_code == 204
    assert client.delete(f"/v1/staff/webhooks/{hook['id']}", headers=cpo).status_code == 404
    assert client.get(f"/v1/staff/webhooks/{hook['id']}/deliveries", headers=cpo).status_code == 404
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM webhook_delivery")).scalar_one() == 0
    engine.dispose()
    assert len(_audit(client, staff, "webhook_deleted")) == 1
    file_request(client, subject={"name": "김철수", "email": "kim@example.com"})  # no endpoint


def test_rotation_shows_the_new_secret_once(client, staff, clock):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo)
    response = client.post(f"/v1/staff/webhooks/{hook['id']}/rotate-secret", headers=cpo)
    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    assert rotated["previous_secret_until"].startswith("2026-12-02T01:00:00")
    listed = client.get("/v1/staff/webhooks", headers=cpo).json()["items"][0]
    assert listed["previous_secret_until"] == rotated["previous_secret_until"]
    entries = _audit(client, staff, "webhook_secret_rotated")
    assert len(entries) == 1 and rotated["secret"] not in str(entries)


def test_deliveries_are_listed_newest_first_with_a_cursor(client, staff, clock):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, url="http://127.0.0.1:9/down", events=["request.created"])
    for i in range(5):
        file_request(client, subject={"name": "이영희", "email": f"lee{i}@example.com"})
        clock.advance(minutes=1)
    items, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(
            f"/v1/staff/webhooks/{hook['id']}/deliveries", headers=cpo, params=params
        )
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor, pages = response.json()["next_cursor"], pages + 1
        if not cursor:
            break
    assert pages == 3 and len(items) == 5 and len({i["id"] for i in items}) == 5
    assert [i["created_at"] for i in items] == sorted(
        (i["created_at"] for i in items), reverse=True
    )
    newest, oldest = items[0], items[-1]
    assert newest["event_type"] == "request.created"
    assert newest["status"] == "pending"
    assert newest["attempts"] == 1  # nothing listens on port 9: tried once, retrying
    assert newest["last_status_code"] is None
    assert newest["last_error"] == "connection error (ConnectError)"
    assert newest["next_attempt_at"] is not None
    # Each filing woke the deliverer: the older ones, due again after 5 s, 20 s, 80 s, were
    # tried again meanwhile.
    assert oldest["attempts"] > 1
    bad = client.get(
        f"/v1/staff/webhooks/{hook['id']}/deliveries", headers=cpo, params={"cursor": "bm9wZQ"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_cursor_at_the_edge_of_the_datetime_range_is_422(client, staff, moment):
    """Past what UTC can hold: refused by the one cursor codec (app/core/paging.py), like any
    cursor this service did not give out, not a 500 from the database; so on every list."""
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, url="http://127.0.0.1:9/down", events=["request.created"])
    cursor = base64.urlsafe_b64encode(f"{moment}|x".encode()).decode().rstrip("=")
    lists = {
        f"/v1/staff/webhooks/{hook['id']}/deliveries": cpo,
        "/v1/staff/tasks": cpo,
        "/v1/staff/requests": cpo,  # the queue
        "/v1/integrations/tasks": client_token(
            client, make_client(client, cpo, ["tasks:read"], ["stibee"])
        ),
    }
    for path, headers in lists.items():
        answer = client.get(path, headers=headers, params={"cursor": cursor})
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"][0]["field"] == "cursor"


def test_only_a_failed_delivery_can_be_retried(client, staff):
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, url="http://127.0.0.1:9/down", events=ALL_EVENTS[:1])
    file_request(client)
    (pending,) = deliveries(client, cpo, hook["id"])
    response = client.post(f"/v1/staff/webhooks/deliveries/{pending['id']}/retry", headers=cpo)
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "/problems/conflict"
    assert _audit(client, staff, "webhook_delivery_retried") == []

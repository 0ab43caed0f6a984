"""The queue's staff check after it was made cheap (issue 11, part 7): the token's signature is
verified once per token and remembered, the account is read again on every call. So a role
change, a deactivation and the token's expiry still apply to the very next call of a token
that was accepted a moment before; since issue 20 a role change or a deactivation ends the
token's session, so the token itself is refused and a new log-in carries the new role."""

from __future__ import annotations

from tests.support import act, login, verified

QUEUE = "/v1/staff/requests"


def _patch_user(client, staff, user_id: str, body: dict) -> None:
    response = client.patch(
        f"/v1/staff/users/{user_id}", headers=staff["cpo"]["headers"], json=body
    )
    assert response.status_code == 200, response.text


def _search(client, headers, q) -> list[str]:
    response = client.get(QUEUE, headers=headers, params={"q": q})
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()["items"])


def test_a_role_change_applies_to_the_next_call_of_the_same_token(client, outbox_dir, staff):
    email = "role.change@example.com"
    theirs, _ = verified(client, outbox_dir, subject={"name": "김유신", "email": email})
    nobodys, _ = verified(client, outbox_dir, subject={"name": "김유신", "email": email})
    act(
        client,
        staff["cpo"]["headers"],
        theirs["id"],
        "assign",
        {"assignee": "handler2@example.com"},
    )
    handler = staff["handler"]
    # As a handler: only what is theirs or nobody's (the token is now known to the service).
    assert _search(client, handler["headers"], email) == [nobodys["id"]]
    _patch_user(client, staff, handler["id"], {"role": "cpo"})
    # The same token, the very next call: refused, its session ended with the old grant
    # (issue 20); a new log-in carries the new role, and a CPO sees everything.
    assert client.get(QUEUE, headers=handler["headers"]).status_code == 401
    headers = login(client, handler["email"])
    assert _search(client, headers, email) == sorted([theirs["id"], nobodys["id"]])
    assert client.get("/v1/staff/users", headers=headers).status_code == 200
    _patch_user(client, staff, handler["id"], {"role": "handler"})
    assert client.get("/v1/staff/users", headers=headers).status_code == 401
    headers = login(client, handler["email"])
    assert _search(client, headers, email) == [nobodys["id"]]
    assert client.get("/v1/staff/users", headers=headers).status_code == 403


def test_a_deactivation_applies_to_the_next_call_of_the_same_token(client, staff):
    handler = staff["handler"]
    for _ in range(3):  # accepted, and accepted again from what the service remembers
        assert client.get(QUEUE, headers=handler["headers"]).status_code == 200
    _patch_user(client, staff, handler["id"], {"active": False})
    refused = client.get(QUEUE, headers=handler["headers"])
    assert refused.status_code == 401, refused.text
    assert refused.json()["type"] == "/problems/unauthorized"
    _patch_user(client, staff, handler["id"], {"active": True})
    # Reactivated: the old token's session stays ended; a new log-in opens the queue.
    assert client.get(QUEUE, headers=handler["headers"]).status_code == 401
    assert client.get(QUEUE, headers=login(client, handler["email"])).status_code == 200


def test_an_accepted_token_expires_on_time(client, clock, settings, staff):
    headers = staff["auditor"]["headers"]
    assert client.get(QUEUE, headers=headers).status_code == 200
    clock.advance(seconds=settings.staff_token_ttl_seconds - 1)
    assert client.get(QUEUE, headers=headers).status_code == 200
    clock.advance(seconds=1)  # exp <= now: expired
    expired = client.get(QUEUE, headers=headers)
    assert expired.status_code == 401, expired.text
    assert "expired" in expired.json()["detail"]


def test_a_token_signed_with_another_key_is_refused_even_if_its_twin_was_accepted(client, staff):
    headers = staff["cpo"]["headers"]
    assert client.get(QUEUE, headers=headers).status_code == 200
    token = headers["Authorization"].split()[1]
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    refused = client.get(QUEUE, headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401, refused.text

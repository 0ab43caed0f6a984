"""POST /v1/requests/{id}/withdraw."""

from __future__ import annotations

from tests.support import file_request, read_outbox, verified


def test_withdraw_closes_and_notifies(client, outbox_dir):
    created, headers = verified(client, outbox_dir)
    response = client.post(
        f"/v1/requests/{created['id']}/withdraw",
        headers=headers,
        json={"reason": "더 이상 필요하지 않습니다"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "withdrawn"
    assert body["overdue"] is False
    assert body["timeline"][-1]["kind"] == "status.withdrawn"
    notice = [m for m in read_outbox(outbox_dir) if m["template"] == "withdrawn"]
    assert len(notice) == 1
    assert created["reference"] in notice[0]["text"]
    # The reason (free text, maybe personal) is not copied into the timeline.
    assert "필요하지" not in response.text


def test_withdraw_twice_is_an_illegal_transition(client, outbox_dir, database_url):
    created, headers = verified(client, outbox_dir)
    assert client.post(f"/v1/requests/{created['id']}/withdraw", headers=headers).status_code == 200
    again = client.post(f"/v1/requests/{created['id']}/withdraw", headers=headers)
    assert again.status_code == 409
    problem = again.json()
    assert problem["type"] == "/problems/illegal-transition"
    assert problem["status_now"] == "withdrawn"
    assert problem["allowed_actions"] == []


def test_withdraw_needs_the_token(client):
    created = file_request(client)
    assert client.post(f"/v1/requests/{created['id']}/withdraw").status_code == 401


def test_withdraw_rejects_unknown_fields(client, outbox_dir):
    created, headers = verified(client, outbox_dir)
    response = client.post(
        f"/v1/requests/{created['id']}/withdraw",
        headers=headers,
        json={"reason": "x", "status": "completed"},
    )
    assert response.status_code == 422
    read = client.get(f"/v1/requests/{created['id']}", headers=headers)
    assert read.json()["status"] == "open"


def test_withdrawing_cancels_the_open_tasks(client, outbox_dir, staff):
    from tests.support import act

    created, headers = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]}
    )
    act(
        client,
        staff["cpo"]["headers"],
        created["id"],
        "assign",
        {"assignee": "handler@example.com"},
    )
    act(
        client,
        staff["handler"]["headers"],
        created["id"],
        "decision",
        {"outcome": "granted", "explanation": "삭제합니다."},
    )
    assert client.post(f"/v1/requests/{created['id']}/withdraw", headers=headers).status_code == 200
    open_tasks = client.get("/v1/staff/tasks", headers=staff["cpo"]["headers"]).json()["items"]
    assert open_tasks == []
    every = client.get(
        "/v1/staff/tasks", headers=staff["cpo"]["headers"], params={"status": "all"}
    ).json()["items"]
    assert {(t["kind"], t["status"]) for t in every} == {
        ("decide", "done"),
        ("fulfil", "cancelled"),
    }

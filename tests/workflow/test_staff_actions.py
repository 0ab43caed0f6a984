"""The staff view's `actions` (issue 10.6): the staff endpoints the caller may call now, for
the caller's role; `assign {"assignee": "me"}`; the queue's default of open work; days_left
null once a request is closed."""

from __future__ import annotations

import pytest

from app.workflow.actions import staff_actions
from tests.support import act, finish_tasks, staff_read, verified


def _actions(client, headers, rid) -> list[str]:
    return staff_read(client, headers, rid)["actions"]


def test_actions_follow_the_request_through_its_life(client, outbox_dir, staff):
    cpo, handler = staff["cpo"]["headers"], staff["handler"]["headers"]
    created, _ = verified(client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]})
    rid = created["id"]
    assert _actions(client, cpo, rid) == ["assign", "extend", "holds"]
    assert _actions(client, staff["auditor"]["headers"], rid) == []
    view = act(client, handler, rid, "assign", {"assignee": "me"})
    assert view["assignee_id"] == staff["handler"]["id"] and view["status"] == "in_progress"
    assert view["actions"] == ["assign", "extend", "decision", "holds"]
    # Another handler may not touch it (and cannot read it either).
    r = client.get(f"/v1/staff/requests/{rid}", headers=staff["handler2"]["headers"])
    assert r.status_code == 403
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=handler).json()
    view = act(client, handler, rid, "decision", plan["decision"])
    assert view["status"] == "fulfilling" and view["actions"] == ["assign", "extend"]
    finish_tasks(client, handler, rid)
    assert _actions(client, handler, rid) == ["assign", "extend", "complete"]
    view = act(client, handler, rid, "complete", {})
    assert view["actions"] == [] and view["days_left"] is None


def test_every_offered_action_is_accepted(client, outbox_dir, staff):
    """What is offered is not refused with 403 or 409 (checked on a fresh request per action)."""
    cpo = staff["cpo"]["headers"]
    bodies = {
        "assign": {"assignee": "me"},
        "extend": {
            "reason": "자료가 많아 확인에 시간이 필요합니다.",
            "due_at": "2026-12-30T12:00:00+09:00",
        },
        "holds": {"category": "newsletter", "kind": "investigation", "note": "수사 협조"},
    }
    # A hold is a new thing (201); assigning and extending change the request (200).
    accepted = {"assign": 200, "extend": 200, "holds": 201}
    created, _ = verified(client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]})
    for action in _actions(client, cpo, created["id"]):
        rid = verified(
            client,
            outbox_dir,
            type="deletion",
            scope={"categories": ["newsletter"]},
            subject={"name": "김하늘", "email": f"{action}@example.com"},
        )[0]["id"]
        version = staff_read(client, cpo, rid)["version"]
        r = client.post(
            f"/v1/staff/requests/{rid}/{action}",
            headers={**cpo, "If-Match": str(version)},
            json=bodies[action],
        )
        assert r.status_code == accepted[action], (action, r.text)


@pytest.mark.parametrize(
    ("status", "role", "assignee", "unfinished", "expected"),
    [
        ("pending_verification", "cpo", None, 0, ["assign", "verify", "extend", "holds"]),
        ("pending_verification", "handler", "usr_other", 0, []),
        ("open", "auditor", None, 0, []),
        ("fulfilling", "cpo", "usr_h", 1, ["assign", "extend"]),
        ("refused", "cpo", "usr_h", 0, ["assign"]),  # the refusal waits for an objection
        ("completed", "cpo", "usr_h", 0, []),
        ("withdrawn", "cpo", None, 0, []),
        ("rejected", "handler", None, 0, []),
    ],
)
def test_the_table(status, role, assignee, unfinished, expected):
    got = staff_actions(
        status=status,
        request_type="deletion",
        assignee_id=assignee,
        role=role,
        principal_id="usr_me",
        unfinished_tasks=unfinished,
    )
    assert got == expected


def test_no_holds_on_an_access_request():
    got = staff_actions(
        status="open",
        request_type="access",
        assignee_id=None,
        role="cpo",
        principal_id="usr_me",
        unfinished_tasks=0,
    )
    assert "holds" not in got


def test_the_queue_shows_open_work_by_default(client, outbox_dir, staff):
    cpo = staff["cpo"]["headers"]
    open_one, _ = verified(client, outbox_dir)
    closed, subject = verified(client, outbox_dir, type="deletion")
    assert client.post(f"/v1/requests/{closed['id']}/withdraw", headers=subject).status_code == 200
    default = client.get("/v1/staff/requests", headers=cpo).json()["items"]
    assert [i["id"] for i in default] == [open_one["id"]]
    asked = client.get("/v1/staff/requests", headers=cpo, params={"status": "withdrawn"}).json()
    assert [i["id"] for i in asked["items"]] == [closed["id"]]
    assert asked["items"][0]["days_left"] is None and asked["items"][0]["overdue"] is False
    # A search looks through every status.
    found = client.get("/v1/staff/requests", headers=cpo, params={"q": closed["reference"]}).json()
    assert [i["id"] for i in found["items"]] == [closed["id"]]
    assert default[0]["days_left"] > 0

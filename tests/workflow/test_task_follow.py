"""Fulfilment tasks follow the request: to its new assignee on reassignment, and out of the
work queue when a later decision voids them."""

from __future__ import annotations

from tests.support import act, fresh_subject_token, in_progress, relogin, staff_read

REFUSAL = {
    "outcome": "refused",
    "grounds": ["PIPA-36-1-proviso"],
    "explanation": "전자상거래법에 따라 보관합니다.",
}


def _plan_decision(client, staff, rid) -> dict:
    response = client.get(f"/v1/staff/requests/{rid}/plan", headers=staff["cpo"]["headers"])
    assert response.status_code == 200, response.text
    return response.json()["decision"]


def _fulfilling(client, outbox_dir, staff):
    """Decided as the plan says: the newsletter deleted, payments kept under the law."""
    rid = in_progress(
        client, outbox_dir, staff, type="deletion", scope={"categories": ["payment", "newsletter"]}
    ).id
    decision = _plan_decision(client, staff, rid)
    assert decision["outcome"] == "partially_granted"
    view = act(client, staff["handler"]["headers"], rid, "decision", decision)
    assert view["status"] == "fulfilling"
    return rid


def _fulfil(view):
    return [t for t in view["tasks"] if t["kind"] == "fulfil"]


def _object(client, outbox_dir, staff, clock, rid, reason):
    clock.advance(days=1)
    subject = fresh_subject_token(client, outbox_dir, rid)
    relogin(client, staff)
    objected = client.post(
        f"/v1/requests/{rid}/objections", headers=subject, json={"reason": reason}
    )
    assert objected.status_code == 201, objected.text


def test_reassignment_moves_fulfilment_tasks(client, outbox_dir, staff):
    rid = _fulfilling(client, outbox_dir, staff)
    cpo = staff["cpo"]["headers"]
    before = _fulfil(staff_read(client, cpo, rid))
    assert before and {t["assignee_id"] for t in before} == {staff["handler"]["id"]}

    view = act(client, cpo, rid, "assign", {"assignee": "handler2@example.com"})
    tasks = _fulfil(view)
    assert {t["assignee_id"] for t in tasks} == {staff["handler2"]["id"]}
    # The previous handler, who may no longer see the request, cannot complete its tasks …
    task_id = tasks[0]["id"]
    refused = client.post(
        f"/v1/staff/tasks/{task_id}/complete",
        headers=staff["handler"]["headers"],
        json={"outcome": "done"},
    )
    assert refused.status_code == 403
    # … and the new one can.
    done = client.post(
        f"/v1/staff/tasks/{task_id}/complete",
        headers=staff["handler2"]["headers"],
        json={"outcome": "done", "note": "뉴스레터 수신 목록에서 삭제함"},
    )
    assert done.status_code == 200, done.text


def test_refusal_after_objection_cancels_earlier_fulfilment(client, outbox_dir, staff, clock):
    rid = _fulfilling(client, outbox_dir, staff)
    cpo = staff["cpo"]["headers"]
    assert [(t["category"], t["status"]) for t in _fulfil(staff_read(client, cpo, rid))] == [
        ("newsletter", "open")
    ]
    _object(client, outbox_dir, staff, clock, rid, "결제 정보도 삭제 요청")
    view = act(client, staff["handler"]["headers"], rid, "decision", REFUSAL)
    assert view["status"] == "refused"
    assert [(t["category"], t["status"]) for t in _fulfil(view)] == [("newsletter", "cancelled")]
    open_tasks = client.get(
        "/v1/staff/tasks",
        headers=staff["cpo"]["headers"],
        params={"request_id": rid, "status": "open"},
    ).json()["items"]
    assert open_tasks == []


def test_a_grant_after_objection_creates_what_it_grants(client, outbox_dir, staff, clock):
    rid = in_progress(
        client, outbox_dir, staff, type="deletion", scope={"categories": ["payment", "newsletter"]}
    ).id
    view = act(client, staff["handler"]["headers"], rid, "decision", REFUSAL)
    assert _fulfil(view) == []
    _object(client, outbox_dir, staff, clock, rid, "뉴스레터는 삭제해 주세요")
    view = act(
        client, staff["handler"]["headers"], rid, "decision", _plan_decision(client, staff, rid)
    )
    got = sorted((t["category"], t["system"], t["status"]) for t in _fulfil(view))
    assert got == [("newsletter", "stibee", "open")]  # payments stay kept under the law

"""Fulfilment tasks follow the request: to its new assignee on reassignment, and out of the
work queue when a later decision voids them."""

from __future__ import annotations

from tests.support import act, fresh_subject_token, relogin, staff_read, verified

GRANT = {"outcome": "granted", "explanation": "요구하신 대로 처리합니다."}
PARTIAL = {
    "outcome": "partially_granted",
    "grounds": ["PIPA-36-1-proviso"],
    "explanation": "일부는 법령에 따라 보관합니다.",
    "items": [
        {"category": "newsletter", "result": "granted"},
        {"category": "payment", "result": "refused", "grounds": ["PIPA-36-1-proviso"]},
    ],
}


def _fulfilling(client, outbox_dir, staff, decision=GRANT):
    created, subject = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["payment", "newsletter"]}
    )
    rid = created["id"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    view = act(client, staff["handler"]["headers"], rid, "decision", decision)
    assert view["status"] == "fulfilling"
    return rid, subject


def _fulfil(view):
    return [t for t in view["tasks"] if t["kind"] == "fulfil"]


def test_reassignment_moves_fulfilment_tasks(client, outbox_dir, staff):
    rid, _ = _fulfilling(client, outbox_dir, staff)
    cpo = staff["cpo"]["headers"]
    before = _fulfil(staff_read(client, cpo, rid))
    assert before and {t["assignee_id"] for t in before} == {staff["handler"]["id"]}

    view = act(client, cpo, rid, "assign", {"assignee": "handler2@example.com"})
    tasks = _fulfil(view)
    assert {t["assignee_id"] for t in tasks} == {staff["handler2"]["id"]}
    # The previous handler, who may no longer see the request, cannot complete its tasks …
    task_id = tasks[0]["id"]
    refused = client.post(
        f"/v1/staff/tasks/{task_id}/complete", headers=staff["handler"]["headers"]
    )
    assert refused.status_code == 403
    # … and the new one can.
    done = client.post(
        f"/v1/staff/tasks/{task_id}/complete",
        headers=staff["handler2"]["headers"],
        json={"note": "뉴스레터 수신 목록에서 삭제함"},
    )
    assert done.status_code == 200, done.text


def test_refusal_after_objection_cancels_earlier_fulfilment(client, outbox_dir, staff, clock):
    rid, _ = _fulfilling(client, outbox_dir, staff, PARTIAL)
    cpo = staff["cpo"]["headers"]
    assert [(t["category"], t["status"]) for t in _fulfil(staff_read(client, cpo, rid))] == [
        ("newsletter", "open")
    ]
    clock.advance(days=1)
    subject = fresh_subject_token(client, outbox_dir, rid)
    relogin(client, staff)
    objected = client.post(
        f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "결제 정보도 삭제 요청"}
    )
    assert objected.status_code == 201, objected.text
    refusal = {
        "outcome": "refused",
        "grounds": ["PIPA-36-1-proviso"],
        "explanation": "전자상거래법에 따라 보관합니다.",
    }
    view = act(client, staff["handler"]["headers"], rid, "decision", refusal)
    assert view["status"] == "refused"
    assert [(t["category"], t["status"]) for t in _fulfil(view)] == [("newsletter", "cancelled")]
    open_tasks = client.get(
        "/v1/staff/tasks",
        headers=staff["cpo"]["headers"],
        params={"request_id": rid, "status": "open"},
    ).json()["items"]
    assert open_tasks == []


def test_regrant_after_objection_keeps_what_still_applies(client, outbox_dir, staff, clock):
    rid, _ = _fulfilling(client, outbox_dir, staff, PARTIAL)
    clock.advance(days=1)
    subject = fresh_subject_token(client, outbox_dir, rid)
    relogin(client, staff)
    assert (
        client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "전부 삭제 요청"}
        ).status_code
        == 201
    )
    view = act(client, staff["handler"]["headers"], rid, "decision", GRANT)
    got = sorted((t["category"], t["system"], t["status"]) for t in _fulfil(view))
    assert got == [
        ("newsletter", "stibee", "open"),
        ("payment", "iamport", "open"),
        ("payment", "nice_payments", "open"),
        ("payment", "paypal", "open"),
    ]

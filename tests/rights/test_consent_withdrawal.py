"""Withdrawal of consent (동의 철회, PIPA Art. 37(1), (3); issue 18.4): the plan stops what the
consent allowed in every system acting on it and deletes what was collected on it, unless the
law keeps it (then the notice says which law and why); 10 days; self-service withdrawals are
carried out by the integration's confirmation with no staff decision."""

from __future__ import annotations

import pytest
import yaml

from app.profile.loader import DEFAULT_PROFILE
from tests.support import (
    act,
    client_token,
    file_request,
    finish_tasks,
    make_client,
    make_settings,
    read_outbox,
    request_body,
    staff_read,
    verified,
)


@pytest.fixture
def settings(database_url, tmp_path):
    """The reference profile plus a consent on which card details were kept for one-click
    payment: withdrawing it cannot delete the payment records the law keeps."""
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    data["consents"]["saved_card"] = {
        "label_ko": "간편결제를 위한 결제수단 저장 동의",
        "label_en": "Consent to keep card details for one-click payment",
        "purpose_ko": "간편결제",
        "purpose_en": "one-click payment",
        "categories": ["payment"],
        "systems": ["iamport"],
    }
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    # Webhook receivers are real servers on 127.0.0.1.
    return make_settings(database_url, tmp_path, profile_path=str(path), webhook_allow_private=True)


def _withdrawal(**scope) -> dict:
    return {"type": "consent_withdrawal", "scope": scope}


def test_keeps_payment_records_under_their_law_and_deletes_the_newsletter_address(
    client, outbox_dir, staff
):
    created, subject = verified(
        client, outbox_dir, **_withdrawal(consents=["marketing_email", "saved_card"])
    )
    rid = created["id"]
    # Civil Act counting from Tue 1 Dec 2026: 10 days end on Fri 11 Dec (Decree 44(2)).
    assert created["due_date"] == "2026-12-11"
    cpo = staff["cpo"]["headers"]
    view = staff_read(client, cpo, rid)
    # Staff decide: not every consent named is self-service.
    assert view["status"] == "open" and view["categories"] == ["newsletter", "payment"]
    assert view["scope_detail"]["consents"] == ["marketing_email", "saved_card"]
    act(client, cpo, rid, "assign", {"assignee": "me"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    lines = {(i["category"], i["system"], i["action"]) for i in plan["items"]}
    assert (None, "stibee", "stop") in lines and (None, "iamport", "stop") in lines
    assert ("newsletter", "stibee", "delete") in lines
    assert {i["rule"] for i in plan["items"] if i["action"] == "retain"} == {
        "payments",
        "e_finance",
    }
    assert not any(i["category"] == "payment" and i["action"] == "delete" for i in plan["items"])
    decision = plan["decision"]
    assert decision["outcome"] == "partially_granted"
    assert decision["grounds"] == ["PIPA-37-2-1"]
    # Granting the payment category the law keeps is refused, naming the law.
    wrong = {**decision, "outcome": "granted", "grounds": [], "items": None}
    r = client.post(
        f"/v1/staff/requests/{rid}/decision",
        headers={**cpo, "If-Match": str(staff_read(client, cpo, rid)["version"])},
        json={k: v for k, v in wrong.items() if v is not None},
    )
    assert r.status_code == 422 and "전자상거래" in r.text
    decided = act(client, cpo, rid, "decision", decision)
    assert decided["status"] == "fulfilling"
    tasks = {
        (t["category"], t["system"], t["action"]) for t in decided["tasks"] if t["kind"] == "fulfil"
    }
    assert tasks == {
        (None, "stibee", "stop"),
        (None, "iamport", "stop"),
        ("newsletter", "stibee", "delete"),
    }

    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")
    text = notice["text"]
    assert text.index("동의 철회") < text.index("withdrawal of consent")  # Korean first
    assert "개인정보 보호법 제37조제1항·제3항" in text and "PIPA Art. 37(1), (3)" in text
    assert "「전자상거래 등에서의 소비자 보호에 관한 법률; 전자금융거래법」에 따라 보존" in text
    assert "제37조제3항 단서" in text and "Art. 37(3) proviso" in text
    assert "이의제기" in text

    finish_tasks(client, cpo, rid)
    done = act(client, cpo, rid, "complete", {})
    assert done["status"] == "completed"
    completed = next(m for m in read_outbox(outbox_dir) if m["template"] == "completed")
    assert "복구 또는 재생할 수 없도록 파기" in completed["text"]
    assert "뉴스레터" in completed["text"] and "Newsletter" in completed["text"]
    public = client.get(f"/v1/requests/{rid}", headers=subject).json()
    items = {i["category"]: i for i in public["decision"]["items"]}
    assert items["newsletter"]["result"] == "granted"
    assert items["payment"]["result"] == "refused" and items["payment"]["period"] == "P5Y"


def test_self_service_carried_out_by_the_integration(client, outbox_dir, staff):
    creds = make_client(
        client, staff["cpo"]["headers"], ["tasks:read", "tasks:write"], ["stibee"], name="Stibee"
    )
    stibee = client_token(client, creds)
    created, subject = verified(client, outbox_dir, **_withdrawal(consents=["marketing_email"]))
    rid = created["id"]
    # Verified: decided by the plan at once, no staff step (Art. 37(3): without delay).
    assert client.get(f"/v1/requests/{rid}", headers=subject).json()["status"] == "fulfilling"
    listed = client.get("/v1/integrations/tasks", headers=stibee).json()["items"]
    assert {(t["action"], t["category"]) for t in listed} == {
        ("stop", None),
        ("delete", "newsletter"),
    }
    assert all(t["consents"] == ["marketing_email"] for t in listed)
    first, second = listed
    r = client.post(
        f"/v1/integrations/tasks/{first['id']}/confirm", headers=stibee, json={"outcome": "done"}
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/requests/{rid}", headers=subject).json()["status"] == "fulfilling"
    r = client.post(
        f"/v1/integrations/tasks/{second['id']}/confirm", headers=stibee, json={"outcome": "done"}
    )
    assert r.status_code == 200, r.text
    view = staff_read(client, staff["cpo"]["headers"], rid)
    assert view["status"] == "completed"
    by_kind = {e["kind"]: e["actor"] for e in view["timeline"]}
    assert by_kind["status.fulfilling"] == "system"  # decided by the plan
    assert by_kind["task.completed"] == f"integration:{creds['client_id']}"
    assert by_kind["status.completed"] == f"integration:{creds['client_id']}"
    assert [d["decided_by"] for d in view["decisions"]] == ["system"]
    audit = client.get(
        "/v1/staff/audit", headers=staff["cpo"]["headers"], params={"request_id": rid}
    ).json()["items"]
    actors = {e["actor"] for e in audit}
    assert "system" in actors and f"integration:{creds['client_id']}" in actors
    templates = [m["template"] for m in read_outbox(outbox_dir) if m["request_id"] == rid]
    assert "decision" in templates and templates[-1] == "completed"


def test_a_failed_self_service_task_waits_for_a_person(client, outbox_dir, staff):
    creds = make_client(
        client, staff["cpo"]["headers"], ["tasks:read", "tasks:write"], ["stibee"], name="Stibee"
    )
    stibee = client_token(client, creds)
    created, _ = verified(client, outbox_dir, **_withdrawal(consents=["marketing_email"]))
    for task in client.get("/v1/integrations/tasks", headers=stibee).json()["items"]:
        client.post(
            f"/v1/integrations/tasks/{task['id']}/confirm",
            headers=stibee,
            json={"outcome": "failed", "note": "API 오류"},
        )
    assert staff_read(client, staff["cpo"]["headers"], created["id"])["status"] == "fulfilling"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_withdrawal(), "scope.consents"),
        (_withdrawal(consents=[]), "scope.consents"),
        (_withdrawal(consents=["marketing_sms"]), "scope.consents"),
        (_withdrawal(consents=["marketing_email"], categories=["account"]), "scope.categories"),
        ({"type": "access", "scope": {"consents": ["marketing_email"]}}, "scope.consents"),
    ],
)
def test_bad_scopes_are_422_naming_the_field(client, body, field):
    r = client.post("/v1/requests", json=request_body(**body))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


def test_queue_filter_and_metrics_know_the_type(client, outbox_dir, staff):
    file_request(client, **_withdrawal(consents=["saved_card"]))
    file_request(client, type="access", subject={"name": "김철수", "email": "kim@example.com"})
    cpo = staff["cpo"]["headers"]
    queue = client.get(
        "/v1/staff/requests",
        headers=cpo,
        params={"type": "consent_withdrawal", "status": "pending_verification"},
    ).json()
    assert [i["type"] for i in queue["items"]] == ["consent_withdrawal"]
    metrics = client.get("/v1/staff/metrics", headers=cpo)
    assert metrics.status_code == 200
    assert "consent_withdrawal" in metrics.text


def test_the_product_files_a_verified_withdrawal_carried_out_at_once(client, outbox_dir, staff):
    from tests.support import integration_file

    product = make_client(
        client,
        staff["cpo"]["headers"],
        ["requests:write", "requests:verified", "requests:read"],
        name="Product",
    )
    headers = client_token(client, product)
    created = integration_file(
        client, headers, "cw1", identity_verified=True, **_withdrawal(consents=["marketing_email"])
    )
    assert created["status"] == "fulfilling"
    view = client.get(f"/v1/integrations/requests/{created['id']}", headers=headers).json()
    assert view["decision"]["outcome"] == "granted"


def test_webhooks_name_the_consents_and_the_action(client, outbox_dir, staff):
    from tests.integrations.receiver import Receiver, register

    with Receiver() as receiver:
        register(client, staff["cpo"]["headers"], receiver)
        verified(client, outbox_dir, **_withdrawal(consents=["marketing_email"]))
        events = [r.event for r in receiver.received]
    assert [e["type"] for e in events] == [
        "request.created",
        "request.verified",
        "request.decided",  # self-service: decided by the plan at once
        "task.created",
        "task.created",
    ]
    assert events[0]["data"]["request_type"] == "consent_withdrawal"
    assert all(e["data"]["consents"] == ["marketing_email"] for e in events)
    tasks = {(e["data"]["action"], e["data"]["category"]) for e in events[3:]}
    assert tasks == {("stop", None), ("delete", "newsletter")}
    assert "hong.gildong" not in str(events)  # never personal data

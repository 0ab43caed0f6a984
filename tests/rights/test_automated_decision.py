"""Automated decisions (자동화된 결정, PIPA Art. 37-2; issue 18.5): refuse, explain or review a
declared decision; 30 days, extended at most twice by up to 30 days each (Decree 44-3), a third
extension refused; the Act's limits on refusal; an undeclared decision answered from the
profile."""

from __future__ import annotations

import pytest
import yaml

from app.profile.loader import DEFAULT_PROFILE
from tests.support import (
    act,
    finish_tasks,
    make_settings,
    read_outbox,
    request_body,
    staff_read,
    verified,
)

DECISIONS = {
    "credit_limit": {
        "description_ko": "후불 결제 한도 자동 산정",
        "description_en": "automatic setting of the deferred-payment limit",
        "significant": True,
        "criteria_ko": "최근 12개월 결제 이력과 연체 여부",
        "criteria_en": "payment history of the last 12 months and any arrears",
        "procedure_ko": "매월 1일 점수를 계산하여 한도를 정합니다",
        "procedure_en": "a score computed on the 1st of each month sets the limit",
        "categories": ["payment", "account"],
        "system": "azure",
    },
    "fraud_screening": {
        "description_ko": "결제 이상거래 자동 차단",
        "description_en": "automatic blocking of suspicious payments",
        "significant": True,
        "criteria_ko": "결제 금액·빈도·결제 국가",
        "criteria_en": "amount, frequency and country of payments",
        "procedure_ko": "점수가 기준을 넘는 결제는 자동으로 보류됩니다",
        "procedure_en": "a payment scoring over the threshold is held",
        "basis": "contract",
        "categories": ["payment"],
        "system": "iamport",
    },
}


@pytest.fixture
def settings(database_url, tmp_path):
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    data["automated_decisions"] = DECISIONS
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return make_settings(database_url, tmp_path, profile_path=str(path))


def _automated(kind: str, decision: str | None = None) -> dict:
    scope = {"kind": kind} | ({"decision": decision} if decision else {})
    return {"type": "automated_decision", "scope": scope}


def _assigned(client, outbox_dir, staff, kind, decision=None):
    created, subject = verified(client, outbox_dir, **_automated(kind, decision))
    act(client, staff["cpo"]["headers"], created["id"], "assign", {"assignee": "me"})
    return created, subject


def _extend(client, cpo, rid, day: str, expect: int) -> dict:
    return act(
        client,
        cpo,
        rid,
        "extend",
        {
            "reason": "재처리에 필요한 결제 이력 확인에 시간이 걸립니다",
            "due_at": f"{day}T12:00:00+09:00",
        },
        expect=expect,
    )


def test_refusal_with_30_plus_30_plus_30_days_and_no_fourth(client, outbox_dir, staff):
    created, _ = _assigned(client, outbox_dir, staff, "refuse", "credit_limit")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    # Filed Tue 1 Dec 2026: 30 days, Civil Act counting, end on Thu 31 Dec.
    assert created["due_date"] == "2026-12-31"
    # Each extension adds at most 30 days: 31 Dec + 30 is Sat 30 Jan 2027, so Mon 1 Feb.
    too_far = _extend(client, cpo, rid, "2027-02-02", 422)
    assert (
        too_far["errors"][0]["field"] == "due_at"
        and "2027-02-01" in too_far["errors"][0]["message"]
    )
    assert _extend(client, cpo, rid, "2027-02-01", 200)["due_date"] == "2027-02-01"
    assert _extend(client, cpo, rid, "2027-03-03", 200)["due_date"] == "2027-03-03"
    third = _extend(client, cpo, rid, "2027-03-10", 409)
    assert third["type"] == "/problems/extension-limit" and third["max_extensions"] == 2
    assert staff_read(client, cpo, rid)["due_date"] == "2027-03-03"
    extended = [m for m in read_outbox(outbox_dir) if m["template"] == "extended"]
    assert len(extended) == 2
    assert "시행령 제44조의3" in extended[-1]["text"] and "2회째" in extended[-1]["text"]
    assert "Decree Art. 44-3" in extended[-1]["text"]

    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    assert [(i["system"], i["action"], i["decision"]) for i in plan["items"]] == [
        ("azure", "stop_applying", "credit_limit")
    ]
    assert plan["decision"]["outcome"] == "granted"
    decided = act(client, cpo, rid, "decision", plan["decision"])
    assert [t["action"] for t in decided["tasks"] if t["kind"] == "fulfil"] == ["stop_applying"]
    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")["text"]
    assert notice.index("자동화된 결정") < notice.index("automated decision")
    assert "개인정보 보호법 제37조의2" in notice and "PIPA Art. 37-2" in notice
    assert "최근 12개월 결제 이력과 연체 여부" in notice  # the published criteria
    finish_tasks(client, cpo, rid)
    assert act(client, cpo, rid, "complete", {})["status"] == "completed"
    completed = next(m for m in read_outbox(outbox_dir) if m["template"] == "completed")["text"]
    assert "적용을 중단" in completed and "stopped applying" in completed


def test_explanation_quotes_the_profile_and_the_case(client, outbox_dir, staff):
    created, _ = _assigned(client, outbox_dir, staff, "explain", "fraud_screening")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    assert [i["action"] for i in plan["items"]] == ["explain"]
    body = plan["decision"]
    body["explanation"] += "\n\n2026년 11월 30일 해외 결제 3건이 기준 점수를 넘어 보류되었습니다."
    act(client, cpo, rid, "decision", body)
    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")["text"]
    for text in (
        "결제 금액·빈도·결제 국가",
        "점수가 기준을 넘는 결제는",
        "결제 정보",
        "해외 결제 3건",
    ):
        assert text in notice
    assert "amount, frequency and country of payments" in notice
    # An explanation cannot be declined on a ground that only takes away refusal.
    created2, _ = _assigned(client, outbox_dir, staff, "explain", "fraud_screening")
    r = client.post(
        f"/v1/staff/requests/{created2['id']}/decision",
        headers={**cpo, "If-Match": str(staff_read(client, cpo, created2["id"])["version"])},
        json={"outcome": "refused", "grounds": ["PIPA-37of2-1-contract"], "explanation": "x"},
    )
    assert r.status_code == 422 and "PIPA-37of2-3-justified" in r.text


def test_refusal_not_available_under_a_contract(client, outbox_dir, staff):
    created, subject = _assigned(client, outbox_dir, staff, "refuse", "fraud_screening")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    assert plan["items"] == []
    assert plan["decision"]["outcome"] == "refused"
    assert plan["decision"]["grounds"] == ["PIPA-37of2-1-contract"]
    decided = act(client, cpo, rid, "decision", plan["decision"])
    assert decided["status"] == "refused"
    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")["text"]
    assert "제37조의2제1항 단서, 제15조제1항제4호" in notice and "이의제기" in notice
    view = client.get(f"/v1/requests/{rid}", headers=subject).json()
    assert view["objection"]["allowed"] is True


def test_an_undeclared_decision_is_answered_from_the_profile(client, outbox_dir, staff):
    created, _ = _assigned(client, outbox_dir, staff, "review", "loan_scoring")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    view = staff_read(client, cpo, rid)
    assert view["categories"] == []
    assert view["scope_detail"] == {"consents": None, "decision": "loan_scoring", "kind": "review"}
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    assert plan["items"] == [] and plan["decision"]["outcome"] == "granted"
    assert "완전히 자동화된 시스템으로" in plan["decision"]["explanation"]
    assert "결제 이상거래 자동 차단" in plan["decision"]["explanation"]  # what is declared
    act(client, cpo, rid, "decision", plan["decision"])
    assert act(client, cpo, rid, "complete", {})["status"] == "completed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "automated_decision", "scope": {"decision": "credit_limit"}}, "scope.kind"),
        ({"type": "automated_decision", "scope": {"kind": "delete"}}, "scope.kind"),
        ({"type": "access", "scope": {"kind": "explain"}}, "scope.kind"),
        ({"type": "deletion", "scope": {"decision": "credit_limit"}}, "scope.decision"),
    ],
)
def test_bad_scopes_are_422(client, body, field):
    r = client.post("/v1/requests", json=request_body(**body))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


def test_review_by_a_person_of_a_declared_decision(client, outbox_dir, staff):
    """Review (Art. 37-2(3)): a task for the system that applies the decision, the person's
    answer in the decision notice, the completion notice saying a person re-examined it."""
    created, subject = _assigned(client, outbox_dir, staff, "review", "credit_limit")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    assert [(i["system"], i["action"], i["decision"]) for i in plan["items"]] == [
        ("azure", "review", "credit_limit")
    ]
    body = plan["decision"]
    assert body["outcome"] == "granted" and "사람이 다시 검토" in body["explanation"]
    body["explanation"] += "\n\n담당자가 결제 이력을 다시 확인하여 한도를 50만 원으로 조정했습니다."
    decided = act(client, cpo, rid, "decision", body)
    assert [t["action"] for t in decided["tasks"] if t["kind"] == "fulfil"] == ["review"]
    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")["text"]
    assert "한도를 50만 원으로 조정" in notice and "PIPA Art. 37-2(3)" in notice
    finish_tasks(client, cpo, rid)
    assert act(client, cpo, rid, "complete", {})["status"] == "completed"
    completed = next(m for m in read_outbox(outbox_dir) if m["template"] == "completed")["text"]
    assert "사람이 다시 검토하였으며" in completed and "A person has re-examined" in completed
    view = client.get(f"/v1/requests/{rid}", headers=subject).json()
    assert view["status"] == "completed" and view["decision"]["outcome"] == "granted"


def test_an_explanation_declined_for_a_justified_reason_says_why_and_how_to_object(
    client, outbox_dir, staff
):
    """Art. 37-2(3): an explanation may be declined for a justified reason; the notice gives
    the reason and the objection route (Art. 38(5)), and the subject may object."""
    created, subject = _assigned(client, outbox_dir, staff, "explain", "credit_limit")
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    reason = "같은 결정에 대한 설명을 이미 두 차례 드렸고 그 뒤 변경된 사항이 없습니다."
    decided = act(
        client,
        cpo,
        rid,
        "decision",
        {"outcome": "refused", "grounds": ["PIPA-37of2-3-justified"], "explanation": reason},
    )
    assert decided["status"] == "refused"
    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")["text"]
    assert reason in notice
    assert "개인정보 보호법 제37조의2제3항" in notice and "PIPA Art. 37-2(3)" in notice
    assert "이의제기" in notice and "objection" in notice.lower()
    view = client.get(f"/v1/requests/{rid}", headers=subject).json()
    assert view["objection"]["allowed"] is True
    assert [g["code"] for g in view["decision"]["grounds"]] == ["PIPA-37of2-3-justified"]

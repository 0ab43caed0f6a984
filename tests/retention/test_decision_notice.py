"""The decision notice names, for each category the law keeps, the law and the period."""

from __future__ import annotations

from tests.support import act, read_outbox, verified


def test_a_kept_category_is_named_with_its_law_in_the_notice(client, outbox_dir, staff):
    created, _ = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["payment", "newsletter"]}
    )
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=cpo).json()
    kept = {(i["category"], i["system"]) for i in plan["items"] if i["action"] == "retain"}
    deleted = {(i["category"], i["system"]) for i in plan["items"] if i["action"] == "delete"}
    assert deleted == {("newsletter", "stibee")}
    assert {c for c, _ in kept} == {"payment"}
    view = act(client, cpo, rid, "decision", plan["decision"])
    assert view["status"] == "fulfilling"

    notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")
    text = notice["text"]
    assert "「전자상거래 등에서의 소비자 보호에 관한 법률; 전자금융거래법」에 따라 보존" in text
    assert "보존 기간 5년" in text
    assert "kept under the Act on the Consumer Protection in Electronic Commerce" in text
    assert "for 5 years" in text
    assert "개인정보 보호법 제36조제1항 단서" in text

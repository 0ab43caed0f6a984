"""GET /v1/staff/requests/{id}/plan and the decision that must follow it."""

from __future__ import annotations

import pytest

from tests.support import act, count_rows, in_progress, read_outbox, staff_read, verified

E_COMMERCE_KO = "전자상거래 등에서의 소비자 보호에 관한 법률"
E_COMMERCE_EN = "Act on the Consumer Protection in Electronic Commerce"


def _plan(client, headers, rid, expect=200):
    response = client.get(f"/v1/staff/requests/{rid}/plan", headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


def _lines(plan, category):
    return [
        (i["system"], i["action"], i["rule"]) for i in plan["items"] if i["category"] == category
    ]


class TestPlanAuth:
    def test_anonymous_subject_other_handler_unknown(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir, type="deletion")
        rid = created["id"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        url = f"/v1/staff/requests/{rid}/plan"
        assert client.get(url).status_code == 401
        assert client.get(url, headers=subject).status_code == 403
        other = client.get(url, headers=staff["handler2"]["headers"])
        assert other.status_code == 403 and other.json()["type"] == "/problems/forbidden"
        assert client.get(url, headers=staff["auditor"]["headers"]).status_code == 200
        missing = client.get("/v1/staff/requests/req_nope/plan", headers=staff["cpo"]["headers"])
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


class TestDeletionPlan:
    def test_payment_is_kept_under_the_e_commerce_act_and_e_finance(
        self, client, outbox_dir, staff
    ):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="deletion",
            scope={"categories": ["payment", "newsletter"]},
        ).id
        plan = _plan(client, staff["handler"]["headers"], rid)
        assert plan["request_id"] == rid and plan["type"] == "deletion"
        assert _lines(plan, "newsletter") == [("stibee", "delete", None)]
        assert sorted(_lines(plan, "payment")) == sorted(
            (system, "retain", rule)
            for system in ("nice_payments", "paypal", "iamport")
            for rule in ("payments", "e_finance")
        )
        payments = next(i for i in plan["items"] if i["rule"] == "payments")
        assert payments["law_ko"] == E_COMMERCE_KO and payments["law_en"] == E_COMMERCE_EN
        assert payments["period"] == "P5Y"
        # The payment's date is known only to the system holding it: no date is invented.
        assert payments["retain_until"] is None
        assert payments["starts_ko"] and payments["starts_en"]
        assert payments["record_ko"] == "대금결제 및 재화 등의 공급에 관한 기록"
        e_finance = next(i for i in plan["items"] if i["rule"] == "e_finance")
        assert (e_finance["law_ko"], e_finance["period"]) == ("전자금융거래법", "P5Y")
        decision = plan["decision"]
        assert decision["outcome"] == "partially_granted"
        assert decision["grounds"] == ["PIPA-36-1-proviso"]
        assert decision["items"] == [
            {"category": "payment", "result": "refused", "grounds": ["PIPA-36-1-proviso"]},
            {"category": "newsletter", "result": "granted", "grounds": []},
        ]
        assert decision["explanation"].index("결제 정보") < decision["explanation"].index("Payment")
        assert E_COMMERCE_KO in decision["explanation"] and "5년" in decision["explanation"]

    def test_the_reference_mapping(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, type="deletion").id
        plan = _plan(client, staff["cpo"]["headers"], rid)
        rules = {}
        for item in plan["items"]:
            rules.setdefault(item["category"], set()).add((item["action"], item["rule"]))
        assert rules == {
            "account": {("retain", "contracts")},
            "payment": {("retain", "payments"), ("retain", "e_finance")},
            "inquiries": {("retain", "complaints")},
            "usage": {("retain", "visits")},
            "events": {("retain", "ads")},
            "newsletter": {("delete", None)},
        }
        periods = {i["rule"]: i["period"] for i in plan["items"] if i["rule"]}
        assert periods == {
            "contracts": "P5Y",
            "payments": "P5Y",
            "e_finance": "P5Y",
            "complaints": "P3Y",
            "visits": "P3M",
            "ads": "P6M",
        }

    def test_following_the_plan_decides_and_records_the_law(self, client, outbox_dir, staff):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="deletion",
            scope={"categories": ["payment", "newsletter"]},
        ).id
        h = staff["handler"]["headers"]
        decision = _plan(client, h, rid)["decision"]
        view = act(client, h, rid, "decision", decision)
        assert view["status"] == "fulfilling"
        items = {i["category"]: i for i in view["decisions"][0]["items"]}
        payment = items["payment"]
        assert payment["result"] == "refused" and payment["rule"] == "payments, e_finance"
        assert payment["law_ko"] == f"{E_COMMERCE_KO}; 전자금융거래법"
        assert payment["law_en"] == f"{E_COMMERCE_EN}; Electronic Financial Transactions Act"
        assert payment["period"] == "P5Y" and payment["retain_until"] is None
        assert [r["rule"] for r in payment["rules"]] == ["payments", "e_finance"]
        assert "rule" not in items["newsletter"]
        notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")
        assert "개인정보 보호법 제36조제1항 단서" in notice["text"]

    @pytest.mark.parametrize(
        "body",
        [
            {"outcome": "granted", "explanation": "전부 삭제합니다."},
            {
                "outcome": "granted",
                "items": [
                    {"category": "payment", "result": "granted"},
                    {"category": "newsletter", "result": "granted"},
                ],
                "explanation": "전부 삭제합니다.",
            },
            {
                "outcome": "partially_granted",
                "grounds": ["PIPA-36-1-proviso"],
                "items": [
                    {"category": "payment", "result": "granted"},
                    {
                        "category": "newsletter",
                        "result": "refused",
                        "grounds": ["PIPA-36-1-proviso"],
                    },
                ],
                "explanation": "일부 삭제합니다.",
            },
        ],
    )
    def test_granting_a_retained_category_is_422_naming_it_and_the_law(
        self, client, outbox_dir, staff, database_url, body
    ):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="deletion",
            scope={"categories": ["payment", "newsletter"]},
        ).id
        before = staff_read(client, staff["cpo"]["headers"], rid)
        problem = act(client, staff["handler"]["headers"], rid, "decision", body, expect=422)
        assert problem["type"] == "/problems/validation-error"
        retained = [e for e in problem["errors"] if e["code"] == "retained"]
        assert len(retained) == 1
        assert retained[0]["field"] in ("outcome", "items.0.result")
        assert "payment" in retained[0]["message"]
        assert (
            E_COMMERCE_KO in retained[0]["message"] and "전자금융거래법" in retained[0]["message"]
        )
        after = staff_read(client, staff["cpo"]["headers"], rid)
        assert after["status"] == "in_progress" and after["decisions"] == []
        assert after["version"] == before["version"]
        assert count_rows(database_url, "decision") == 0

    def test_newsletter_alone_is_deleted_at_stibee(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        ).id
        plan = _plan(client, staff["handler"]["headers"], rid)
        assert [(i["category"], i["system"], i["action"]) for i in plan["items"]] == [
            ("newsletter", "stibee", "delete")
        ]
        assert plan["decision"]["outcome"] == "granted"
        view = act(client, staff["handler"]["headers"], rid, "decision", plan["decision"])
        assert view["status"] == "fulfilling"

    def test_refusing_everything_without_items_still_records_the_law(
        self, client, outbox_dir, staff
    ):
        rid = in_progress(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["usage"]}
        ).id
        plan = _plan(client, staff["handler"]["headers"], rid)
        assert plan["decision"]["outcome"] == "refused"
        body = {k: v for k, v in plan["decision"].items() if k != "items"}
        view = act(client, staff["handler"]["headers"], rid, "decision", body)
        assert view["status"] == "refused"
        (item,) = view["decisions"][0]["items"]
        assert item["category"] == "usage" and item["rule"] == "visits"
        assert item["law_ko"] == "통신비밀보호법" and item["period"] == "P3M"


class TestOtherPlans:
    def test_suspension_keeps_under_37_2_1(self, client, outbox_dir, staff):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="suspension",
            scope={"categories": ["events", "newsletter"]},
        ).id
        plan = _plan(client, staff["handler"]["headers"], rid)
        assert _lines(plan, "newsletter") == [("stibee", "suspend", None)]
        assert _lines(plan, "events") == [("azure", "retain", "ads")]
        assert plan["decision"]["grounds"] == ["PIPA-37-2-1"]
        assert "제37조제2항제1호" in plan["decision"]["explanation"]
        view = act(client, staff["handler"]["headers"], rid, "decision", plan["decision"])
        assert view["status"] == "fulfilling"

    def test_correction_names_the_systems_holding_the_items(self, client, outbox_dir, staff):
        scope = {
            "categories": ["account", "payment", "newsletter"],
            "corrections": [
                {"item": "phone", "requested": "010-9999-0000"},
                {"item": "company_name", "requested": "새 회사"},
            ],
        }
        rid = in_progress(client, outbox_dir, staff, type="correction", scope=scope).id
        plan = _plan(client, staff["handler"]["headers"], rid)
        lines = sorted(
            (i["category"], i["system"], i["action"], tuple(i["items"])) for i in plan["items"]
        )
        assert lines == [
            ("account", "azure", "correct", ("phone", "company_name")),
            ("payment", "iamport", "correct", ("phone",)),
            ("payment", "nice_payments", "correct", ("phone",)),
            ("payment", "paypal", "correct", ("phone",)),
        ]
        # The plan shows item keys only: no corrected value leaks into it.
        assert "010-9999-0000" not in str(plan) and "새 회사" not in str(plan)
        view = act(client, staff["handler"]["headers"], rid, "decision", plan["decision"])
        assert view["status"] == "fulfilling"

    def test_access_collects_from_every_system(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, type="access", scope={"categories": ["inquiries"]}
        ).id
        plan = _plan(client, staff["handler"]["headers"], rid)
        assert sorted(_lines(plan, "inquiries")) == [
            ("azure", "collect", None),
            ("channel_corp", "collect", None),
        ]
        assert plan["decision"]["outcome"] == "granted"


class TestProfileRoute:
    def test_staff_read_the_profile(self, client, staff):
        assert client.get("/v1/staff/profile").status_code == 401
        body = client.get("/v1/staff/profile", headers=staff["auditor"]["headers"]).json()
        assert body["categories"]["payment"]["retention"] == ["payments", "e_finance"]
        assert body["categories"]["newsletter"]["systems"] == ["stibee"]
        assert body["retention"]["visits"]["period"] == "P3M"
        assert body["processors"]["azure"]["task_en"] == "servers, databases and network"

    def test_subject_token_is_403(self, client, outbox_dir):
        _, subject = verified(client, outbox_dir)
        assert client.get("/v1/staff/profile", headers=subject).status_code == 403

    def test_read_only(self, client, staff):
        h = staff["cpo"]["headers"]
        assert client.put("/v1/staff/profile", json={}, headers=h).status_code == 405
        assert client.post("/v1/staff/profile", json={}, headers=h).status_code == 405

"""Staff actions on a request: auth matrix, If-Match, and the rules of each action."""

from __future__ import annotations

import pytest

from tests.support import (
    act,
    file_request,
    finish_tasks,
    fresh_subject_token,
    in_progress,
    latest_code,
    read_outbox,
    relogin,
    staff_read,
    verified,
)

ACTIONS = {
    "assign": {"assignee": "handler@example.com"},
    "verify": {"outcome": "verified", "method": "id_card_in_person"},
    "extend": {"reason": "자료 취합에 시간이 필요합니다", "due_at": "2026-12-24T12:00:00+09:00"},
    "decision": {"outcome": "granted", "explanation": "요구하신 대로 처리합니다."},
    "complete": None,
}


def _open_request(client, outbox_dir, **kw):
    created, _ = verified(client, outbox_dir, **kw)
    return created["id"]


class TestAuthMatrix:
    @pytest.mark.parametrize("action", ACTIONS)
    def test_anonymous_subject_auditor_missing_and_stale_version(
        self, client, outbox_dir, staff, action
    ):
        created, subject = verified(client, outbox_dir)
        rid = created["id"]
        url = f"/v1/staff/requests/{rid}/{action}"
        body = ACTIONS[action]
        assert client.post(url, json=body).status_code == 401
        assert client.post(url, json=body, headers={**subject, "If-Match": "1"}).status_code == 403
        auditor = client.post(
            url, json=body, headers={**staff["auditor"]["headers"], "If-Match": "1"}
        )
        assert auditor.status_code == 403
        missing = client.post(url, json=body, headers=staff["cpo"]["headers"])
        assert missing.status_code == 428
        assert missing.json()["type"] == "/problems/precondition-required"
        stale = client.post(url, json=body, headers={**staff["cpo"]["headers"], "If-Match": "1"})
        assert stale.status_code == 412
        assert stale.json()["type"] == "/problems/precondition-failed"
        assert (
            stale.json()["version"] == staff_read(client, staff["cpo"]["headers"], rid)["version"]
        )

    def test_unknown_request_is_404(self, client, staff):
        response = client.post(
            "/v1/staff/requests/req_nope/assign",
            json=ACTIONS["assign"],
            headers={**staff["cpo"]["headers"], "If-Match": "1"},
        )
        assert response.status_code == 404

    def test_handler_cannot_act_on_anothers_request(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, assignee="handler2@example.com").id
        h = staff["handler"]["headers"]
        version = staff_read(client, staff["cpo"]["headers"], rid)["version"]
        response = client.post(
            f"/v1/staff/requests/{rid}/decision",
            json=ACTIONS["decision"],
            headers={**h, "If-Match": str(version)},
        )
        assert response.status_code == 403
        assert client.get(f"/v1/staff/requests/{rid}", headers=h).status_code == 403


class TestAssign:
    def test_cpo_assigns_open_request(self, client, outbox_dir, staff):
        rid = _open_request(client, outbox_dir)
        view = act(
            client, staff["cpo"]["headers"], rid, "assign", {"assignee": staff["handler"]["id"]}
        )
        assert view["status"] == "in_progress"
        assert view["assignee_id"] == staff["handler"]["id"]
        decide = [t for t in view["tasks"] if t["kind"] == "decide"]
        assert len(decide) == 1 and decide[0]["assignee_id"] == staff["handler"]["id"]
        assert decide[0]["due_at"] == view["due_at"]

    def test_reassign_moves_the_open_tasks(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff).id
        view = act(
            client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler2@example.com"}
        )
        assert view["status"] == "in_progress"
        assert {t["assignee_id"] for t in view["tasks"] if t["status"] == "open"} == {
            staff["handler2"]["id"]
        }
        assert view["timeline"][-1]["kind"] == "assigned"

    def test_handler_takes_for_self_only(self, client, outbox_dir, staff):
        rid = _open_request(client, outbox_dir)
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "assign",
            {"assignee": "handler2@example.com"},
            expect=403,
        )
        view = act(
            client, staff["handler"]["headers"], rid, "assign", {"assignee": "handler@example.com"}
        )
        assert view["assignee_id"] == staff["handler"]["id"]

    def test_auditors_and_strangers_cannot_be_assignees(self, client, outbox_dir, staff):
        rid = _open_request(client, outbox_dir)
        for who in ("auditor@example.com", "nobody@example.com", "usr_nope"):
            problem = act(
                client, staff["cpo"]["headers"], rid, "assign", {"assignee": who}, expect=422
            )
            assert problem["errors"][0]["field"] == "assignee"


class TestVerify:
    def _offline(self, client, staff, **extra):
        body = {
            "type": "access",
            "subject": {"name": "윤서연", "email": None},
            "channel": "letter",
            "received_at": "2026-11-30T09:00:00+09:00",
            **extra,
        }
        response = client.post("/v1/staff/requests", json=body, headers=staff["cpo"]["headers"])
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def test_person_verifies(self, client, staff):
        rid = self._offline(client, staff)
        view = staff_read(client, staff["cpo"]["headers"], rid)
        assert [t["kind"] for t in view["tasks"]] == ["verify"]
        view = act(
            client,
            staff["handler"]["headers"],
            rid,
            "verify",
            {"outcome": "verified", "method": "phone_callback", "note": "주민등록증 확인"},
        )
        assert view["status"] == "open"
        assert view["tasks"][0]["status"] == "done"
        assert "주민등록증" not in str(view["timeline"])

    def test_rejection_notifies_with_ground_and_objection_route(self, client, outbox_dir, staff):
        created = file_request(client)
        view = act(
            client,
            staff["cpo"]["headers"],
            created["id"],
            "verify",
            {"outcome": "rejected", "method": "document_check"},
        )
        assert view["status"] == "rejected" and view["closed_at"]
        notice = [m for m in read_outbox(outbox_dir) if m["template"] == "rejected"]
        assert len(notice) == 1
        assert "개인정보 보호법 제38조" in notice[0]["text"] and "이의" in notice[0]["text"]

    def test_verifying_an_open_request_is_409(self, client, outbox_dir, staff):
        rid = _open_request(client, outbox_dir)
        problem = act(client, staff["cpo"]["headers"], rid, "verify", ACTIONS["verify"], expect=409)
        assert problem["type"] == "/problems/illegal-transition"


class TestExtend:
    def test_extension_moves_deadline_and_tasks_and_notifies(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff).id
        view = act(client, staff["handler"]["headers"], rid, "extend", ACTIONS["extend"])
        assert view["due_at"] == "2026-12-24T14:59:59Z"  # end of 24 Dec in Korea time
        assert view["statutory_due_at"] == "2026-12-11T14:59:59Z"
        assert {t["due_at"] for t in view["tasks"] if t["status"] == "open"} == {view["due_at"]}
        assert view["extensions"][0]["reason"] == ACTIONS["extend"]["reason"]
        notice = [m for m in read_outbox(outbox_dir) if m["template"] == "extended"]
        assert len(notice) == 1
        assert ACTIONS["extend"]["reason"] in notice[0]["text"]
        assert "2026년 12월 24일" in notice[0]["text"] and "24 December 2026" in notice[0]["text"]

    @pytest.mark.parametrize("due_at", ["2026-12-11T10:00:00+09:00", "2026-12-01T10:00:00+09:00"])
    def test_not_later_is_422(self, client, outbox_dir, staff, due_at):
        rid = in_progress(client, outbox_dir, staff).id
        problem = act(
            client,
            staff["cpo"]["headers"],
            rid,
            "extend",
            {"reason": "x", "due_at": due_at},
            expect=422,
        )
        assert problem["errors"][0]["field"] == "due_at"

    @pytest.mark.parametrize(
        "body",
        [
            {"due_at": "2026-12-24T12:00:00+09:00"},
            {"reason": "", "due_at": "2026-12-24T12:00:00+09:00"},
            {"reason": "x", "due_at": "2026-12-24T12:00:00"},
            {"reason": "x", "due_at": "next week"},
        ],
    )
    def test_bad_bodies(self, client, outbox_dir, staff, body):
        rid = in_progress(client, outbox_dir, staff).id
        act(client, staff["cpo"]["headers"], rid, "extend", body, expect=422)

    def test_closed_request_cannot_be_extended(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir)
        client.post(f"/v1/requests/{created['id']}/withdraw", headers=subject)
        act(client, staff["cpo"]["headers"], created["id"], "extend", ACTIONS["extend"], expect=409)


GRANT = {"outcome": "granted", "explanation": "요구하신 대로 처리합니다."}


def _refuse(grounds):
    return {"outcome": "refused", "grounds": grounds, "explanation": "법령에 따라 거절합니다."}


# (type, grounds, valid?) — the registry in pipa.md, ground by ground.
DECISION_RULES = [
    ("access", ["PIPA-35-4-1"], True),
    ("access", ["PIPA-35-4-2"], True),
    ("access", ["PIPA-35-4-3"], False),  # public bodies only
    ("access", ["PIPA-36-1-proviso"], False),
    ("access", ["PIPA-38-identity"], True),
    ("deletion", ["PIPA-36-1-proviso"], True),
    ("deletion", ["PIPA-35-4-1"], False),
    ("deletion", ["PIPA-37-2-1"], False),
    ("correction", ["PIPA-38-identity"], True),
    ("correction", ["PIPA-36-1-proviso"], False),
    ("suspension", ["PIPA-37-2-1"], True),
    ("suspension", ["PIPA-37-2-2"], True),
    ("suspension", ["PIPA-37-2-3"], False),  # public bodies only
    ("suspension", ["PIPA-37-2-4"], True),
    ("suspension", ["PIPA-35-4-2"], False),
    ("suspension", [], False),
    ("suspension", ["PIPA-99-9-9"], False),
    ("suspension", ["PIPA-37-2-1", "PIPA-37-2-1"], False),
]

CORRECTION_SCOPE = {
    "categories": ["account"],
    "corrections": [{"item": "phone", "requested": "010-9999-0000"}],
}


def _scope_for(kind):
    return {"scope": CORRECTION_SCOPE} if kind == "correction" else {}


class TestDecision:
    @pytest.mark.parametrize(("kind", "grounds", "valid"), DECISION_RULES)
    def test_grounds_must_fit_the_type(self, client, outbox_dir, staff, kind, grounds, valid):
        rid = in_progress(client, outbox_dir, staff, type=kind, **_scope_for(kind)).id
        expect = 200 if valid else 422
        body = act(
            client, staff["handler"]["headers"], rid, "decision", _refuse(grounds), expect=expect
        )
        if valid:
            assert body["status"] == "refused" and body["decisions"][0]["grounds"] == grounds
        else:
            assert body["type"] in ("/problems/invalid-grounds", "/problems/validation-error")
            view = staff_read(client, staff["cpo"]["headers"], rid)
            assert view["status"] == "in_progress" and view["decisions"] == []

    def test_refusal_notice_quotes_grounds_and_objection_route(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff, type="deletion").id
        act(client, staff["handler"]["headers"], rid, "decision", _refuse(["PIPA-36-1-proviso"]))
        notice = next(m for m in read_outbox(outbox_dir) if m["template"] == "decision")
        assert "개인정보 보호법 제36조제1항 단서" in notice["text"]
        assert "다른 법령에서 그 개인정보가 수집 대상으로 명시되어 있는 경우" in notice["text"]
        assert "PIPA Art. 36(1) proviso" in notice["text"]
        assert "2026년 12월 31일" in notice["text"]  # decided 1 Dec + 30 days

    def test_grant_of_deletion_creates_fulfilment_tasks(self, client, outbox_dir, staff):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="deletion",
            scope={"categories": ["payment", "newsletter"]},
        ).id
        # The plan keeps payment records (e-commerce and e-finance laws): its decision refuses
        # that category, so only the newsletter's system gets a deletion task.
        plan = client.get(
            f"/v1/staff/requests/{rid}/plan", headers=staff["handler"]["headers"]
        ).json()
        view = act(client, staff["handler"]["headers"], rid, "decision", plan["decision"])
        assert view["status"] == "fulfilling"
        fulfil = sorted(
            (t["category"], t["system"]) for t in view["tasks"] if t["kind"] == "fulfil"
        )
        assert fulfil == [("newsletter", "stibee")]
        assert [t["status"] for t in view["tasks"] if t["kind"] == "decide"] == ["done"]

    def test_partial_grant_needs_items_with_both_results(self, client, outbox_dir, staff):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="deletion",
            scope={"categories": ["payment", "newsletter"]},
        ).id
        h = staff["handler"]["headers"]
        base = {
            "outcome": "partially_granted",
            "grounds": ["PIPA-36-1-proviso"],
            "explanation": "일부",
        }
        act(client, h, rid, "decision", base, expect=422)
        act(
            client,
            h,
            rid,
            "decision",
            {**base, "items": [{"category": "newsletter", "result": "granted"}]},
            expect=422,
        )
        act(
            client,
            h,
            rid,
            "decision",
            {
                **base,
                "items": [
                    {"category": "newsletter", "result": "granted"},
                    {"category": "usage", "result": "refused", "grounds": ["PIPA-36-1-proviso"]},
                ],
            },
            expect=422,
        )
        view = act(
            client,
            h,
            rid,
            "decision",
            {
                **base,
                "items": [
                    {"category": "newsletter", "result": "granted"},
                    {"category": "payment", "result": "refused", "grounds": ["PIPA-36-1-proviso"]},
                ],
            },
        )
        assert view["status"] == "fulfilling"
        assert [(t["category"], t["system"]) for t in view["tasks"] if t["kind"] == "fulfil"] == [
            ("newsletter", "stibee")
        ]

    def test_grant_citing_grounds_is_422(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff).id
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "decision",
            {**GRANT, "grounds": ["PIPA-35-4-1"]},
            expect=422,
        )

    def test_deciding_an_open_request_is_409(self, client, outbox_dir, staff):
        rid = _open_request(client, outbox_dir)
        act(client, staff["cpo"]["headers"], rid, "decision", GRANT, expect=409)

    def test_public_body_may_cite_its_grounds(self, app, database_url, tmp_path, clock):
        from fastapi.testclient import TestClient

        from app.main import create_app
        from tests.support import login, make_settings, make_staff

        settings = make_settings(database_url, tmp_path, public_body=True)
        public = create_app(settings, clock)
        with TestClient(public) as c:
            make_staff(public, "cpo@example.com", "cpo")
            cpo = login(c, "cpo@example.com")
            created = c.post(
                "/v1/requests",
                json={"type": "access", "subject": {"name": "가", "email": "g@example.com"}},
            ).json()
            code = latest_code(tmp_path / "outbox", created["id"])
            c.post(f"/v1/requests/{created['id']}/verification", json={"code": code})
            act(c, cpo, created["id"], "assign", {"assignee": "cpo@example.com"})
            view = act(c, cpo, created["id"], "decision", _refuse(["PIPA-35-4-3"]))
            assert view["status"] == "refused"


class TestCompleteAndTasks:
    def test_cannot_complete_with_open_fulfilment_tasks(self, client, outbox_dir, staff):
        rid = in_progress(
            client,
            outbox_dir,
            staff,
            type="suspension",
            scope={"categories": ["newsletter", "events"]},
        ).id
        h = staff["handler"]["headers"]
        # The plan keeps event records (ads, 6 months): only the newsletter is suspended.
        plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=h).json()
        view = act(client, h, rid, "decision", plan["decision"])
        problem = act(client, h, rid, "complete", None, expect=409)
        assert len(problem["open_tasks"]) == 1
        for task in [t for t in view["tasks"] if t["kind"] == "fulfil"]:
            done = client.post(
                f"/v1/staff/tasks/{task['id']}/complete",
                headers=h,
                json={"note": "스티비 구독 해지 확인"},
            )
            assert done.status_code == 200 and done.json()["status"] == "done"
        view = act(client, h, rid, "complete", {"note": "모두 완료"})
        assert view["status"] == "completed" and view["closed_at"]
        notice = [m for m in read_outbox(outbox_dir) if m["template"] == "completed"]
        assert len(notice) == 1 and "뉴스레터" in notice[0]["text"]

    def test_access_grant_completes_once_collected(self, client, outbox_dir, staff):
        rid = in_progress(client, outbox_dir, staff).id
        act(client, staff["handler"]["headers"], rid, "decision", GRANT)
        act(client, staff["handler"]["headers"], rid, "complete", expect=409)
        finish_tasks(client, staff["handler"]["headers"], rid)
        assert act(client, staff["handler"]["headers"], rid, "complete")["status"] == "completed"

    def test_task_rules(self, client, outbox_dir, staff):
        rid = in_progress(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        ).id
        decide = staff_read(client, staff["cpo"]["headers"], rid)["tasks"][0]
        h2 = staff["handler2"]["headers"]
        # Closed by the decision, not by hand.
        assert (
            client.post(
                f"/v1/staff/tasks/{decide['id']}/complete", headers=staff["cpo"]["headers"]
            ).status_code
            == 409
        )
        view = act(client, staff["handler"]["headers"], rid, "decision", GRANT)
        fulfil = next(t for t in view["tasks"] if t["kind"] == "fulfil")
        assert (
            client.post(f"/v1/staff/tasks/{fulfil['id']}/complete", headers=h2).status_code == 403
        )
        assert (
            client.post(
                f"/v1/staff/tasks/{fulfil['id']}/complete", headers=staff["auditor"]["headers"]
            ).status_code
            == 403
        )
        assert client.post(f"/v1/staff/tasks/{fulfil['id']}/complete").status_code == 401
        assert client.post("/v1/staff/tasks/tsk_nope/complete", headers=h2).status_code == 404
        assert (
            client.post(
                f"/v1/staff/tasks/{fulfil['id']}/complete", headers=staff["cpo"]["headers"]
            ).status_code
            == 200
        )
        assert (
            client.post(
                f"/v1/staff/tasks/{fulfil['id']}/complete", headers=staff["cpo"]["headers"]
            ).status_code
            == 409
        )

    def test_task_queue(self, client, outbox_dir, staff):
        for _ in range(3):
            in_progress(client, outbox_dir, staff)
        mine = client.get("/v1/staff/tasks?mine=true", headers=staff["handler"]["headers"]).json()
        assert len(mine["items"]) == 3 and all(t["kind"] == "decide" for t in mine["items"])
        assert all(t["reference"].startswith("RD-") for t in mine["items"])
        assert (
            client.get("/v1/staff/tasks?mine=true", headers=staff["handler2"]["headers"]).json()[
                "items"
            ]
            == []
        )
        page = client.get("/v1/staff/tasks?limit=2", headers=staff["auditor"]["headers"]).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        rest = client.get(
            f"/v1/staff/tasks?limit=2&cursor={page['next_cursor']}",
            headers=staff["auditor"]["headers"],
        ).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        assert (
            client.get("/v1/staff/tasks?status=done", headers=staff["cpo"]["headers"]).json()[
                "items"
            ]
            == []
        )
        assert (
            client.get("/v1/staff/tasks?status=weird", headers=staff["cpo"]["headers"]).status_code
            == 422
        )


class TestObjection:
    def _refused(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir, type="suspension")
        rid = created["id"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(client, staff["handler"]["headers"], rid, "decision", _refuse(["PIPA-37-2-1"]))
        return rid, subject

    def test_objection_reopens_with_a_review_task_and_new_period(
        self, client, outbox_dir, staff, clock
    ):
        rid, subject = self._refused(client, outbox_dir, staff)
        clock.advance(days=5)
        subject = fresh_subject_token(client, outbox_dir, rid)
        relogin(client, staff)
        response = client.post(
            f"/v1/requests/{rid}/objections",
            headers=subject,
            json={"reason": "법령상 의무가 없는 처리입니다"},
        )
        assert response.status_code == 201
        assert response.json()["status"] == "in_progress"
        view = staff_read(client, staff["cpo"]["headers"], rid)
        review = [t for t in view["tasks"] if t["kind"] == "review_objection"]
        assert len(review) == 1 and review[0]["status"] == "open"
        assert view["objections"][0]["reason"] == "법령상 의무가 없는 처리입니다"
        assert view["due_date"] == "2026-12-16"  # 10 days from 6 Dec (Sun)
        assert any(m["template"] == "objection_received" for m in read_outbox(outbox_dir))
        # The re-decision follows the same rules, and closes the review.
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "decision",
            _refuse(["PIPA-35-4-1"]),
            expect=422,
        )
        # Re-decided as the plan says: suspend what no law keeps, refuse the rest.
        plan = client.get(f"/v1/staff/requests/{rid}/plan", headers=staff["cpo"]["headers"])
        view = act(client, staff["handler"]["headers"], rid, "decision", plan.json()["decision"])
        assert view["status"] == "fulfilling"
        assert view["objections"][0]["resolved_at"]
        assert all(t["status"] == "done" for t in view["tasks"] if t["kind"] == "review_objection")

    def test_too_late(self, client, outbox_dir, staff, clock):
        rid, subject = self._refused(client, outbox_dir, staff)
        clock.advance(days=31)
        subject = fresh_subject_token(client, outbox_dir, rid)
        response = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "늦었지만"}
        )
        assert response.status_code == 409

    def test_nothing_to_object_to(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir)
        response = client.post(
            f"/v1/requests/{created['id']}/objections", headers=subject, json={"reason": "x"}
        )
        assert response.status_code == 409
        act(
            client,
            staff["cpo"]["headers"],
            created["id"],
            "assign",
            {"assignee": "handler@example.com"},
        )
        act(client, staff["handler"]["headers"], created["id"], "decision", GRANT)
        response = client.post(
            f"/v1/requests/{created['id']}/objections", headers=subject, json={"reason": "x"}
        )
        assert response.status_code == 409

    def test_partial_grant_can_be_objected_to_after_completion(self, client, outbox_dir, staff):
        created, subject = verified(
            client, outbox_dir, scope={"categories": ["account", "payment"]}
        )
        rid = created["id"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "decision",
            {
                "outcome": "partially_granted",
                "grounds": ["PIPA-35-4-1"],
                "explanation": "일부 제한",
                "items": [
                    {"category": "account", "result": "granted"},
                    {"category": "payment", "result": "refused", "grounds": ["PIPA-35-4-1"]},
                ],
            },
        )
        finish_tasks(client, staff["handler"]["headers"], rid)
        act(client, staff["handler"]["headers"], rid, "complete")
        response = client.post(
            f"/v1/requests/{rid}/objections",
            headers=subject,
            json={"reason": "결제 정보도 보여 주세요"},
        )
        assert response.status_code == 201 and response.json()["status"] == "in_progress"

    def test_auth(self, client, outbox_dir, staff):
        rid, subject = self._refused(client, outbox_dir, staff)
        assert (
            client.post(f"/v1/requests/{rid}/objections", json={"reason": "x"}).status_code == 401
        )
        _other, other_token = verified(
            client, outbox_dir, subject={"name": "남", "email": "other@example.com"}
        )
        assert (
            client.post(
                f"/v1/requests/{rid}/objections", headers=other_token, json={"reason": "x"}
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/v1/requests/{rid}/objections", headers=subject, json={"reason": ""}
            ).status_code
            == 422
        )
        assert (
            client.post(
                f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "x", "extra": 1}
            ).status_code
            == 422
        )

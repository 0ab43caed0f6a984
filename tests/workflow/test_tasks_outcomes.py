"""Scoped tasks (issue 8.3): created from the plan for the granted categories and the systems it
names; completed with an outcome; a failed task blocks completion until redone or waived."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support import act, finish_tasks, staff_read, verified

GRANT = {"outcome": "granted", "explanation": "요구하신 대로 처리합니다."}


def _granted(client, outbox_dir, staff, decision=GRANT, **kw) -> str:
    created, _ = verified(client, outbox_dir, **kw)
    rid = created["id"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    act(client, staff["handler"]["headers"], rid, "decision", decision)
    return rid


def _tasks(client, staff, rid, kind=None) -> list[dict]:
    tasks = staff_read(client, staff["cpo"]["headers"], rid)["tasks"]
    return [t for t in tasks if kind is None or t["kind"] == kind]


def _complete(client, headers, task_id, body=None):
    return client.post(f"/v1/staff/tasks/{task_id}/complete", headers=headers, json=body)


def _raw(database_url, sql, **params):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


class TestCreatedFromThePlan:
    def test_access_grant_creates_one_collect_task_per_system_of_each_category(
        self, client, outbox_dir, staff
    ):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["payment", "newsletter"]})
        collect = _tasks(client, staff, rid, "collect")
        assert sorted((t["category"], t["system"]) for t in collect) == [
            ("newsletter", "stibee"),
            ("payment", "iamport"),
            ("payment", "nice_payments"),
            ("payment", "paypal"),
        ]
        assert {t["assignee_id"] for t in collect} == {staff["handler"]["id"]}
        assert {t["status"] for t in collect} == {"open"}
        assert _tasks(client, staff, rid, "fulfil") == []

    def test_partial_access_grant_collects_only_what_it_grants(self, client, outbox_dir, staff):
        rid = _granted(
            client,
            outbox_dir,
            staff,
            scope={"categories": ["inquiries", "newsletter"]},
            decision={
                "outcome": "partially_granted",
                "grounds": ["PIPA-35-4-2"],
                "explanation": "상담 기록에는 다른 사람의 정보가 함께 있어 제한합니다.",
                "items": [
                    {"category": "newsletter", "result": "granted"},
                    {"category": "inquiries", "result": "refused", "grounds": ["PIPA-35-4-2"]},
                ],
            },
        )
        assert [(t["category"], t["system"]) for t in _tasks(client, staff, rid, "collect")] == [
            ("newsletter", "stibee")
        ]

    def test_correction_tasks_only_where_the_corrected_item_is_held(
        self, client, outbox_dir, staff
    ):
        rid = _granted(
            client,
            outbox_dir,
            staff,
            type="correction",
            scope={
                "categories": ["newsletter", "account"],
                "corrections": [{"item": "phone", "requested": "010-9876-5432"}],
            },
        )
        # The newsletter holds no phone number: nothing to correct there.
        assert [(t["category"], t["system"]) for t in _tasks(client, staff, rid, "fulfil")] == [
            ("account", "azure")
        ]

    def test_refusal_creates_no_tasks(self, client, outbox_dir, staff):
        rid = _granted(
            client,
            outbox_dir,
            staff,
            decision={
                "outcome": "refused",
                "grounds": ["PIPA-35-4-1"],
                "explanation": "법령상 제한",
            },
        )
        assert _tasks(client, staff, rid, "collect") == []


class TestCompletion:
    def test_collect_task_returns_data_kept_encrypted(
        self, client, outbox_dir, staff, database_url
    ):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["newsletter"]})
        task = _tasks(client, staff, rid, "collect")[0]
        h = staff["handler"]["headers"]
        response = _complete(
            client,
            h,
            task["id"],
            {
                "outcome": "done",
                "note": "스티비 구독자 목록 조회",
                "data": {"email": "hong.gildong@example.com", "name": "홍길동"},
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "done" and body["outcome"] == "done" and body["has_data"]
        (data_enc,) = _raw(database_url, "SELECT data_enc FROM task WHERE id = :i", i=task["id"])[0]
        assert data_enc and "hong.gildong" not in data_enc and "홍길동" not in data_enc
        # The access record says what happened, never the data.
        entries = client.get(
            "/v1/staff/audit", headers=staff["auditor"]["headers"], params={"request_id": rid}
        ).json()["items"]
        assert any(e["detail"].get("outcome") == "done" for e in entries)
        assert "hong.gildong" not in str(entries)

    def test_a_list_of_records_and_not_found(self, client, outbox_dir, staff):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["payment"]})
        h = staff["handler"]["headers"]
        first, second, third = _tasks(client, staff, rid, "collect")
        records = [
            {"cardholder_name": "홍길동", "amount": 9900},
            {"cardholder_name": "홍길동", "amount": 19900},
        ]
        assert (
            _complete(client, h, first["id"], {"outcome": "done", "data": records}).status_code
            == 200
        )
        nothing = _complete(
            client, h, second["id"], {"outcome": "not_found", "note": "결제 내역 없음"}
        )
        assert nothing.status_code == 200 and nothing.json()["outcome"] == "not_found"
        assert nothing.json()["status"] == "done" and not nothing.json()["has_data"]
        # No body at all is `done`, which a collect task cannot be without its data.
        assert _complete(client, h, third["id"]).status_code == 422

    @pytest.mark.parametrize(
        "body, field",
        [
            ({"outcome": "done"}, "data"),
            ({"outcome": "finished", "data": {"a": "b"}}, "outcome"),
            ({"outcome": "not_found", "data": {"email": "x@example.com"}}, "data"),
            ({"outcome": "failed", "data": {"email": "x@example.com"}}, "data"),
            ({"outcome": "done", "data": {}}, "data"),
            ({"outcome": "done", "data": []}, "data"),
            ({"outcome": "done", "data": {"email": {"nested": "no"}}}, "data"),
            ({"outcome": "done", "data": {"email": ["a", "b"]}}, "data"),
            ({"outcome": "done", "data": "홍길동"}, "data"),
            ({"outcome": "done", "data": {"": "빈 항목"}}, "data"),
            ({"outcome": "done", "data": {"x" * 101: "too long a name"}}, "data"),
            ({"outcome": "done", "data": {"email": "a\u0000b"}}, None),
            ({"outcome": "done", "data": {"email": "x" * 10001}}, "data"),
            ({"outcome": "done", "data": {"email": "a"}, "extra": 1}, "extra"),
            ({"outcome": "done", "note": "x" * 2001, "data": {"email": "a"}}, "note"),
        ],
    )
    def test_bad_bodies_change_nothing(self, client, outbox_dir, staff, body, field, database_url):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["newsletter"]})
        task = _tasks(client, staff, rid, "collect")[0]
        response = _complete(client, staff["handler"]["headers"], task["id"], body)
        assert 400 <= response.status_code < 500 and response.status_code != 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        if field:
            assert response.status_code == 422
            assert any(e["field"].startswith(field) for e in response.json()["errors"])
        row = _raw(
            database_url, "SELECT status, outcome, data_enc FROM task WHERE id = :i", i=task["id"]
        )[0]
        assert tuple(row) == ("open", None, None)

    def test_malformed_json_is_a_problem(self, client, outbox_dir, staff):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["newsletter"]})
        task = _tasks(client, staff, rid, "collect")[0]
        response = client.post(
            f"/v1/staff/tasks/{task['id']}/complete",
            headers={**staff["handler"]["headers"], "Content-Type": "application/json"},
            content=b'{"outcome": "done", "data": {',
        )
        assert response.status_code == 422
        assert _tasks(client, staff, rid, "collect")[0]["status"] == "open"

    def test_fulfil_task_takes_no_data(self, client, outbox_dir, staff):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        task = _tasks(client, staff, rid, "fulfil")[0]
        h = staff["handler"]["headers"]
        bad = _complete(client, h, task["id"], {"outcome": "done", "data": {"email": "a"}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["code"] == "not_allowed"
        ok = _complete(client, h, task["id"], {"outcome": "not_found", "note": "구독 기록 없음"})
        assert ok.status_code == 200 and ok.json()["outcome"] == "not_found"


class TestFailedAndWaived:
    def test_failed_task_blocks_completion_until_redone(self, client, outbox_dir, staff):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        h = staff["handler"]["headers"]
        task = _tasks(client, staff, rid, "fulfil")[0]
        failed = _complete(client, h, task["id"], {"outcome": "failed", "note": "스티비 API 오류"})
        assert failed.status_code == 200
        assert failed.json()["status"] == "failed" and failed.json()["outcome"] == "failed"
        # Still visible in the queue, as failed.
        queue = client.get("/v1/staff/tasks", headers=h, params={"status": "failed"}).json()
        assert [t["id"] for t in queue["items"]] == [task["id"]]
        problem = act(client, h, rid, "complete", expect=409)
        assert problem["failed_tasks"] == [task["id"]] and problem["open_tasks"] == []
        # Redone: completed again, and it no longer blocks.
        redone = _complete(client, h, task["id"], {"outcome": "done", "note": "재시도 성공"})
        assert redone.status_code == 200 and redone.json()["status"] == "done"
        assert _complete(client, h, task["id"], {"outcome": "done"}).status_code == 409
        assert act(client, h, rid, "complete")["status"] == "completed"

    def test_cpo_waives_a_failed_task_with_a_reason(self, client, outbox_dir, staff, database_url):
        rid = _granted(
            client, outbox_dir, staff, type="deletion", scope={"categories": ["newsletter"]}
        )
        h, cpo = staff["handler"]["headers"], staff["cpo"]["headers"]
        task = _tasks(client, staff, rid, "fulfil")[0]
        url = f"/v1/staff/tasks/{task['id']}/waive"
        reason = {"reason": "수탁자 계약 종료로 해당 시스템이 폐기되어 보유 정보가 없음을 확인함"}
        # An open task is not waived: it is done, or voided by a new decision.
        assert client.post(url, headers=cpo, json=reason).status_code == 409
        _complete(client, h, task["id"], {"outcome": "failed"})
        assert client.post(url, json=reason).status_code == 401
        assert client.post(url, headers=h, json=reason).status_code == 403
        assert client.post(url, headers=staff["auditor"]["headers"], json=reason).status_code == 403
        assert (
            client.post("/v1/staff/tasks/tsk_nope/waive", headers=cpo, json=reason).status_code
            == 404
        )
        for bad in ({}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": "a", "x": 1}):
            response = client.post(url, headers=cpo, json=bad)
            assert response.status_code == 422, bad
        assert _tasks(client, staff, rid, "fulfil")[0]["status"] == "failed"
        waived = client.post(url, headers=cpo, json=reason)
        assert waived.status_code == 200 and waived.json()["status"] == "waived"
        assert client.post(url, headers=cpo, json=reason).status_code == 409
        (enc,) = _raw(
            database_url, "SELECT waived_reason_enc FROM task WHERE id = :i", i=task["id"]
        )[0]
        assert enc and "수탁자" not in enc
        timeline = staff_read(client, cpo, rid)["timeline"]
        assert "task.waived" in [e["kind"] for e in timeline]
        assert act(client, h, rid, "complete")["status"] == "completed"

    def test_subject_token_cannot_complete_or_waive(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir, scope={"categories": ["newsletter"]})
        rid = created["id"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(client, staff["handler"]["headers"], rid, "decision", GRANT)
        task = _tasks(client, staff, rid, "collect")[0]
        assert _complete(client, subject, task["id"], {"outcome": "not_found"}).status_code == 403
        assert (
            client.post(
                f"/v1/staff/tasks/{task['id']}/waive", headers=subject, json={"reason": "x"}
            ).status_code
            == 403
        )


class TestQueueAndVoiding:
    def test_queue_filters_collect_and_failed(self, client, outbox_dir, staff):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["newsletter"]})
        h = staff["handler"]["headers"]
        collect = client.get("/v1/staff/tasks", headers=h, params={"kind": "collect"}).json()
        assert [t["request_id"] for t in collect["items"]] == [rid]
        assert client.get("/v1/staff/tasks", headers=h, params={"kind": "nope"}).status_code == 422
        assert (
            client.get("/v1/staff/tasks", headers=h, params={"status": "waived"}).json()["items"]
            == []
        )

    def test_refusal_after_objection_voids_collect_tasks_open_and_failed(
        self, client, outbox_dir, staff
    ):
        created, subject = verified(
            client, outbox_dir, scope={"categories": ["payment", "newsletter"]}
        )
        rid = created["id"]
        h = staff["handler"]["headers"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(
            client,
            h,
            rid,
            "decision",
            {
                "outcome": "partially_granted",
                "grounds": ["PIPA-35-4-1"],
                "explanation": "일부 제한",
                "items": [
                    {"category": "payment", "result": "granted"},
                    {"category": "newsletter", "result": "refused", "grounds": ["PIPA-35-4-1"]},
                ],
            },
        )
        payment = _tasks(client, staff, rid, "collect")
        assert len(payment) == 3
        _complete(client, h, payment[0]["id"], {"outcome": "failed"})
        objected = client.post(
            f"/v1/requests/{rid}/objections",
            headers=subject,
            json={"reason": "뉴스레터도 보여 주세요"},
        )
        assert objected.status_code == 201, objected.text
        # The review grants everything: the newsletter is collected too, payment not twice.
        act(client, h, rid, "decision", GRANT)
        collect = _tasks(client, staff, rid, "collect")
        # The failed payment collection stays failed (redo or waive it), none is doubled.
        assert sorted((t["category"], t["status"]) for t in collect) == [
            ("newsletter", "open"),
            ("payment", "failed"),
            ("payment", "open"),
            ("payment", "open"),
        ]

    def test_narrower_redecision_voids_open_and_failed_collect_tasks(
        self, client, outbox_dir, staff
    ):
        created, subject = verified(
            client, outbox_dir, scope={"categories": ["payment", "newsletter"]}
        )
        rid = created["id"]
        h = staff["handler"]["headers"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(
            client,
            h,
            rid,
            "decision",
            {
                "outcome": "partially_granted",
                "grounds": ["PIPA-35-4-1"],
                "explanation": "일부 제한",
                "items": [
                    {"category": "payment", "result": "granted"},
                    {"category": "newsletter", "result": "refused", "grounds": ["PIPA-35-4-1"]},
                ],
            },
        )
        payment = _tasks(client, staff, rid, "collect")
        _complete(client, h, payment[0]["id"], {"outcome": "failed"})
        objected = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "다시 봐 주세요"}
        )
        assert objected.status_code == 201, objected.text
        act(
            client,
            h,
            rid,
            "decision",
            {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "재검토 결과 제한"},
        )
        assert {t["status"] for t in _tasks(client, staff, rid, "collect")} == {"cancelled"}
        timeline = staff_read(client, staff["cpo"]["headers"], rid)["timeline"]
        assert "tasks.voided" in [e["kind"] for e in timeline]

    def test_finish_then_complete_access(self, client, outbox_dir, staff):
        rid = _granted(client, outbox_dir, staff, scope={"categories": ["newsletter"]})
        finish_tasks(client, staff["handler"]["headers"], rid)
        view = act(client, staff["handler"]["headers"], rid, "complete")
        assert view["status"] == "completed"


def test_withdrawal_cancels_open_and_failed_work_and_erases_what_was_collected(
    client, outbox_dir, staff, database_url
):
    created, subject = verified(client, outbox_dir, scope={"categories": ["payment"]})
    rid = created["id"]
    h = staff["handler"]["headers"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    act(client, h, rid, "decision", GRANT)
    first, second, _third = _tasks(client, staff, rid, "collect")
    _complete(client, h, first["id"], {"outcome": "done", "data": {"cardholder_name": "홍길동"}})
    _complete(client, h, second["id"], {"outcome": "failed"})
    withdrawn = client.post(f"/v1/requests/{rid}/withdraw", headers=subject)
    assert withdrawn.status_code == 200, withdrawn.text
    statuses = sorted(t["status"] for t in _tasks(client, staff, rid, "collect"))
    assert statuses == ["cancelled", "cancelled", "done"]
    kept = _raw(
        database_url,
        "SELECT count(*) FROM task WHERE request_id = :r AND data_enc IS NOT NULL",
        r=rid,
    )[0][0]
    assert kept == 0

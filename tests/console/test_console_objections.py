"""The console's objection forms over HTTP: an objection to a refusal reopens the request and
the page offers the re-decision (the API's `decision` action) with the objection beside it;
bad input is told beside the field and changes nothing; a handler not assigned and the auditor
are refused. And the stale page for every form that carries the request's version, and for a
task that someone else recorded first."""

from __future__ import annotations

import re

import pytest

from tests.console.support import DELEGATE, POA, log_in, version_on
from tests.support import (
    act,
    file_request,
    finish_tasks,
    in_progress,
    latest_code,
    request_body,
    sql_rows,
)

REFUSE = {"outcome": "refused", "grounds": ["PIPA-35-4-1"], "explanation": "법률에 따른 제한"}
REASON = "법률의 어느 조항에 해당하는지 다시 확인해 주십시오."


def _objected(client, outbox_dir, staff) -> tuple[str, str]:
    """A request the handler refused and the person objected to: (id, reference)."""
    filed = in_progress(client, outbox_dir, staff)
    act(client, staff["handler"]["headers"], filed.id, "decision", REFUSE)
    objected = client.post(
        f"/v1/requests/{filed.id}/objections", headers=filed.subject, json={"reason": REASON}
    )
    assert objected.status_code == 201, objected.text
    return filed.id, filed.created["reference"]


def _state(database_url) -> tuple:
    """What a refused form must leave as it was: the request, its decisions, its objection."""
    return (
        sql_rows(database_url, "SELECT status, version FROM request"),
        sql_rows(database_url, "SELECT id, outcome FROM decision ORDER BY decided_at"),
        sql_rows(database_url, "SELECT resolved_at FROM objection"),
    )


class TestReDecision:
    def test_the_page_shows_the_objection_and_offers_the_re_decision(
        self, client, staff, outbox_dir
    ):
        _rid, reference = _objected(client, outbox_dir, staff)
        log_in(client, "handler@example.com")
        page = client.get(f"/console/requests/{reference}").text
        assert "처리 결과(결정)에 대한 이의제기" in page and "답변 대기 중" in page
        assert REASON in page
        assert "이의제기에 따른 재결정" in page and "재결정 결과 통지" in page
        assert f'action="/console/requests/{reference}/decision"' in page
        assert "제35조제4항제1호" in page  # the earlier decision's ground, by its article

    def test_bad_input_is_told_beside_the_field_and_changes_nothing(
        self, client, staff, outbox_dir, database_url
    ):
        _rid, reference = _objected(client, outbox_dir, staff)
        token = log_in(client, "handler@example.com")
        path = f"/console/requests/{reference}"
        version = version_on(client.get(path).text)
        before = _state(database_url)
        for fields, field in (
            ({"outcome": "refused", "explanation": "다시 검토한 결과 거절합니다."}, "grounds"),
            ({"outcome": "granted", "explanation": ""}, "explanation"),
            ({"outcome": "granted", "explanation": "x" * 4001}, "explanation"),
            ({"outcome": "nonsense", "explanation": "열람하실 수 있습니다."}, "outcome"),
            (
                {
                    "outcome": "refused",
                    "grounds": "PIPA-36-1-1",  # a deletion's ground, not an access's
                    "explanation": "거절합니다.",
                },
                "grounds",
            ),
        ):
            response = client.post(
                path + "/decision", data={"csrf_token": token, "version": version, **fields}
            )
            assert response.status_code == 422, (fields, response.text)
            assert f'id="decision-{field}-error"' in response.text, fields
            assert "이의제기에 따른 재결정" in response.text  # the same page, the form kept
        assert _state(database_url) == before

    def test_deciding_again_answers_the_objection(self, client, staff, outbox_dir, database_url):
        rid, reference = _objected(client, outbox_dir, staff)
        token = log_in(client, "handler@example.com")
        path = f"/console/requests/{reference}"
        response = client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version_on(client.get(path).text),
                "outcome": "granted",
                "explanation": "다시 검토한 결과 열람하실 수 있도록 합니다.",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == path + "?done=decision"
        assert [o for _i, o in _state(database_url)[1]] == ["refused", "granted"]
        assert sql_rows(database_url, "SELECT resolved_at IS NOT NULL FROM objection") == [(True,)]
        review = sql_rows(database_url, "SELECT status FROM task WHERE kind = 'review_objection'")
        assert review == [("done",)]  # closed by the decision
        page = client.get(path).text
        assert "답변:" in page and "답변 대기 중" not in page
        assert "이의제기에 따른 재결정" not in page
        api = client.get(f"/v1/staff/requests/{rid}", headers=staff["cpo"]["headers"]).json()
        assert api["status"] == "fulfilling" and api["objections"][0]["resolved_at"]

    @pytest.mark.parametrize("who", ["handler2@example.com", "auditor@example.com"])
    def test_another_handler_and_the_auditor_are_refused(
        self, client, staff, outbox_dir, database_url, who
    ):
        _rid, reference = _objected(client, outbox_dir, staff)  # the handler's request
        path = f"/console/requests/{reference}"
        log_in(client, "cpo@example.com")
        version = version_on(client.get(path).text)
        token = log_in(client, who)
        before = _state(database_url)
        page = client.get(path)
        if who.startswith("auditor"):
            assert page.status_code == 200 and "답변 대기 중" in page.text
            assert "/decision" not in page.text  # the auditor reads; no form
        else:
            assert page.status_code == 403  # another handler's request
        forged = client.post(
            path + "/decision",
            data={
                "csrf_token": token,
                "version": version,
                "outcome": "granted",
                "explanation": "열람하실 수 있습니다.",
            },
        )
        assert forged.status_code == 403
        assert "허용되지 않음" in forged.text
        assert _state(database_url) == before


# Every form that carries the request's version (the fields besides it and the token).
VERSIONED_FORMS = [
    ("assign", {"assignee": "me"}),
    ("verify", {"outcome": "verified", "method": "call"}),
    ("extend/confirm", {"reason": "자료 확인", "due_date": "2026-12-31"}),
    ("extend", {"reason": "자료 확인", "due_date": "2026-12-31"}),
    ("decision", {"outcome": "granted", "explanation": "열람하실 수 있습니다."}),
    ("complete", {}),
    ("holds", {"category": "account", "kind": "debt", "note": "미납 요금"}),
    ("holds/hld_x/release", {}),
]


class TestStale:
    @pytest.mark.parametrize(
        ("action", "fields"), VERSIONED_FORMS, ids=[f[0] for f in VERSIONED_FORMS]
    )
    def test_each_form_says_who_changed_it_and_offers_a_reload(
        self, client, staff, database_url, action, fields
    ):
        filed = file_request(client)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{filed['reference']}"
        version = version_on(client.get(path).text)
        act(client, staff["handler"]["headers"], filed["id"], "assign", {"assignee": "me"})
        before = sql_rows(database_url, "SELECT status, version, assignee_id FROM request")
        late = client.post(
            f"{path}/{action}", data={"csrf_token": token, "version": version, **fields}
        )
        assert late.status_code == 412, late.text
        assert "요구가 변경되었습니다" in late.text
        assert "handler@example.com" in late.text  # who changed it
        assert f'href="{path}"' in late.text  # the reload
        assert sql_rows(database_url, "SELECT status, version, assignee_id FROM request") == before
        assert not sql_rows(database_url, "SELECT id FROM extension")

    def test_the_person_who_changed_it_is_named_in_words(self, client, staff, outbox_dir):
        filed = in_progress(client, outbox_dir, staff)
        act(client, staff["handler"]["headers"], filed.id, "decision", REFUSE)
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{filed.created['reference']}"
        version = version_on(client.get(path).text)  # refused: the CPO may reassign it
        objected = client.post(
            f"/v1/requests/{filed.id}/objections", headers=filed.subject, json={"reason": REASON}
        )
        assert objected.status_code == 201, objected.text
        late = client.post(
            path + "/assign", data={"csrf_token": token, "version": version, "assignee": "me"}
        )
        assert late.status_code == 412
        assert re.search(r"마지막 변경: .+ 정보주체", late.text), late.text

    def test_a_task_someone_else_recorded_first(self, client, staff, outbox_dir, database_url):
        filed = in_progress(client, outbox_dir, staff)
        act(
            client,
            staff["handler"]["headers"],
            filed.id,
            "decision",
            {
                "outcome": "granted",
                "explanation": "열람하실 수 있습니다.",
            },
        )
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{filed.created['reference']}"
        task_id = re.findall(r"/tasks/(tsk_[^/]+)/complete", client.get(path).text)[0]
        finish_tasks(client, staff["handler"]["headers"], filed.id)  # the handler was quicker
        late = client.post(
            f"{path}/tasks/{task_id}/complete",
            data={"csrf_token": token, "outcome": "done", "data": "email: x@example.com"},
        )
        assert late.status_code == 412, late.text
        assert "handler@example.com" in late.text and f'href="{path}"' in late.text
        assert sql_rows(database_url, "SELECT completed_by FROM task WHERE id = :t", t=task_id) == [
            (f"staff:{staff['handler']['id']}",)
        ]


class TestOtherObjections:
    def test_an_objection_to_a_rejection_is_answered_by_verifying_again(
        self, client, staff, outbox_dir, database_url
    ):
        filed = client.post(
            "/v1/requests",
            json=request_body(requester=DELEGATE, power_of_attorney=POA),
        )
        assert filed.status_code == 201, filed.text
        rid, reference = filed.json()["id"], filed.json()["reference"]
        code = latest_code(outbox_dir, rid)
        token = client.post(f"/v1/requests/{rid}/verification", json={"code": code}).json()
        subject = {"Authorization": f"Bearer {token['access_token']}"}
        act(
            client, staff["cpo"]["headers"], rid, "verify", {"outcome": "rejected", "method": "poa"}
        )
        objected = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "위임장을 다시 보냄"}
        )
        assert objected.status_code == 201, objected.text
        token = log_in(client, "cpo@example.com")
        path = f"/console/requests/{reference}"
        page = client.get(path).text
        assert "요구 반려(본인 또는 대리 권한 미확인)에 대한 이의제기" in page
        assert "요구 반려에 대해 이의를 제기했습니다" in page  # beside the verify form
        assert "이의제기에 따른 재결정" not in page
        verified = client.post(
            path + "/verify",
            data={
                "csrf_token": token,
                "version": version_on(page),
                "outcome": "verified",
                "method": "위임장 원본 확인",
            },
            follow_redirects=False,
        )
        assert verified.status_code == 303, verified.text
        assert sql_rows(database_url, "SELECT resolved_at IS NOT NULL FROM objection") == [(True,)]
        assert "답변 대기 중" not in client.get(path).text

    def test_an_objection_to_an_extension_says_what_answers_it(self, client, staff, outbox_dir):
        filed = in_progress(client, outbox_dir, staff)
        extend = {
            "reason": "자료 확인에 시간이 더 필요합니다",
            "due_at": "2026-12-24T12:00:00+09:00",
        }
        act(client, staff["handler"]["headers"], filed.id, "extend", extend)
        objected = client.post(
            f"/v1/requests/{filed.id}/objections", headers=filed.subject, json={"reason": REASON}
        )
        assert objected.status_code == 201, objected.text
        log_in(client, "handler@example.com")
        page = client.get(f"/console/requests/{filed.created['reference']}").text
        assert "처리 기한 연장에 대한 이의제기" in page and "답변 대기 중" in page
        assert "결정하거나 요구 처리를 완료하면" in page
        assert "이의제기에 따른 재결정" not in page and ">결정 통지<" in page

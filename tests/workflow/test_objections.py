"""Objections (이의제기, PIPA Art. 38(5)) against a rejection and against an extension
(issue 8, point 7); refusals and partial grants are in test_actions.py::TestObjection."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.law.deadlines import SEOUL, days_left, statutory_due_at
from app.workflow.service import reject_unverified
from tests.support import (
    act,
    count_rows,
    file_request,
    latest_code,
    read_outbox,
    relogin,
    verified,
)

# Deadlines, windows and expiries count Seoul days: at every hour where UTC's date differs.
pytestmark = pytest.mark.seoul_hours

EMAIL = "hong.gildong@example.com"
EXTEND = {
    "reason": "결제대행사 자료 확인에 시간이 필요합니다",
    "due_at": "2026-12-24T12:00:00+09:00",
}


def _sign_in(client, outbox_dir, reference: str, request_id: str) -> dict:
    """Come back with the reference and e-mail (works in every status) for a token."""
    response = client.post("/v1/requests/sign-in", json={"reference": reference, "email": EMAIL})
    assert response.status_code == 202
    code = latest_code(outbox_dir, request_id)
    response = client.post(f"/v1/requests/{reference}/verification", json={"code": code})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _tasks(client, headers, request_id: str, kind: str, status: str = "all") -> list[dict]:
    response = client.get(
        f"/v1/staff/tasks?kind={kind}&status={status}&request_id={request_id}", headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _queue_version(client, headers, request_id: str) -> int:
    response = client.get(
        "/v1/staff/requests?status=pending_verification&limit=200", headers=headers
    )
    assert response.status_code == 200, response.text
    [item] = [i for i in response.json()["items"] if i["id"] == request_id]
    return item["version"]


def _rejected(client, outbox_dir, staff, clock) -> tuple[dict, dict]:
    created = file_request(client)
    act(
        client,
        staff["cpo"]["headers"],
        created["id"],
        "verify",
        {"outcome": "rejected", "method": "email_code"},
    )
    clock.advance(minutes=2)  # past the code cooldown
    return created, _sign_in(client, outbox_dir, created["reference"], created["id"])


class TestAgainstARejection:
    def test_returns_to_verification_with_a_review_task(self, client, outbox_dir, staff, clock):
        created, subject = _rejected(client, outbox_dir, staff, clock)
        rid, ref = created["id"], created["reference"]
        view = client.get(f"/v1/requests/{ref}", headers=subject).json()
        assert view["status"] == "rejected" and view["days_left"] is None
        assert view["objection"]["allowed"] is True
        assert view["objection"]["against"] == "rejection"
        assert view["objection"]["deadline"].startswith("2026-12-31T")
        assert view["actions"] == ["object"]

        response = client.post(
            f"/v1/requests/{ref}/objections",
            headers=subject,
            json={"reason": "제가 직접 신청했습니다. 인증번호 메일을 늦게 보았습니다."},
        )

        assert response.status_code == 201, response.text
        after = response.json()
        assert after["status"] == "pending_verification"
        # A new period for the review, from now (10 days, to the next working day).
        assert after["days_left"] == days_left(statutory_due_at(clock.now()), clock.now()) >= 10
        assert after["objection"]["allowed"] is False
        assert "upload_document" in after["actions"] and "withdraw" in after["actions"]
        [review] = _tasks(client, staff["cpo"]["headers"], rid, "review_objection")
        assert review["status"] == "open"
        notice = [m for m in read_outbox(outbox_dir) if m["template"] == "objection_received"]
        assert len(notice) == 1
        assert "본인 확인 단계로 돌아갔습니다" in notice[0]["text"]
        assert "back at the identity check" in notice[0]["text"]
        assert f"/requests/{ref}" in notice[0]["text"]
        # The clock does not reject it again while a person reviews it.
        ctx = client.app.state.ctx
        clock.advance(days=ctx.settings.unverified_expiry_days + 1)
        assert reject_unverified(ctx.db, ctx) == 0
        # A person confirms the identity: the request opens and the review is done.
        relogin(client, staff)
        headers = staff["cpo"]["headers"]
        version = _queue_version(client, headers, rid)
        act(
            client,
            headers,
            rid,
            "verify",
            {"outcome": "verified", "method": "phone_callback"},
            version=version,
            expect=200,
        )
        [review] = _tasks(client, headers, rid, "review_objection")
        assert review["status"] == "done"

    def test_the_window_counts_seoul_days(self, client, outbox_dir, staff, clock):
        """30 days from the Seoul date of the rejection, to its last second: at 00:30 or 08:59
        in Seoul the UTC date is still 30 November, which must not shorten the window."""
        rejected_on = clock.now().astimezone(SEOUL).date()
        assert rejected_on == date(2026, 12, 1)  # at every hour of the module's clock
        created, subject = _rejected(client, outbox_dir, staff, clock)
        view = client.get(f"/v1/requests/{created['id']}", headers=subject).json()
        deadline = datetime.fromisoformat(view["objection"]["deadline"])
        assert deadline == datetime(2026, 12, 31, 23, 59, 59, tzinfo=SEOUL)

    def test_a_right_code_answers_the_objection_too(self, client, outbox_dir, staff, clock):
        created, subject = _rejected(client, outbox_dir, staff, clock)
        rid, ref = created["id"], created["reference"]
        assert (
            client.post(f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "본인"})
        ).status_code == 201
        clock.advance(minutes=2)
        _sign_in(client, outbox_dir, ref, rid)  # the code entry opens the request
        [review] = _tasks(client, staff["cpo"]["headers"], rid, "review_objection")
        assert review["status"] == "done"

    def test_too_late(self, client, outbox_dir, staff, clock, database_url):
        created, _ = _rejected(client, outbox_dir, staff, clock)
        clock.advance(days=31)
        subject = _sign_in(client, outbox_dir, created["reference"], created["id"])
        view = client.get(f"/v1/requests/{created['id']}", headers=subject).json()
        assert view["objection"]["allowed"] is False and view["actions"] == []
        response = client.post(
            f"/v1/requests/{created['id']}/objections", headers=subject, json={"reason": "늦게"}
        )
        assert response.status_code == 409
        assert response.json()["objection_until"].startswith("2026-12-31T")
        assert count_rows(database_url, "objection") == 0


class TestAgainstAnExtension:
    def _extended(self, client, outbox_dir, staff):
        created, subject = verified(client, outbox_dir)
        act(
            client,
            staff["cpo"]["headers"],
            created["id"],
            "assign",
            {"assignee": "handler@example.com"},
        )
        act(client, staff["handler"]["headers"], created["id"], "extend", EXTEND)
        return created, subject

    def test_a_review_task_and_the_status_stays(self, client, outbox_dir, staff):
        created, subject = self._extended(client, outbox_dir, staff)
        rid = created["id"]
        extended = [m for m in read_outbox(outbox_dir) if m["template"] == "extended"]
        assert f"/requests/{created['reference']}" in extended[0]["text"]  # the route it names

        response = client.post(
            f"/v1/requests/{rid}/objections",
            headers=subject,
            json={"reason": "연기 사유가 납득되지 않습니다."},
        )

        assert response.status_code == 201, response.text
        view = response.json()
        assert view["status"] == "in_progress"
        assert view["due_at"] == view["extension"]["due_at"]  # the extension stands meanwhile
        assert view["objection"]["allowed"] is False  # once per extension
        assert "object" not in view["actions"]
        assert any(e["kind"] == "objection.filed" for e in view["timeline"])
        [review] = _tasks(client, staff["cpo"]["headers"], rid, "review_objection")
        assert review["status"] == "open"
        notice = [m for m in read_outbox(outbox_dir) if m["template"] == "objection_received"]
        assert "처리 기한 연기" in notice[0]["text"] and "postponement" in notice[0]["text"]
        again = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "다시"}
        )
        assert again.status_code == 409
        # A later extension may be objected to in turn.
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "extend",
            {"reason": "추가 확인", "due_at": "2026-12-30T12:00:00+09:00"},
        )
        response = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "또 연기"}
        )
        assert response.status_code == 201
        # The decision answers both reviews.
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "decision",
            {"outcome": "granted", "explanation": "열람을 제공합니다."},
        )
        reviews = _tasks(client, staff["cpo"]["headers"], rid, "review_objection")
        assert [t["status"] for t in reviews] == ["done", "done"]

    def test_window_counts_from_the_extension(self, client, outbox_dir, staff, clock):
        created, _ = self._extended(client, outbox_dir, staff)
        clock.advance(days=31)
        relogin(client, staff)
        subject = _sign_in(client, outbox_dir, created["reference"], created["id"])
        view = client.get(f"/v1/requests/{created['id']}", headers=subject).json()
        assert view["objection"] == {
            "allowed": False,
            "deadline": view["objection"]["deadline"],
            "against": "extension",
        }
        assert view["objection"]["deadline"].startswith("2026-12-31T")
        response = client.post(
            f"/v1/requests/{created['id']}/objections", headers=subject, json={"reason": "x"}
        )
        assert response.status_code == 409

    def test_bad_input_changes_nothing(self, client, outbox_dir, staff, database_url):
        created, subject = self._extended(client, outbox_dir, staff)
        rid = created["id"]
        for body in (
            {},
            {"reason": ""},
            {"reason": "x" * 5000},
            {"reason": "널\u0000바이트"},
            {"reason": 42},
            {"reason": "x", "kind": "decision"},
        ):
            response = client.post(f"/v1/requests/{rid}/objections", headers=subject, json=body)
            assert response.status_code == 422, body
            assert response.json()["errors"]
        malformed = client.post(
            f"/v1/requests/{rid}/objections",
            headers={**subject, "content-type": "application/json"},
            content=b'{"reason": ',
        )
        assert malformed.status_code == 422, malformed.text
        assert count_rows(database_url, "objection") == 0
        # SQL-looking and Korean text is just text.
        response = client.post(
            f"/v1/requests/{rid}/objections",
            headers=subject,
            json={"reason": "'; DROP TABLE objection; -- 연기 반대"},
        )
        assert response.status_code == 201
        assert count_rows(database_url, "objection") == 1

    def test_anonymous_401_and_someone_elses_404(self, client, outbox_dir, staff, database_url):
        created, _ = self._extended(client, outbox_dir, staff)
        _other, other = verified(
            client, outbox_dir, subject={"name": "남", "email": "o@example.com"}
        )
        for key in (created["id"], created["reference"]):
            url = f"/v1/requests/{key}/objections"
            assert client.post(url, json={"reason": "x"}).status_code == 401
            assert client.post(url, headers=other, json={"reason": "x"}).status_code == 404
        assert count_rows(database_url, "objection") == 0

    def test_a_decision_since_the_extension_answers_it(self, client, outbox_dir, staff):
        created, subject = self._extended(client, outbox_dir, staff)
        rid = created["id"]
        act(
            client,
            staff["handler"]["headers"],
            rid,
            "decision",
            {"outcome": "granted", "explanation": "열람을 제공합니다."},
        )
        view = client.get(f"/v1/requests/{rid}", headers=subject).json()
        assert view["status"] == "fulfilling"
        assert view["objection"] == {"allowed": False, "deadline": None, "against": None}
        response = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "연기 반대"}
        )
        assert response.status_code == 409
        assert response.json()["type"] == "/problems/illegal-transition"


def test_completion_answers_an_objection_to_an_extension(client, outbox_dir, staff, clock):
    """Filed while the decision is carried out, the review leaves the queue at completion."""
    created, subject = verified(
        client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]}
    )
    rid, cpo = created["id"], staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    view = act(client, cpo, rid, "decision", {"outcome": "granted", "explanation": "삭제합니다."})
    assert view["status"] == "fulfilling"
    clock.advance(minutes=1)
    act(client, cpo, rid, "extend", EXTEND)
    objected = client.post(
        f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "빨리 처리해 주세요."}
    )
    assert objected.status_code == 201, objected.text
    assert [t["status"] for t in _tasks(client, cpo, rid, "review_objection")] == ["open"]
    [fulfil] = _tasks(client, cpo, rid, "fulfil", "open")
    done = client.post(f"/v1/staff/tasks/{fulfil['id']}/complete", headers=cpo, json={})
    assert done.status_code == 200, done.text
    assert act(client, cpo, rid, "complete")["status"] == "completed"
    assert [t["status"] for t in _tasks(client, cpo, rid, "review_objection")] == ["done"]
    act(client, cpo, rid, "complete", expect=409)  # completed once; nothing reopened

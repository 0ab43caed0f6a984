"""The public view (issue 8, point 5): decision with grounds and per-category results,
extension, `objection {allowed, deadline}`, `actions`, and days_left null once closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from tests.support import act, fresh_subject_token, in_progress, relogin, verified

# Deadlines, windows and expiries count Seoul days: at every hour where UTC's date differs.
pytestmark = pytest.mark.seoul_hours

REFUSE_ACCESS = {
    "outcome": "refused",
    "grounds": ["PIPA-35-4-1"],
    "explanation": "관련 법률에 따라 열람이 제한됩니다.",
}
PARTIAL_ACCESS = {
    "outcome": "partially_granted",
    "grounds": ["PIPA-35-4-1"],
    "explanation": "결제 정보는 열람이 제한됩니다.",
    "items": [
        {"category": "account", "result": "granted"},
        {"category": "payment", "result": "refused", "grounds": ["PIPA-35-4-1"]},
    ],
}
EXTEND = {
    "reason": "결제대행사 자료 확인에 시간이 필요합니다",
    "due_at": "2026-12-24T12:00:00+09:00",
}


def _sql(database_url: str, sql: str, **params) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def _view(client, key, headers) -> dict:
    response = client.get(f"/v1/requests/{key}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestPublicView:
    def test_a_fresh_request(self, client, outbox_dir):
        created, subject = verified(client, outbox_dir)
        view = _view(client, created["id"], subject)
        assert view["status"] == "open" and view["days_left"] == 10
        assert view["decision"] is None and view["extension"] is None
        assert view["objection"] == {"allowed": False, "deadline": None, "against": None}
        assert view["actions"] == ["withdraw", "upload_document"]

    def test_extension_shows_date_reason_and_may_be_objected_to(
        self, client, outbox_dir, staff, clock
    ):
        created, subject = in_progress(client, outbox_dir, staff)
        clock.advance(days=2)
        relogin(client, staff)
        subject = fresh_subject_token(client, outbox_dir, created["id"])
        act(client, staff["handler"]["headers"], created["id"], "extend", EXTEND)
        view = _view(client, created["reference"], subject)
        assert view["extension"]["reason"] == EXTEND["reason"]
        assert view["extension"]["due_date"] == "2026-12-24"
        assert view["extension"]["due_at"] == view["due_at"]
        assert view["objection"]["allowed"] is True
        assert view["objection"]["against"] == "extension"
        # 30 days from the extension (3 Dec), to the end of that day in Korea time.
        assert view["objection"]["deadline"].startswith("2027-01-02T")
        assert view["actions"] == ["withdraw", "upload_document", "object"]

    def test_refusal_shows_grounds_and_closes_the_count(self, client, outbox_dir, staff):
        created, subject = in_progress(client, outbox_dir, staff)
        act(client, staff["handler"]["headers"], created["id"], "decision", REFUSE_ACCESS)
        view = _view(client, created["id"], subject)
        assert view["status"] == "refused" and view["days_left"] is None
        decision = view["decision"]
        assert decision["outcome"] == "refused"
        assert decision["explanation"] == REFUSE_ACCESS["explanation"]
        assert decision["grounds"] == [
            {
                "code": "PIPA-35-4-1",
                "article": "PIPA Art. 35(4)(1)",
                "article_ko": "개인정보 보호법 제35조제4항제1호",
                "title_ko": "법률에 따라 열람이 금지되거나 제한되는 경우",
                "title_en": "a statute forbids or limits access",
            }
        ]
        assert view["objection"]["allowed"] is True and view["objection"]["against"] == "decision"
        assert view["objection"]["deadline"].startswith("2026-12-31T")
        assert view["actions"] == ["object"]

    def test_partial_grant_items_and_what_the_law_retains(
        self, client, outbox_dir, staff, database_url
    ):
        created, subject = in_progress(
            client, outbox_dir, staff, scope={"categories": ["account", "payment"]}
        )
        act(client, staff["handler"]["headers"], created["id"], "decision", PARTIAL_ACCESS)
        # The retention plan (another part of issue 8) stores these keys on a retained item.
        _sql(
            database_url,
            "UPDATE decision SET items = :items WHERE request_id = :r",
            r=created["id"],
            items=(
                '[{"category": "account", "result": "granted", "grounds": []},'
                ' {"category": "payment", "result": "refused", "grounds": ["PIPA-35-4-1"],'
                ' "rule": "payments", "law_ko": "전자상거래법", "law_en": "E-Commerce Act",'
                ' "period": "P5Y", "retain_until": "2031-12-01"}]'
            ),
        )
        view = _view(client, created["id"], subject)
        assert view["status"] == "fulfilling" and view["days_left"] == 10
        account, payment = view["decision"]["items"]
        assert account["category"] == "account" and account["result"] == "granted"
        assert account["grounds"] == [] and account["retain_until"] is None
        assert account["name_ko"] and account["name_en"]
        assert payment["result"] == "refused"
        assert [g["code"] for g in payment["grounds"]] == ["PIPA-35-4-1"]
        assert payment["law_ko"] == "전자상거래법" and payment["law_en"] == "E-Commerce Act"
        assert payment["retain_until"] == "2031-12-01" and payment["period"] == "P5Y"
        assert view["objection"]["allowed"] is True
        assert view["actions"] == ["withdraw", "upload_document", "object"]

    def test_objection_window_closes(self, client, outbox_dir, staff, clock):
        created, _ = in_progress(client, outbox_dir, staff)
        act(client, staff["handler"]["headers"], created["id"], "decision", REFUSE_ACCESS)
        clock.advance(days=31)
        subject = fresh_subject_token(client, outbox_dir, created["id"])
        view = _view(client, created["id"], subject)
        assert view["objection"]["allowed"] is False
        assert view["objection"]["deadline"].startswith("2026-12-31T")
        assert view["actions"] == []

    def test_full_grant_offers_no_objection(self, client, outbox_dir, staff):
        created, subject = in_progress(client, outbox_dir, staff)
        act(
            client,
            staff["handler"]["headers"],
            created["id"],
            "decision",
            {"outcome": "granted", "explanation": "요구하신 대로 열람을 제공합니다."},
        )
        view = _view(client, created["id"], subject)
        assert view["decision"]["outcome"] == "granted" and view["decision"]["grounds"] == []
        assert view["objection"] == {"allowed": False, "deadline": None, "against": None}
        assert "object" not in view["actions"]

    def test_download_result_only_while_a_live_result_exists(
        self, client, outbox_dir, staff, database_url, clock
    ):
        created, subject = in_progress(client, outbox_dir, staff)
        rid = created["id"]
        assert "download_result" not in _view(client, rid, subject)["actions"]
        _sql(
            database_url,
            "INSERT INTO access_result (id, request_id, generated_at, expires_at, content_enc)"
            " VALUES ('res_1', :r, :g, :e, 'x')",
            r=rid,
            g=clock.now(),
            e=clock.now() + timedelta(days=30),
        )
        assert "download_result" in _view(client, rid, subject)["actions"]
        clock.advance(days=30, seconds=1)
        subject = fresh_subject_token(client, outbox_dir, rid)
        assert "download_result" not in _view(client, rid, subject)["actions"]
        _sql(
            database_url,
            "UPDATE access_result SET expires_at = :e, destroyed_at = :d WHERE id = 'res_1'",
            e=clock.now() + timedelta(days=30),
            d=clock.now() - timedelta(days=29),
        )
        assert "download_result" not in _view(client, rid, subject)["actions"]

    def test_anonymous_401_and_someone_elses_404(self, client, outbox_dir):
        created, _ = verified(client, outbox_dir)
        _other, other = verified(
            client, outbox_dir, subject={"name": "남", "email": "o@example.com"}
        )
        for key in (created["id"], created["reference"]):
            assert client.get(f"/v1/requests/{key}").status_code == 401
            assert client.get(f"/v1/requests/{key}", headers=other).status_code == 404
        bad = {"Authorization": "Bearer not-a-token"}
        assert client.get(f"/v1/requests/{created['id']}", headers=bad).status_code == 401

"""The access result (issue 8.4): assembled at completion from what the collect tasks returned
with what Decree 41① lists beside it; downloaded by the subject as JSON, CSV or ZIP, each
download in the access record; destroyed after RIGHTSDESK_RESULT_TTL_DAYS (410)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta

from sqlalchemy import create_engine, text

from app.results.service import destroy_expired
from tests.support import (
    act,
    count_rows,
    fresh_subject_token,
    read_outbox,
    relogin,
    staff_read,
    verified,
)

GRANT = {"outcome": "granted", "explanation": "요구하신 개인정보를 열람하실 수 있도록 합니다."}
PAYMENTS = [
    {
        "cardholder_name": "홍길동",
        "card_information": "9410-****-****-1234",
        "paid_at": "2026-11-02",
    },
    {
        "cardholder_name": "홍길동",
        "card_information": "9410-****-****-1234",
        "paid_at": "2026-11-20",
    },
]


def _tasks(client, staff, rid, kind="collect"):
    tasks = staff_read(client, staff["cpo"]["headers"], rid)["tasks"]
    return [t for t in tasks if t["kind"] == kind]


def _complete_task(client, headers, task_id, body):
    response = client.post(f"/v1/staff/tasks/{task_id}/complete", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _access_granted(client, outbox_dir, staff, categories=("payment", "newsletter")):
    created, subject = verified(client, outbox_dir, scope={"categories": list(categories)})
    rid = created["id"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    act(client, staff["handler"]["headers"], rid, "decision", GRANT)
    return created, subject


def _collect_all(client, staff, rid):
    h = staff["handler"]["headers"]
    for task in _tasks(client, staff, rid):
        if task["status"] != "open":
            continue
        if task["system"] == "nice_payments":
            body = {"outcome": "done", "data": PAYMENTS, "note": "결제 2건"}
        elif task["system"] == "stibee":
            body = {
                "outcome": "done",
                "data": {"name": "홍길동", "email": "hong.gildong@example.com"},
            }
        else:
            body = {"outcome": "not_found", "note": "해당 결제수단 이용 기록 없음"}
        _complete_task(client, h, task["id"], body)


def _completed(client, outbox_dir, staff, categories=("payment", "newsletter")):
    created, subject = _access_granted(client, outbox_dir, staff, categories)
    _collect_all(client, staff, created["id"])
    view = act(client, staff["handler"]["headers"], created["id"], "complete")
    assert view["status"] == "completed"
    return created, subject


def _result(client, rid, headers, fmt=None):
    params = {"format": fmt} if fmt else None
    return client.get(f"/v1/requests/{rid}/result", headers=headers, params=params)


def _downloads(client, staff, rid):
    relogin(client, staff)
    entries = client.get(
        "/v1/staff/audit",
        headers=staff["auditor"]["headers"],
        params={"request_id": rid, "action": "download"},
    ).json()["items"]
    return entries


class TestAssembly:
    def test_json_has_items_and_what_decree_41_lists(self, client, outbox_dir, staff):
        created, subject = _completed(client, outbox_dir, staff)
        response = _result(client, created["id"], subject)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["cache-control"] == "no-store"
        doc = response.json()
        assert doc["request_id"] == created["id"] and doc["reference"] == created["reference"]
        assert doc["generated_at"].startswith("2026-12-01T01:00")
        assert doc["expires_at"].startswith("2026-12-31T01:00")  # 30 days from completion
        by_key = {c["category"]: c for c in doc["categories"]}
        assert list(by_key) == ["payment", "newsletter"]  # the profile's order
        payment, newsletter = by_key["payment"], by_key["newsletter"]
        assert payment["name_ko"] == "결제 정보" and payment["name_en"] == "Payment"
        cards = [i for i in payment["items"] if i["item"] == "paid_at"]
        assert [(i["value"], i["record"], i["system"]) for i in cards] == [
            ("2026-11-02", 1, "nice_payments"),
            ("2026-11-20", 2, "nice_payments"),
        ]
        assert len(payment["items"]) == 6
        assert sorted(s["outcome"] for s in payment["sources"]) == [
            "done",
            "not_found",
            "not_found",
        ]
        assert {p["name"] for p in payment["processors"]} == {"NICE Payments", "PayPal", "Iamport"}
        assert {r["rule"] for r in payment["retention"]} == {"payments", "e_finance"}
        assert all(r["law_ko"] and r["period"] == "P5Y" for r in payment["retention"])
        assert {"item": "email", "value": "hong.gildong@example.com"}.items() <= (
            newsletter["items"][1].items() | newsletter["items"][0].items()
        )
        assert [p["name"] for p in newsletter["processors"]] == ["Stibee"]
        assert newsletter["retention"] == []
        # The purposes of processing from the profile (policy Art. 2); no third party is
        # provided with it (policy Art. 4), which the profile says with an empty list.
        assert payment["purposes"] == [
            {
                "ko": "서비스 제공, 청구서 발송, 요금 결제·정산",
                "en": "providing the service, sending invoices, billing and settlement",
            }
        ]
        assert payment["third_parties"] == []

    def test_result_is_encrypted_at_rest(self, client, outbox_dir, staff, database_url):
        created, _ = _completed(client, outbox_dir, staff)
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                content = conn.execute(
                    text("SELECT content_enc FROM access_result WHERE request_id = :r"),
                    {"r": created["id"]},
                ).scalar_one()
        finally:
            engine.dispose()
        assert content and "홍길동" not in content and "hong.gildong" not in content

    def test_complete_needs_every_collect_task_finished(
        self, client, outbox_dir, staff, database_url
    ):
        created, subject = _access_granted(client, outbox_dir, staff)
        rid, h = created["id"], staff["handler"]["headers"]
        problem = act(client, h, rid, "complete", expect=409)
        assert len(problem["open_tasks"]) == 4
        # A failed collection blocks too, until redone or waived.
        task = next(t for t in _tasks(client, staff, rid) if t["system"] == "paypal")
        _complete_task(client, h, task["id"], {"outcome": "failed", "note": "PayPal 응답 없음"})
        for other in _tasks(client, staff, rid):
            if other["status"] == "open":
                _complete_task(
                    client, h, other["id"], {"outcome": "done", "data": {"email": "h@example.com"}}
                )
        problem = act(client, h, rid, "complete", expect=409)
        assert problem["failed_tasks"] == [task["id"]]
        assert count_rows(database_url, "access_result") == 0
        assert _result(client, rid, subject).status_code == 404
        waived = client.post(
            f"/v1/staff/tasks/{task['id']}/waive",
            headers=staff["cpo"]["headers"],
            json={"reason": "PayPal 결제 이력이 없음을 회원 계정에서 확인함"},
        )
        assert waived.status_code == 200
        act(client, h, rid, "complete")
        doc = _result(client, rid, subject).json()
        payment = next(c for c in doc["categories"] if c["category"] == "payment")
        assert {"system": "paypal", "name": "PayPal", "outcome": "waived"} in payment["sources"]

    def test_partial_grant_shows_only_granted_categories(self, client, outbox_dir, staff):
        created, subject = verified(
            client, outbox_dir, scope={"categories": ["inquiries", "newsletter"]}
        )
        rid, h = created["id"], staff["handler"]["headers"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(
            client,
            h,
            rid,
            "decision",
            {
                "outcome": "partially_granted",
                "grounds": ["PIPA-35-4-2"],
                "explanation": "상담 기록에는 다른 사람의 정보가 함께 있어 제한합니다.",
                "items": [
                    {"category": "newsletter", "result": "granted"},
                    {"category": "inquiries", "result": "refused", "grounds": ["PIPA-35-4-2"]},
                ],
            },
        )
        _collect_all(client, staff, rid)
        act(client, h, rid, "complete")
        doc = _result(client, rid, subject).json()
        assert [c["category"] for c in doc["categories"]] == ["newsletter"]


class TestDownload:
    def test_csv_is_utf8_with_bom_one_row_per_item(self, client, outbox_dir, staff):
        created, subject = _completed(client, outbox_dir, staff)
        response = _result(client, created["id"], subject, "csv")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert response.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0] == [
            "category",
            "category_name_ko",
            "category_name_en",
            "system",
            "record",
            "item",
            "value",
        ]
        assert ["newsletter", "뉴스레터", "Newsletter", "stibee", "1", "name", "홍길동"] in rows
        assert [
            "payment",
            "결제 정보",
            "Payment",
            "nice_payments",
            "2",
            "paid_at",
            "2026-11-20",
        ] in rows
        assert len(rows) == 1 + 6 + 2

    def test_csv_cells_that_excel_would_run_are_text(self, client, outbox_dir, staff):
        created, subject = _access_granted(client, outbox_dir, staff, ("newsletter",))
        task = _tasks(client, staff, created["id"])[0]
        _complete_task(
            client,
            staff["handler"]["headers"],
            task["id"],
            {"outcome": "done", "data": {"name": '=HYPERLINK("http://evil")', "count": -3}},
        )
        act(client, staff["handler"]["headers"], created["id"], "complete")
        rows = list(
            csv.reader(
                io.StringIO(_result(client, created["id"], subject, "csv").text.lstrip("\ufeff"))
            )
        )
        assert rows[1][-1] == '\'=HYPERLINK("http://evil")'
        assert rows[2][-1] == "-3"  # a number stays a number
        # The JSON keeps the value exactly as the system returned it.
        doc = _result(client, created["id"], subject).json()
        assert doc["categories"][0]["items"][0]["value"] == '=HYPERLINK("http://evil")'

    def test_zip_holds_json_csv_and_a_summary_korean_first(self, client, outbox_dir, staff):
        created, subject = _completed(client, outbox_dir, staff)
        response = _result(client, created["id"], subject, "zip")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert sorted(archive.namelist()) == ["result.csv", "result.json", "summary.txt"]
        doc = json.loads(archive.read("result.json"))
        assert doc["reference"] == created["reference"]
        assert archive.read("result.csv").startswith(b"\xef\xbb\xbf")
        summary = archive.read("summary.txt").decode("utf-8-sig")
        ko, en = summary.split("─" * 40)
        assert ko.strip().startswith("개인정보 열람 결과 요약")
        assert "시행령 제41조제1항" in ko and created["reference"] in ko
        assert "결제 정보" in ko and "NICE Payments: 결제 처리" in ko
        assert "5년" in ko and "전자금융거래법" in ko
        assert "2026년 12월 31일(목) 10:00까지" in ko
        assert "Decree Art. 41(1)" in en and "Payment" in en and "5 years" in en
        assert "hong.gildong@example.com" in ko and "hong.gildong@example.com" in en

    def test_every_download_is_in_the_access_record(self, client, outbox_dir, staff):
        created, subject = _completed(client, outbox_dir, staff)
        for fmt in (None, "csv", "zip"):
            assert _result(client, created["id"], subject, fmt).status_code == 200
        entries = _downloads(client, staff, created["id"])
        assert sorted(e["detail"]["format"] for e in entries) == ["csv", "json", "zip"]
        assert all(e["actor"].startswith("subject") for e in entries)
        assert "hong.gildong" not in str(entries)

    def test_reference_works_as_the_id(self, client, outbox_dir, staff):
        created, subject = _completed(client, outbox_dir, staff)
        response = _result(client, created["reference"], subject)
        assert response.status_code == 200 and response.json()["request_id"] == created["id"]

    def test_auth_and_bad_input(self, client, outbox_dir, staff):
        created, subject = _completed(client, outbox_dir, staff)
        rid = created["id"]
        assert _result(client, rid, {}).status_code == 401
        assert _result(client, rid, {"Authorization": "Bearer nonsense"}).status_code == 401
        _, other_token = verified(
            client, outbox_dir, subject={"name": "김철수", "email": "kim@example.com"}
        )
        assert _result(client, rid, other_token).status_code == 404
        assert _result(client, "req_nope", subject).status_code == 404
        # Staff do not download a subject's result through the subject's route.
        # (a 403 naming the token kind, issue 21.11)
        assert _result(client, rid, staff["cpo"]["headers"]).status_code == 403
        for fmt in ("xml", "CSV", "json\x00", "zip" * 50):
            response = _result(client, rid, subject, fmt)
            assert response.status_code == 422, fmt
            assert response.headers["content-type"].startswith("application/problem+json")
        assert _downloads(client, staff, rid) == []

    def test_404_before_completion_and_for_other_types(self, client, outbox_dir, staff):
        created, subject = _access_granted(client, outbox_dir, staff, ("newsletter",))
        assert _result(client, created["id"], subject).status_code == 404
        _collect_all(client, staff, created["id"])
        assert _result(client, created["id"], subject).status_code == 404  # not yet completed
        deletion, token = verified(
            client,
            outbox_dir,
            type="deletion",
            subject={"name": "이영희", "email": "lee@example.com"},
        )
        assert _result(client, deletion["id"], token).status_code == 404


class TestNoticeAndExpiry:
    def test_completion_notice_links_to_the_result(self, client, outbox_dir, staff):
        created, _ = _completed(client, outbox_dir, staff)
        notice = next(
            m
            for m in read_outbox(outbox_dir)
            if m["template"] == "completed" and m["request_id"] == created["id"]
        )
        assert f"/requests/{created['reference']}" in notice["text"]
        assert "2026년 12월 31일(목) 10:00까지 내려받으실 수 있으며" in notice["text"]
        assert "until Thursday 31 December 2026, 10:00 (Korea time)" in notice["text"]
        assert "hong.gildong" not in notice["text"]  # the data itself never goes by e-mail

    def test_expired_result_is_destroyed_and_answers_410(
        self, client, outbox_dir, staff, clock, database_url
    ):
        created, _ = _completed(client, outbox_dir, staff)
        rid = created["id"]
        ctx = client.app.state.ctx
        clock.advance(days=29, hours=23)
        assert destroy_expired(ctx.db, ctx) == 0
        subject = fresh_subject_token(client, outbox_dir, rid)
        assert _result(client, rid, subject).status_code == 200
        clock.advance(hours=1)
        subject = fresh_subject_token(client, outbox_dir, rid)
        # Past its time the route refuses at once, before the worker has run.
        gone = _result(client, rid, subject)
        assert gone.status_code == 410 and gone.json()["type"] == "/problems/result-destroyed"
        assert destroy_expired(ctx.db, ctx) == 1
        assert destroy_expired(ctx.db, ctx) == 0
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT content_enc, destroyed_at FROM access_result WHERE request_id = :r"
                    ),
                    {"r": rid},
                ).one()
                data = conn.execute(
                    text(
                        "SELECT count(*) FROM task WHERE request_id = :r AND data_enc IS NOT NULL"
                    ),
                    {"r": rid},
                ).scalar_one()
        finally:
            engine.dispose()
        assert row[0] is None and row[1] is not None
        assert data == 0  # the collect tasks' copies go with it
        for fmt in (None, "csv", "zip"):
            assert _result(client, rid, subject, fmt).status_code == 410
        relogin(client, staff)
        destroyed = client.get(
            "/v1/staff/audit",
            headers=staff["auditor"]["headers"],
            params={"request_id": rid, "action": "destroy"},
        ).json()["items"]
        assert len(destroyed) == 1 and destroyed[0]["actor"] == "system"
        assert client.get("/v1/staff/audit/verify", headers=staff["auditor"]["headers"]).json()[
            "ok"
        ]


class TestReopened:
    def test_objection_after_completion_then_a_new_result(self, client, outbox_dir, staff, clock):
        created, subject = verified(
            client, outbox_dir, scope={"categories": ["payment", "newsletter"]}
        )
        rid, h = created["id"], staff["handler"]["headers"]
        act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
        act(
            client,
            h,
            rid,
            "decision",
            {
                "outcome": "partially_granted",
                "grounds": ["PIPA-35-4-1"],
                "explanation": "결제 정보는 제한합니다.",
                "items": [
                    {"category": "newsletter", "result": "granted"},
                    {"category": "payment", "result": "refused", "grounds": ["PIPA-35-4-1"]},
                ],
            },
        )
        _collect_all(client, staff, rid)
        act(client, h, rid, "complete")
        first = _result(client, rid, subject).json()
        assert [c["category"] for c in first["categories"]] == ["newsletter"]
        objected = client.post(
            f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "결제 정보도"}
        )
        assert objected.status_code == 201, objected.text
        # Reopened: the new result comes with the new completion.
        assert _result(client, rid, subject).status_code == 404
        clock.advance(days=2)
        relogin(client, staff)
        h = staff["handler"]["headers"]
        act(client, h, rid, "decision", GRANT)
        _collect_all(client, staff, rid)
        act(client, h, rid, "complete")
        subject = fresh_subject_token(client, outbox_dir, rid)
        second = _result(client, rid, subject).json()
        assert [c["category"] for c in second["categories"]] == ["payment", "newsletter"]
        assert second["expires_at"].startswith("2027-01-02T01:00")  # 30 days from the new one
        assert count_rows_of(client, rid) == 1


def count_rows_of(client, rid) -> int:
    from sqlmodel import select

    from app.models import AccessResult

    with client.app.state.ctx.db.session(write=False) as session:
        return len(session.exec(select(AccessResult).where(AccessResult.request_id == rid)).all())


def test_the_subjects_view_says_when_the_result_is_destroyed(client, outbox_dir, staff, clock):
    """Issue 21.11: the subject sees until when the result can be downloaded (then it is
    destroyed), before they need it."""
    created, subject = _completed(client, outbox_dir, staff)
    rid = created["id"]
    view = client.get(f"/v1/requests/{rid}", headers=subject).json()
    assert "download_result" in view["actions"]
    until = datetime.fromisoformat(view["result_available_until"])
    assert until == clock.now() + timedelta(days=30)  # RIGHTSDESK_RESULT_TTL_DAYS
    clock.advance(days=31)
    ctx = client.app.state.ctx
    assert destroy_expired(ctx.db, ctx) == 1
    later = client.get(f"/v1/requests/{rid}", headers=fresh_subject_token(client, outbox_dir, rid))
    assert later.json()["result_available_until"] is None
    assert "download_result" not in later.json()["actions"]

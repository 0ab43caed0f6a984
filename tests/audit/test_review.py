"""The monthly review of the access record (issue 11, item 4): the export of a month with a
reason, the reviews, the months not yet reviewed, and the flag for unusually many reads.

The clock starts on Tuesday 1 December 2026, 10:00 in Seoul (tests/support.py T0)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.audit import review
from app.audit.review import CSV_COLUMNS, unreviewed_months
from app.law.deadlines import SEOUL
from app.main import create_app
from tests.support import (
    file_request,
    login,
    make_settings,
    make_staff,
    relogin,
    staff_read,
    verified,
)

EXPORT = "/v1/staff/audit/export"
REVIEWS = "/v1/staff/audit/reviews"


def export(client, headers, month="2026-12", fmt="json", reason="monthly review", expect=200):
    response = client.get(
        EXPORT, headers=headers, params={"month": month, "format": fmt, "reason": reason}
    )
    assert response.status_code == expect, response.text
    return response


def entries(client, headers, **params) -> list[dict]:
    response = client.get("/v1/staff/audit", headers=headers, params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def record_since_october(app, month: int = 10) -> None:
    """An access-record entry of 1 October 2026 (or of `month`): the record began then, so
    the months from then may be reviewed on 1 December (one before it began may not)."""
    from app.audit import service as audit

    ctx = app.state.ctx
    with ctx.db.transaction() as session:
        audit.append(
            session,
            at=datetime(2026, month, 1, 10, 0, tzinfo=SEOUL).astimezone(UTC),
            actor="system",
            action="login",
            detail={"what": "an entry from before the tests' first day"},
        )


def to_january(clock, client, staff, day: int = 2) -> None:
    """Move to January 2027 (December has ended in Korea) and log everyone in again."""
    clock.at = datetime(2027, 1, day, 10, 0, tzinfo=SEOUL).astimezone(UTC)
    relogin(client, staff)


# Who may call what ------------------------------------------------------------------------
class TestRoles:
    def test_export(self, client, staff, outbox_dir):
        _, subject = verified(client, outbox_dir)
        params = {"month": "2026-12", "format": "csv", "reason": "monthly review"}
        assert client.get(EXPORT, params=params).status_code == 401
        assert client.get(EXPORT, params=params, headers=subject).status_code == 403
        assert (
            client.get(EXPORT, params=params, headers=staff["handler"]["headers"]).status_code
            == 403
        )
        for role in ("auditor", "cpo"):
            assert (
                client.get(EXPORT, params=params, headers=staff[role]["headers"]).status_code == 200
            )

    def test_create_review(self, app, client, staff):
        record_since_october(app)
        body = {"month": "2026-11", "note": "nothing unusual"}
        assert client.post(REVIEWS, json=body).status_code == 401
        assert (
            client.post(REVIEWS, json=body, headers=staff["handler"]["headers"]).status_code == 403
        )
        assert (
            client.post(REVIEWS, json=body, headers=staff["auditor"]["headers"]).status_code == 201
        )
        other = {"month": "2026-10"}
        assert client.post(REVIEWS, json=other, headers=staff["cpo"]["headers"]).status_code == 201

    def test_list_reviews(self, client, staff):
        assert client.get(REVIEWS).status_code == 401
        assert client.get(REVIEWS, headers=staff["handler"]["headers"]).status_code == 403
        for role in ("auditor", "cpo"):
            assert client.get(REVIEWS, headers=staff[role]["headers"]).status_code == 200

    def test_refusals_record_nothing(self, client, staff):
        client.get(
            EXPORT, params={"month": "2026-12", "reason": "x"}, headers=staff["handler"]["headers"]
        )
        client.post(REVIEWS, json={"month": "2026-11"}, headers=staff["handler"]["headers"])
        actions = {e["action"] for e in entries(client, staff["cpo"]["headers"])}
        assert not actions & {"download", "review"}


# The export ------------------------------------------------------------------------------
def test_csv_export_of_an_ended_month(client, staff, outbox_dir, clock):
    created, _ = verified(client, outbox_dir)
    staff_read(client, staff["handler"]["headers"], created["id"])
    to_january(clock, client, staff)
    response = export(client, staff["auditor"]["headers"], fmt="csv", reason="12월 정기 점검")

    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads Hangul right
    assert response.headers["content-disposition"] == (
        'attachment; filename="access-record-2026-12.csv"'
    )
    assert response.headers["cache-control"] == "no-store"
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(header) == CSV_COLUMNS
    rows = csv_rows(response)
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for row in rows:  # December in Korea time, written with its offset
        at = datetime.fromisoformat(row["at"])
        assert (at.year, at.month, at.utcoffset().total_seconds()) == (2026, 12, 9 * 3600)
    # Everything December holds, nothing of January (the log-ins just now).
    december = [
        e for e in entries(client, staff["cpo"]["headers"]) if e["at"] < "2026-12-31T15:00:00Z"
    ]
    assert seqs == [e["seq"] for e in december]
    actions = Counter(r["action"] for r in rows)
    assert actions["login"] == 1 and actions["view"] == 1 and actions["create"] == 1
    view = next(r for r in rows if r["action"] == "view")
    assert (
        view["request_id"] == created["id"] and view["actor"] == f"staff:{staff['handler']['id']}"
    )
    assert json.loads(view["detail"])["what"] == "request"

    # The download is itself recorded: who, the reason, the month, the format, the rows.
    download = entries(client, staff["cpo"]["headers"], action="download")[-1]
    assert download["actor"] == f"staff:{staff['auditor']['id']}"
    assert download["detail"] == {
        "what": "access_record",
        "month": "2026-12",
        "format": "csv",
        "rows": len(rows),
        "reason": "12월 정기 점검",
        "flags": 0,
    }


def test_json_export_shape(client, staff, outbox_dir, clock):
    verified(client, outbox_dir)
    to_january(clock, client, staff)
    response = export(client, staff["cpo"]["headers"])
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == (
        'attachment; filename="access-record-2026-12.json"'
    )
    doc = response.json()
    assert set(doc) == {
        "month",
        "exported_at",
        "rows",
        "reads_per_day_threshold",
        "flags",
        "entries",
    }
    assert doc["month"] == "2026-12"
    assert datetime.fromisoformat(doc["exported_at"]) == clock.now()
    assert doc["reads_per_day_threshold"] == 200 and doc["flags"] == []
    assert doc["rows"] == len(doc["entries"]) > 0
    keys = {"seq", "at", "actor", "action", "request_id", "ip", "detail", "prev_hash", "hash"}
    assert all(set(e) == keys for e in doc["entries"])
    # Linked as the chain is: each entry's prev_hash is the hash before it.
    for before, after in zip(doc["entries"], doc["entries"][1:], strict=False):
        assert after["seq"] == before["seq"] + 1 and after["prev_hash"] == before["hash"]


def test_the_export_pages_through_the_month(client, staff, outbox_dir, clock, monkeypatch):
    for i in range(3):
        file_request(client, subject={"name": f"사람{i}", "email": f"p{i}@example.com"})
    to_january(clock, client, staff)
    whole = export(client, staff["cpo"]["headers"]).json()["entries"]
    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    paged = export(client, staff["cpo"]["headers"]).json()["entries"]
    assert paged == whole and len(whole) > 2 * 2
    paged_csv = csv_rows(export(client, staff["cpo"]["headers"], fmt="csv"))
    assert [int(r["seq"]) for r in paged_csv] == [e["seq"] for e in whole]


def test_the_current_month_is_exported_as_far_as_it_goes(client, staff):
    doc = export(client, staff["auditor"]["headers"]).json()
    # The accounts were granted and the auditor logged in: all December holds so far.
    assert Counter(e["action"] for e in doc["entries"]) == {"grant": 4, "login": 1}
    # The first download is in the second.
    again = export(client, staff["auditor"]["headers"]).json()
    assert again["entries"][-1]["action"] == "download"
    assert again["entries"][-1]["detail"]["rows"] == doc["rows"] == 5


def test_an_empty_month(client, staff):
    response = export(client, staff["cpo"]["headers"], month="2026-06", fmt="csv")
    assert csv_rows(response) == []
    assert export(client, staff["cpo"]["headers"], month="2026-06").json()["entries"] == []


def test_no_personal_data_beyond_the_record(client, staff, outbox_dir):
    created, _ = verified(client, outbox_dir)
    person = staff_read(client, staff["cpo"]["headers"], created["id"])
    assert person["subject"]["name"] == "홍길동"  # the read did show personal data
    for fmt in ("csv", "json"):
        body = export(client, staff["auditor"]["headers"], fmt=fmt).content.decode("utf-8")
        for secret in ("홍길동", "hong.gildong", "010-1234-5678", "1234-5678"):
            assert secret not in body, (fmt, secret)
        assert created["id"] in body  # whose data: the request's id, as the record holds it


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": "line\nbreak"}, "reason"),
        ({"reason": "nul\x00"}, "reason"),
        ({"reason": "ok", "format": "xlsx"}, "format"),
    ],
)
def test_the_reason_is_required(client, staff, params, field):
    response = client.get(
        EXPORT, headers=staff["cpo"]["headers"], params={"month": "2026-12", **params}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"].split(".")[-1] for e in response.json()["errors"]] == [field]
    assert entries(client, staff["cpo"]["headers"], action="download") == []


def test_a_long_korean_reason_is_kept_whole(client, staff):
    reason = "개인정보 접속기록 월간 점검; DROP TABLE audit_entry; --" + "가" * 150
    export(client, staff["cpo"]["headers"], reason=reason)
    download = entries(client, staff["cpo"]["headers"], action="download")[-1]
    assert download["detail"]["reason"] == reason


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "2026-1", "26-01", "abcd-ef", "1969-12", "3000-01", "2027-01"]
)
def test_malformed_or_future_months_are_refused(client, staff, month):
    response = client.get(
        EXPORT, headers=staff["cpo"]["headers"], params={"month": month, "reason": "review"}
    )
    assert response.status_code == 422, response.text
    assert [e["field"].split(".")[-1] for e in response.json()["errors"]] == ["month"]
    assert entries(client, staff["cpo"]["headers"], action="download") == []


def test_korea_time_decides_the_month(client, staff, clock):
    # 23:59 on 31 December in Seoul, then 00:00 on 1 January (15:00 UTC).
    clock.at = datetime(2026, 12, 31, 14, 59, tzinfo=UTC)
    relogin(client, staff)
    late = file_request(client, subject={"name": "늦은", "email": "late@example.com"})
    clock.at = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    early = file_request(client, subject={"name": "이른", "email": "early@example.com"})
    clock.at = datetime(2027, 2, 1, 9, 0, tzinfo=SEOUL).astimezone(UTC)
    relogin(client, staff)
    h = staff["auditor"]["headers"]
    december = {e["request_id"] for e in export(client, h, month="2026-12").json()["entries"]}
    january = {e["request_id"] for e in export(client, h, month="2027-01").json()["entries"]}
    assert late["id"] in december and late["id"] not in january
    assert early["id"] in january and early["id"] not in december


# Reviews and the months not yet reviewed ----------------------------------------------------
def test_review_created_then_conflict(app, client, staff, database_url):
    record_since_october(app)
    note = "이상 없음: 홍길동 건 열람 사유 확인"
    response = client.post(
        REVIEWS, headers=staff["auditor"]["headers"], json={"month": "2026-11", "note": note}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "month", "reviewed_by", "reviewed_at"}
    assert body["month"] == "2026-11"
    assert body["reviewed_by"] == f"staff:{staff['auditor']['id']}"
    assert datetime.fromisoformat(body["reviewed_at"]) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)

    again = client.post(REVIEWS, headers=staff["cpo"]["headers"], json={"month": "2026-11"})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "/problems/conflict"

    # The review is in the access record (the note is not: it may name people)...
    recorded = entries(client, staff["cpo"]["headers"], action="review")
    assert [e["detail"] for e in recorded] == [
        {"what": "access_record", "month": "2026-11", "review": body["id"]}
    ]
    # ...and the note is encrypted at rest, readable through the listing.
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT note_enc FROM audit_review")).scalar_one()
    engine.dispose()
    assert "홍길동" not in stored and "이상" not in stored
    listed = client.get(REVIEWS, headers=staff["cpo"]["headers"]).json()["items"]
    assert [(i["month"], i["note"]) for i in listed] == [("2026-11", note)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"month": "2026-12"}, "month"),  # not ended yet (it is 1 December)
        ({"month": "2027-01"}, "month"),
        ({"month": "2026-13"}, "month"),
        ({"month": "November"}, "month"),
        ({"month": 202611}, "month"),
        ({}, "month"),
        ({"month": "2026-11", "note": "x" * 2001}, "note"),
        ({"month": "2026-11", "note": "nul\u0000"}, "note"),
        ({"month": "2026-11", "reviewer": "me"}, "reviewer"),
    ],
)
def test_review_validation(client, staff, body, field, database_url):
    response = client.post(REVIEWS, headers=staff["cpo"]["headers"], json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_review")).scalar_one() == 0
    engine.dispose()


def test_unreviewed_months_across_a_month_boundary(client, staff, clock, database_url):
    engine = create_engine(database_url)

    def gauge() -> int:
        with engine.connect() as conn:
            return unreviewed_months(conn, clock.now())

    def listed() -> dict:
        response = client.get(REVIEWS, headers=staff["cpo"]["headers"])
        assert response.status_code == 200, response.text
        return response.json()

    try:
        # The record began today (the log-ins, 1 December): nothing has ended yet.
        assert listed()["unreviewed"] == [] and gauge() == 0
        clock.at = datetime(2026, 12, 31, 14, 59, 59, tzinfo=UTC)  # 23:59:59 in Seoul
        relogin(client, staff)
        assert listed()["unreviewed"] == [] and gauge() == 0
        too_soon = client.post(REVIEWS, headers=staff["cpo"]["headers"], json={"month": "2026-12"})
        assert too_soon.status_code == 422
        clock.advance(seconds=1)  # midnight in Seoul: December has ended
        assert listed()["unreviewed"] == ["2026-12"] and gauge() == 1
        clock.advance(days=32)  # 2 February: January has ended too
        relogin(client, staff)
        assert listed()["unreviewed"] == ["2026-12", "2027-01"] and gauge() == 2
        done = client.post(
            REVIEWS, headers=staff["auditor"]["headers"], json={"month": "2026-12", "note": "ok"}
        )
        assert done.status_code == 201, done.text
        doc = listed()
        assert doc["unreviewed"] == ["2027-01"] and gauge() == 1
        assert [i["month"] for i in doc["items"]] == ["2026-12"]
    finally:
        engine.dispose()


def test_reviews_are_listed_newest_first_in_pages(app, client, staff):
    record_since_october(app, month=8)
    h = staff["cpo"]["headers"]
    for month in ("2026-08", "2026-10", "2026-09"):
        assert client.post(REVIEWS, headers=h, json={"month": month}).status_code == 201
    first = client.get(REVIEWS, headers=h, params={"limit": 2}).json()
    assert [i["month"] for i in first["items"]] == ["2026-10", "2026-09"]
    assert first["next_cursor"] == "2026-09"
    rest = client.get(REVIEWS, headers=h, params={"limit": 2, "cursor": "2026-09"}).json()
    assert [i["month"] for i in rest["items"]] == ["2026-08"] and rest["next_cursor"] is None
    for params in ({"cursor": "2026-9"}, {"limit": 0}, {"limit": 121}):
        assert client.get(REVIEWS, headers=h, params=params).status_code == 422
    # Reading the reviews is recorded.
    views = entries(client, h, action="view")
    assert any(v["detail"]["what"] == "access_record_reviews" for v in views)


# Flags -------------------------------------------------------------------------------------
@pytest.fixture
def strict(app, database_url, tmp_path, clock):
    """An app that flags more than 3 reads in a day (the `app` fixture cleans up after)."""
    application = create_app(
        make_settings(database_url, tmp_path, audit_flag_reads_per_day=3), clock
    )
    with TestClient(application, raise_server_exceptions=False) as c:
        people = {}
        for key, role in (("cpo", "cpo"), ("h1", "handler"), ("h2", "handler"), ("aud", "auditor")):
            email = f"{key}@example.com"
            people[key] = {
                "id": make_staff(application, email, role),
                "email": email,
                "headers": login(c, email),
            }
        yield c, people


def test_a_busy_day_is_flagged(strict, outbox_dir, clock):
    client, people = strict
    created, _ = verified(client, outbox_dir)
    for _ in range(4):  # more than 3: flagged
        staff_read(client, people["h1"]["headers"], created["id"])
    for _ in range(3):  # exactly 3: not
        staff_read(client, people["h2"]["headers"], created["id"])
    flag = {"actor": f"staff:{people['h1']['id']}", "day": "2026-12-01", "reads": 4}

    # The current month's export shows it already.
    doc = export(client, people["aud"]["headers"]).json()
    assert doc["reads_per_day_threshold"] == 3 and doc["flags"] == [flag]
    download = entries(client, people["aud"]["headers"], action="download")[-1]
    assert download["detail"]["flags"] == 1

    to_january(clock, client, people)
    assert export(client, people["aud"]["headers"]).json()["flags"] == [flag]
    listed = client.get(REVIEWS, headers=people["cpo"]["headers"]).json()
    assert listed["unreviewed"] == ["2026-12"] and listed["flags"] == [flag]
    assert listed["reads_per_day_threshold"] == 3
    # Once the month is reviewed its flags leave the listing (they stay in its export).
    done = client.post(REVIEWS, headers=people["cpo"]["headers"], json={"month": "2026-12"})
    assert done.status_code == 201
    assert client.get(REVIEWS, headers=people["cpo"]["headers"]).json()["flags"] == []


def test_reads_are_counted_per_korea_day(strict, outbox_dir, clock):
    client, people = strict
    created, _ = verified(client, outbox_dir)
    clock.at = datetime(2026, 12, 1, 23, 50, tzinfo=SEOUL).astimezone(UTC)
    relogin(client, people)
    for _ in range(2):
        staff_read(client, people["h1"]["headers"], created["id"])
    clock.at = datetime(2026, 12, 2, 0, 10, tzinfo=SEOUL).astimezone(UTC)
    relogin(client, people)
    for _ in range(2):
        staff_read(client, people["h1"]["headers"], created["id"])
    # Four in the month, but two on each Korea-time day: nothing over 3 in a day.
    assert export(client, people["aud"]["headers"]).json()["flags"] == []
    staff_read(client, people["h1"]["headers"], created["id"])
    staff_read(client, people["h1"]["headers"], created["id"])
    assert export(client, people["aud"]["headers"]).json()["flags"] == [
        {"actor": f"staff:{people['h1']['id']}", "day": "2026-12-02", "reads": 4}
    ]

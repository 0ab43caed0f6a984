"""The queue, offline intake, and the full staff view of a request."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support import act, file_request, read_outbox, staff_read, verified


def _queue(client, headers, **params):
    response = client.get("/v1/staff/requests", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _offline(client, headers, **overrides):
    body = {
        "type": "access",
        "subject": {"name": "강민호", "email": "kang@example.com"},
        "channel": "letter",
        "received_at": "2026-11-30T15:00:00+09:00",
    }
    body.update(overrides)
    return client.post("/v1/staff/requests", headers=headers, json=body)


class TestQueue:
    def test_sorted_by_deadline_with_days_left_and_no_personal_data(self, client, staff, clock):
        h = staff["cpo"]["headers"]
        _offline(client, h, received_at="2026-11-25T10:00:00+09:00")  # due 5 Dec (Sat) → 7 Dec
        file_request(client)  # due 11 Dec
        _offline(client, h, received_at="2026-11-20T10:00:00+09:00")  # due 30 Nov: overdue
        page = _queue(client, h)
        assert [i["due_date"] for i in page["items"]] == ["2026-11-30", "2026-12-07", "2026-12-11"]
        assert [i["days_left"] for i in page["items"]] == [-1, 6, 10]
        assert [i["overdue"] for i in page["items"]] == [True, False, False]
        assert "kang" not in str(page) and "홍길동" not in str(page)

    def test_filters(self, client, outbox_dir, staff):
        h = staff["cpo"]["headers"]
        _offline(client, h, received_at="2026-11-20T10:00:00+09:00", type="deletion")
        created, _ = verified(client, outbox_dir, type="suspension")
        act(client, h, created["id"], "assign", {"assignee": "handler@example.com"})
        file_request(client, subject={"name": "이수진", "email": "Lee.Sujin@Example.com"})
        assert [i["type"] for i in _queue(client, h, type="deletion")["items"]] == ["deletion"]
        assert len(_queue(client, h, status=["pending_verification", "in_progress"])["items"]) == 3
        assert [i["id"] for i in _queue(client, h, assignee="handler@example.com")["items"]] == [
            created["id"]
        ]
        assert [
            i["id"] for i in _queue(client, staff["handler"]["headers"], assignee="me")["items"]
        ] == [created["id"]]
        assert len(_queue(client, h, assignee="none")["items"]) == 2
        assert [i["type"] for i in _queue(client, h, overdue="true")["items"]] == ["deletion"]
        assert len(_queue(client, h, overdue="false")["items"]) == 2
        assert len(_queue(client, h, due_before="2026-12-01T00:00:00+09:00")["items"]) == 1
        # q: an exact reference, or an e-mail through the blind index (case-blind).
        by_ref = _queue(client, h, q=created["reference"])["items"]
        assert [i["id"] for i in by_ref] == [created["id"]]
        by_mail = _queue(client, h, q="lee.sujin@example.com")["items"]
        assert len(by_mail) == 1 and by_mail[0]["type"] == "access"
        assert _queue(client, h, q="nobody@example.com")["items"] == []

    def test_pagination(self, client, staff):
        h = staff["cpo"]["headers"]
        for day in range(1, 8):
            _offline(client, h, received_at=f"2026-11-{day:02d}T10:00:00+09:00")
        seen, cursor = [], None
        while True:
            page = _queue(client, h, limit=3, **({"cursor": cursor} if cursor else {}))
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 7
        full = [i["id"] for i in _queue(client, h, limit=50)["items"]]
        assert seen == full

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 201},
            {"status": "lost"},
            {"type": "portability"},
            {"cursor": "not-a-cursor"},
            {"q": "홍길동"},
            {"overdue": "maybe"},
            {"due_before": "2026-12-01T00:00:00"},
        ],
    )
    def test_bad_parameters(self, client, staff, params):
        response = client.get("/v1/staff/requests", headers=staff["cpo"]["headers"], params=params)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    def test_every_role_reads_the_queue(self, client, staff):
        for who in ("cpo", "handler", "auditor"):
            assert (
                client.get("/v1/staff/requests", headers=staff[who]["headers"]).status_code == 200
            )


class TestOfflineIntake:
    def test_letter_with_email_gets_receipt_and_code(self, client, staff, outbox_dir):
        response = _offline(client, staff["handler"]["headers"])
        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "pending_verification"
        assert body["received_at"] == "2026-11-30T06:00:00Z"
        assert body["due_date"] == "2026-12-10"  # counted from the letter's arrival, not entry
        assert body["verification"]["sent_to"] == "k***@example.com"
        assert sorted(m["template"] for m in read_outbox(outbox_dir)) == [
            "receipt",
            "verification_code",
        ]
        view = staff_read(client, staff["cpo"]["headers"], body["id"])
        assert view["channel"] == "letter"
        assert view["timeline"][0]["actor"] == f"staff:{staff['handler']['id']}"

    def test_identity_checked_in_person_opens_at_once(self, client, staff, outbox_dir):
        response = _offline(
            client,
            staff["cpo"]["headers"],
            channel="in_person",
            identity_verified=True,
            verification_method="id_card_in_person",
        )
        body = response.json()
        assert body["status"] == "open" and body["verification"] is None
        assert [m["template"] for m in read_outbox(outbox_dir)] == ["receipt"]

    def test_phone_without_email_waits_for_a_person(self, client, staff, outbox_dir):
        response = _offline(
            client,
            staff["cpo"]["headers"],
            channel="phone",
            subject={"name": "오세훈", "phone": "010-2222-3333"},
        )
        body = response.json()
        assert body["status"] == "pending_verification" and body["verification"] is None
        assert read_outbox(outbox_dir) == []
        tasks = client.get("/v1/staff/tasks?kind=verify", headers=staff["cpo"]["headers"]).json()[
            "items"
        ]
        assert [t["request_id"] for t in tasks] == [body["id"]]

    def test_chuseok_letter(self, client, staff):
        # Received Tue 22 Sep 2026; day 10 is Fri 2 Oct, a working day (Chuseok was 24-26 Sep).
        body = _offline(
            client, staff["cpo"]["headers"], received_at="2026-09-22T11:00:00+09:00"
        ).json()
        assert body["due_date"] == "2026-10-02"

    @pytest.mark.parametrize(
        "overrides",
        [
            {"received_at": "2026-12-02T10:00:00+09:00"},  # in the future
            {"received_at": "2025-01-01T10:00:00+09:00"},  # over a year ago
            {"received_at": "2026-11-30T15:00:00"},  # no offset
            {"channel": "portal"},
            {"channel": "carrier pigeon"},
            {"identity_verified": True},  # without a method
            {"due_at": "2027-01-01T00:00:00+09:00"},
        ],
    )
    def test_bad_intake(self, client, staff, overrides, database_url):
        response = _offline(client, staff["cpo"]["headers"], **overrides)
        assert response.status_code == 422, response.text
        engine = create_engine(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM request")).scalar_one() == 0
        engine.dispose()

    def test_auditor_cannot_enter(self, client, staff):
        assert _offline(client, staff["auditor"]["headers"]).status_code == 403


class TestRead:
    def test_everything_decrypted_and_the_read_recorded(self, client, staff, database_url):
        created = file_request(client, details="주소가 바뀌었습니다")
        view = staff_read(client, staff["auditor"]["headers"], created["id"])
        assert view["subject"] == {
            "name": "홍길동",
            "email": "hong.gildong@example.com",
            "phone": "010-1234-5678",
            "birth_date": None,
        }
        assert view["requester"]["kind"] == "self" and view["documents"] == []
        assert view["details"] == "주소가 바뀌었습니다"
        # The auditor reads only: no action is offered to them.
        assert view["version"] == 1 and view["actions"] == []
        engine = create_engine(database_url)
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT actor, action, request_id, ip FROM audit_entry "
                    "ORDER BY seq DESC LIMIT 1"
                )
            ).one()
        engine.dispose()
        assert row.actor == f"staff:{staff['auditor']['id']}" and row.action == "view"
        assert row.request_id == created["id"] and row.ip == "testclient"

    def test_etag_is_the_version(self, client, staff):
        created = file_request(client)
        response = client.get(
            f"/v1/staff/requests/{created['id']}", headers=staff["cpo"]["headers"]
        )
        assert response.headers["etag"] == '"1"'

    def test_unknown_and_anonymous(self, client, staff, outbox_dir):
        assert (
            client.get("/v1/staff/requests/req_nope", headers=staff["cpo"]["headers"]).status_code
            == 404
        )
        created, subject = verified(client, outbox_dir)
        assert client.get(f"/v1/staff/requests/{created['id']}").status_code == 401
        assert client.get(f"/v1/staff/requests/{created['id']}", headers=subject).status_code == 403

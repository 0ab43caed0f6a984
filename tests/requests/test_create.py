"""POST /v1/requests: filing a request through the public API."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support import count_rows, file_request, read_outbox, request_body


def _raw_request_row(database_url: str) -> dict:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT * FROM request")).mappings().one())
    finally:
        engine.dispose()


class TestValid:
    # The deadline counts Seoul days: at every hour where UTC's date differs.
    @pytest.mark.seoul_hours
    def test_created_with_server_clock_and_statutory_deadline(self, client, clock):
        response = client.post("/v1/requests", json=request_body())
        assert response.status_code == 201
        body = response.json()
        assert body["status"] == "pending_verification"
        assert body["id"].startswith("req_")
        assert body["reference"] == "RD-2026-000001"
        # The test clock: Tuesday 1 December 2026 in Seoul (00:30, 08:59, 10:00 or 23:59; the
        # UTC date is 30 November before 09:00). Day 1 is 2 December, day 10 is Friday 11
        # December, a working day.
        assert body["received_at"] == clock.now().isoformat().replace("+00:00", "Z")
        assert body["due_date"] == "2026-12-11"
        assert body["due_at"] == "2026-12-11T14:59:59Z"
        assert body["days_left"] == 10
        assert body["verification"] == {"sent_to": "h***********@example.com", "expires_in": 600}
        assert response.headers["location"] == f"/v1/requests/{body['id']}"

    def test_references_count_up(self, client):
        refs = [file_request(client)["reference"] for _ in range(3)]
        assert refs == ["RD-2026-000001", "RD-2026-000002", "RD-2026-000003"]

    @pytest.mark.parametrize("seoul_time", ["00:30", "08:59"])
    def test_the_reference_year_is_seouls(self, client, clock, seoul_time):
        """From 00:00 to 08:59 on 1 January in Seoul it is still 31 December in UTC: a request
        received then is the Seoul year's first (issue 23.2)."""
        before = file_request(client)["reference"]
        hours, minutes = map(int, seoul_time.split(":"))
        # T0 is 1 December 2026, 10:00 in Seoul: on to 1 January 2027 at `seoul_time`.
        clock.advance(days=31, hours=hours - 10, minutes=minutes)
        assert clock.now().date().isoformat() == "2026-12-31"  # UTC's date
        assert before == "RD-2026-000001"
        assert file_request(client)["reference"] == "RD-2027-000001"

    def test_receipt_and_code_notices_go_out(self, client, outbox_dir):
        created = file_request(client)
        messages = read_outbox(outbox_dir)
        assert sorted(m["template"] for m in messages) == ["receipt", "verification_code"]
        for m in messages:
            assert m["to"] == "hong.gildong@example.com"
            assert m["request_id"] == created["id"]
            assert m["locale"] == "ko"
        receipt = next(m for m in messages if m["template"] == "receipt")
        # Korean first, English beside it; the deadline in both.
        assert receipt["text"].index("홍길동 님께") < receipt["text"].index("Dear 홍길동")
        assert "2026년 12월 11일(금)까지" in receipt["text"]
        assert "Friday 11 December 2026" in receipt["text"]
        assert created["reference"] in receipt["subject"]

    def test_personal_data_is_encrypted_at_rest(self, client, database_url):
        file_request(client, details="전화번호가 바뀌었습니다", type="access")
        row = _raw_request_row(database_url)
        dump = repr(row)
        for secret in ("홍길동", "hong.gildong", "010-1234-5678", "전화번호"):
            assert secret not in dump
        assert row["subject_email_enc"].startswith("v1.t1.")
        assert len(row["subject_email_bidx"]) == 64

    def test_delivered_notice_payloads_are_erased(self, client, database_url):
        file_request(client)
        engine = create_engine(database_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT state, payload_enc FROM outbox_message")).all()
        engine.dispose()
        assert [r.state for r in rows] == ["sent", "sent"]
        assert all(r.payload_enc is None for r in rows)

    def test_correction_with_items(self, client):
        body = file_request(
            client,
            type="correction",
            scope={
                "categories": ["account"],
                "corrections": [
                    {"item": "phone", "current": "010-0000-0000", "requested": "010-1111-2222"}
                ],
            },
        )
        assert body["type"] == "correction"

    def test_korean_and_sql_looking_text_are_just_text(self, client, database_url):
        file_request(
            client,
            subject={"name": "Robert'); DROP TABLE request;--", "email": "bobby@example.com"},
            details="'; DELETE FROM audit_entry; -- 한국어 설명",
        )
        assert count_rows(database_url, "request") == 1
        assert count_rows(database_url, "audit_entry") == 1  # the filing's one entry

    def test_english_locale_leads_with_english(self, client, outbox_dir):
        file_request(client, locale="en")
        receipt = next(m for m in read_outbox(outbox_dir) if m["template"] == "receipt")
        assert receipt["text"].index("Dear 홍길동") < receipt["text"].index("홍길동 님께")


BAD_BODIES = {
    "received_at set by the caller": request_body(received_at="2020-01-01T00:00:00Z"),
    "due_at set by the caller": request_body(due_at="2099-01-01T00:00:00Z"),
    "unknown top-level field": request_body(priority="high"),
    "unknown subject field": request_body(subject={"name": "a", "email": "a@example.com", "x": 1}),
    "unknown type": request_body(type="portability"),
    "missing subject": {"type": "access"},
    "bad email": request_body(subject={"name": "a", "email": "not-an-email"}),
    "name with NUL": request_body(subject={"name": "a\x00b", "email": "a@example.com"}),
    "name with newline": request_body(subject={"name": "a\nb", "email": "a@example.com"}),
    "empty name": request_body(subject={"name": "   ", "email": "a@example.com"}),
    "very long name": request_body(subject={"name": "가" * 101, "email": "a@example.com"}),
    "very long details": request_body(details="x" * 4001),
    "wrong type for name": request_body(subject={"name": 42, "email": "a@example.com"}),
    "bad phone": request_body(subject={"name": "a", "email": "a@example.com", "phone": "call me"}),
    "bad locale": request_body(locale="jp"),
    "correction without items": request_body(type="correction"),
    "corrections on an access request": request_body(
        scope={"corrections": [{"item": "phone", "requested": "1"}]}
    ),
    "unknown category": request_body(scope={"categories": ["dna"]}),
    "malformed category": request_body(scope={"categories": ["DROP TABLE"]}),
    "body is a list": [request_body()],
}


class TestInvalid:
    @pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
    def test_problem_and_nothing_stored(self, client, database_url, outbox_dir, body):
        response = client.post("/v1/requests", json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == "/problems/validation-error"
        assert problem["status"] == 422
        assert problem["errors"]
        # The rejected input is not echoed back (it may be personal data).
        assert all(set(e) == {"field", "message", "code"} for e in problem["errors"])
        assert count_rows(database_url, "request") == 0
        assert count_rows(database_url, "audit_entry") == 0
        assert read_outbox(outbox_dir) == []

    def test_malformed_json(self, client, database_url):
        response = client.post(
            "/v1/requests",
            content=b'{"type": "access",',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/malformed-json"
        assert count_rows(database_url, "request") == 0

    def test_absurdly_nested_json(self, client, database_url):
        deep = b"[" * 100_000 + b"]" * 100_000
        response = client.post(
            "/v1/requests", content=deep, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert response.json()["type"] == "/problems/malformed-json"
        assert count_rows(database_url, "request") == 0

    def test_not_json_at_all(self, client, database_url):
        response = client.post(
            "/v1/requests",
            content=b"type=access",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 415  # the body is a form: say to send JSON
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/unsupported-media-type"
        assert "application/json" in response.json()["detail"]
        assert count_rows(database_url, "request") == 0

    def test_oversized_body(self, client, database_url, settings):
        big = request_body(details="x" * (settings.max_body_bytes + 10))
        response = client.post("/v1/requests", json=big)
        assert response.status_code == 413
        assert response.json()["type"] == "/problems/payload-too-large"
        assert count_rows(database_url, "request") == 0

    def test_oversized_body_without_content_length(self, client, settings):
        def chunks():
            yield b'{"details": "'
            for _ in range(settings.max_body_bytes // 1000 + 2):
                yield b"x" * 1000
            yield b'"}'

        response = client.post(
            "/v1/requests", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413


def test_one_address_cannot_flood(client, clock, database_url, staff):
    for i in range(10):
        file_request(client, subject={"name": f"반복{i}", "email": "target@example.com"})
    response = client.post(
        "/v1/requests", json=request_body(subject={"name": "반복", "email": "TARGET@example.com"})
    )
    assert response.status_code == 429
    assert response.json()["type"] == "/problems/rate-limited"
    assert response.headers["retry-after"] == "3600"
    # As the requester of a proxy filing, too.
    proxied = client.post(
        "/v1/requests",
        json=request_body(
            requester={
                "kind": "legal_representative",
                "name": "부모",
                "email": "target@example.com",
            }
        ),
    )
    assert proxied.status_code == 429
    # Staff entering a letter are not limited.
    offline = client.post(
        "/v1/staff/requests",
        headers=staff["cpo"]["headers"],
        json={
            **request_body(subject={"name": "편지", "email": "target@example.com"}),
            "channel": "letter",
            "received_at": "2026-11-30T10:00:00+09:00",
        },
    )
    assert offline.status_code == 201
    clock.advance(hours=1, seconds=1)
    assert (
        client.post(
            "/v1/requests",
            json=request_body(subject={"name": "다시", "email": "target@example.com"}),
        ).status_code
        == 201
    )
    assert count_rows(database_url, "request") == 12

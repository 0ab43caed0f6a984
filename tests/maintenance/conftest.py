"""Key rotation and blind-index moves: a database filled through the API with every kind of
sealed value (`filled`), apps on other key rings, and a scan of every text column."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, create_engine, func, select
from sqlmodel import AutoString, SQLModel

import app.models  # noqa: F401
from app.audit import service as audit
from app.main import create_app
from tests.support import (
    TEST_KEY,
    act,
    client_token,
    integration_file,
    latest_code,
    make_client,
    make_settings,
    request_body,
    staff_read,
    verified,
)

OLD_RING = f"t1:{TEST_KEY}"
NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()
NEW_RING = f"t2:{NEW_KEY},{OLD_RING}"  # the new key first, the old one kept to read
ONLY_NEW = f"t2:{NEW_KEY}"

PDF = b"%PDF-1.7\n" + b"MARKER-PDF-CONTENT " * 20 + b"\n%%EOF\n"
DELEGATE = {
    "kind": "delegate",
    "name": "이대리",
    "email": "proxy@example.com",
    "phone": "010-2222-3333",
    "relationship": "대리인",
}
POA = {
    "grantor": {
        "name": "홍길동",
        "birth_date": "1980-03-01",
        "contact": "010-1234-5678",
        "address": "서울",
    },
    "grantee": {
        "name": "이대리",
        "birth_date": "1985-07-15",
        "contact": "proxy@example.com",
        "address": "서울",
        "relationship": "대리인",
    },
    "rights": ["access"],
    "signed_on": "2026-11-28",
}


@pytest.fixture
def settings(database_url, tmp_path):
    # Webhook receivers on 127.0.0.1 (an unreachable one keeps its deliveries pending).
    return make_settings(database_url, tmp_path, webhook_allow_private=True)


def settings_with(database_url, tmp_path, **overrides):
    values = {"webhook_allow_private": True, **overrides}
    return make_settings(database_url, tmp_path, **values)


@dataclass
class Filled:
    """Ids and plain texts of what `fill` wrote, to read back after a rotation."""

    requests: dict[str, str] = field(default_factory=dict)  # role -> request id
    subject_tokens: dict[str, dict] = field(default_factory=dict)
    document: str = ""
    integration: dict = field(default_factory=dict)  # credentials, key, body
    webhook: str = ""


def fill(app, client: TestClient, staff: dict, outbox_dir, database_url, tmp_path) -> Filled:
    """Every kind of sealed value, through the API."""
    out = Filled()
    cpo, handler = staff["cpo"]["headers"], staff["handler"]["headers"]

    # A delegate's request: requester name/e-mail/phone/relationship, power of attorney,
    # the subject's birth date, details; and a proxy document (file name and key).
    body = request_body(
        requester=DELEGATE,
        power_of_attorney=POA,
        details="위임장을 첨부합니다",
    )
    body["subject"]["birth_date"] = "1980-03-01"
    proxied, token = verified_body(client, outbox_dir, body)
    out.requests["proxied"], out.subject_tokens["proxied"] = proxied["id"], token
    uploaded = client.post(
        f"/v1/requests/{proxied['id']}/documents",
        headers=token,
        data={"kind": "power_of_attorney"},
        files={"file": ("위임장.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    out.document = uploaded.json()["id"]

    # An access request carried out: a decision's explanation, tasks' notes, data and a
    # waived reason, staff notes, the access result.
    created, token = verified(client, outbox_dir, scope={"categories": ["payment", "newsletter"]})
    rid = created["id"]
    out.requests["access"], out.subject_tokens["access"] = rid, token
    act(client, cpo, rid, "assign", {"assignee": "handler@example.com"})
    act(
        client,
        handler,
        rid,
        "decision",
        {"outcome": "granted", "explanation": "열람을 허용합니다."},
    )
    collect = [t for t in staff_read(client, cpo, rid)["tasks"] if t["kind"] == "collect"]
    first, *rest = collect
    done = client.post(
        f"/v1/staff/tasks/{first['id']}/complete",
        headers=handler,
        json={"outcome": "failed", "note": "응답 없음"},
    )
    assert done.status_code == 200, done.text
    waived = client.post(
        f"/v1/staff/tasks/{first['id']}/waive", headers=cpo, json={"reason": "이용 기록 없음"}
    )
    assert waived.status_code == 200, waived.text
    for task in rest:
        done = client.post(
            f"/v1/staff/tasks/{task['id']}/complete",
            headers=handler,
            json={"outcome": "done", "data": {"name": "홍길동"}, "note": "수집 완료"},
        )
        assert done.status_code == 200, done.text
    act(client, handler, rid, "complete", {"note": "전화로 완료 안내"})

    # A correction, extended, then objected to (corrections, the extension's and the
    # objection's reasons).
    created, token = verified(
        client,
        outbox_dir,
        type="correction",
        scope={"categories": ["account"], "corrections": [{"item": "phone", "requested": "1"}]},
    )
    rid = created["id"]
    out.requests["correction"], out.subject_tokens["correction"] = rid, token
    act(client, cpo, rid, "assign", {"assignee": "handler@example.com"})
    act(
        client,
        handler,
        rid,
        "extend",
        {"reason": "확인 중입니다", "due_at": "2026-12-24T12:00:00+09:00"},
    )
    objected = client.post(
        f"/v1/requests/{rid}/objections", headers=token, json={"reason": "연기 사유가 부족합니다"}
    )
    assert objected.status_code == 201, objected.text

    # A deletion with a hold (its note); a staff-entered request verified with a note.
    created, _ = verified(client, outbox_dir, type="deletion", scope={"categories": ["newsletter"]})
    out.requests["deletion"] = created["id"]
    act(client, cpo, created["id"], "assign", {"assignee": "handler@example.com"})
    act(
        client,
        cpo,
        created["id"],
        "holds",
        {"category": "newsletter", "kind": "investigation", "note": "수사 협조 요청"},
        expect=201,
    )
    letter = client.post(
        "/v1/staff/requests",
        headers=cpo,
        json={
            "type": "deletion",
            "subject": {"name": "윤서연", "email": "yoon@example.com"},
            "channel": "letter",
            "received_at": "2026-11-30T09:00:00+09:00",
            "scope": {"categories": ["newsletter"]},
        },
    )
    assert letter.status_code == 201, letter.text
    out.requests["letter"] = letter.json()["id"]
    act(
        client,
        cpo,
        out.requests["letter"],
        "verify",
        {"outcome": "verified", "method": "id_card_in_person", "note": "신분증 확인"},
    )

    # The access record's review note, of November: the record must have begun by then (a
    # month before it began cannot be reviewed), so an entry of 1 October comes first.
    with app.state.ctx.db.transaction() as session:
        audit.append(
            session,
            at=datetime(2026, 10, 1, 1, 0, tzinfo=UTC),
            actor="system",
            action="login",
            detail={"what": "an entry from before the tests' first day"},
        )
    review = client.post(
        "/v1/staff/audit/reviews",
        headers=staff["auditor"]["headers"],
        json={"month": "2026-11", "note": "이상 없음"},
    )
    assert review.status_code == 201, review.text

    # An integration's filing (external reference, the Idempotency-Key's stored response),
    # and a webhook endpoint with a rotated secret (both secrets); its deliveries to a port
    # nobody listens on stay pending in the outbox with their payloads.
    creds = make_client(client, cpo, ["requests:write", "requests:read"])
    headers = client_token(client, creds)
    filed = integration_file(client, headers, "key-1", external_ref="ZD-1042")
    out.requests["integration"] = filed["id"]
    out.integration = {"creds": creds, "key": "key-1", "body": filed}
    hook = client.post(
        "/v1/staff/webhooks",
        headers=cpo,
        json={"url": "http://127.0.0.1:9/hook", "events": ["request.created", "task.created"]},
    )
    assert hook.status_code == 201, hook.text
    out.webhook = hook.json()["id"]
    rotated = client.post(f"/v1/staff/webhooks/{out.webhook}/rotate-secret", headers=cpo)
    assert rotated.status_code == 200, rotated.text
    integration_file(
        client, headers, "key-2", subject={"name": "박하나", "email": "park@example.com"}
    )

    # A notice not yet delivered (an app that does not deliver): its payload waits sealed.
    quiet = create_app(settings_with(database_url, tmp_path, delivery="off"), app.state.ctx.clock)
    with TestClient(quiet, raise_server_exceptions=False) as c:
        body = request_body(subject={"name": "최대기", "email": "waiting@example.com"})
        filed = c.post("/v1/requests", json=body)
        assert filed.status_code == 201, filed.text
        out.requests["undelivered"] = filed.json()["id"]
    return out


def verified_body(client, outbox_dir, body: dict) -> tuple[dict, dict]:
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    code = latest_code(outbox_dir, created["id"])
    response = client.post(f"/v1/requests/{created['id']}/verification", json={"code": code})
    assert response.status_code == 200, response.text
    return created, {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def filled(app, client, staff, outbox_dir, database_url, tmp_path) -> Filled:
    return fill(app, client, staff, outbox_dir, database_url, tmp_path)


def values_with_prefix(database_url: str, prefix: str) -> dict[str, int]:
    """In every text column of every table (not only the registry's): how many values start
    with `prefix`, by `table.column`."""
    found: dict[str, int] = {}
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                for col in table.columns:
                    if not isinstance(col.type, (String, Text, AutoString)):
                        continue
                    n = conn.execute(
                        select(func.count())
                        .select_from(table)
                        .where(func.substr(col, 1, len(prefix)) == prefix)
                    ).scalar_one()
                    if n:
                        found[f"{table.name}.{col.name}"] = n
    finally:
        engine.dispose()
    return found

"""Housekeeping jobs that several `rightsdesk worker` processes run side by side: each row is
handled by one of them, once (claimed with SKIP LOCKED), however they overlap."""

from __future__ import annotations

from app.verification.documents import destroy_expired
from app.workflow.service import reject_unverified
from tests.support import count_rows, file_request, latest_code, relogin, request_body
from tests.verification.test_documents import DELEGATE, PDF, POA, _upload


def _audit_actions(client, staff, action: str) -> int:
    entries = client.get(
        "/v1/staff/audit", headers=staff["auditor"]["headers"], params={"action": action}
    ).json()["items"]
    return len(entries)


def test_parallel_document_destruction(client, outbox_dir, staff, clock, race, database_url):
    ctx = client.app.state.ctx
    for _ in range(6):
        created = client.post(
            "/v1/requests", json=request_body(requester=DELEGATE, power_of_attorney=POA)
        ).json()
        code = latest_code(outbox_dir, created["id"])
        token = client.post(
            f"/v1/requests/{created['id']}/verification", json={"code": code}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            assert _upload(client, created["id"], headers, PDF).status_code == 201
        client.post(f"/v1/requests/{created['id']}/withdraw", headers=headers)
    clock.advance(days=ctx.settings.document_retention_days + 1)

    destroyed = race(4, lambda _: destroy_expired(ctx.db, ctx))
    assert sum(destroyed) == 18, destroyed
    relogin(client, staff)
    assert _audit_actions(client, staff, "destroy") == 18
    assert count_rows(database_url, "document") == 18


def test_parallel_unverified_expiry(client, staff, clock, race):
    ctx = client.app.state.ctx
    for i in range(12):
        file_request(client, subject={"name": "정하나", "email": f"jung{i}@example.com"})
    clock.advance(days=ctx.settings.unverified_expiry_days + 1)
    closed = race(4, lambda _: reject_unverified(ctx.db, ctx))
    assert sum(closed) == 12, closed

"""Only public filings (portal, api) expire when their code is never entered; a letter, call
or visit entered by staff waits for a person (Decree 41②: the request was received)."""

from __future__ import annotations

import pytest

from app.workflow.service import reject_unverified
from tests.support import file_request, relogin, staff_read

# Deadlines, windows and expiries count Seoul days: at every hour where UTC's date differs.
pytestmark = pytest.mark.seoul_hours


@pytest.mark.parametrize("channel", ["letter", "email", "phone", "fax", "in_person"])
def test_offline_requests_with_an_email_do_not_expire(client, staff, clock, channel):
    body = {
        "type": "deletion",
        "subject": {"name": "윤서연", "email": "yoon@example.com"},
        "channel": channel,
        "received_at": "2026-11-30T09:00:00+09:00",
    }
    response = client.post("/v1/staff/requests", json=body, headers=staff["cpo"]["headers"])
    assert response.status_code == 201, response.text
    offline = response.json()
    assert offline["verification"]  # the subject may still prove the e-mail by code
    portal = file_request(client)
    ctx = client.app.state.ctx
    clock.advance(days=ctx.settings.unverified_expiry_days + 1)
    assert reject_unverified(ctx.db, ctx) == 1  # the portal filing only
    relogin(client, staff)
    headers = staff["cpo"]["headers"]
    assert staff_read(client, headers, offline["id"])["status"] == "pending_verification"
    assert staff_read(client, headers, portal["id"])["status"] == "rejected"

"""Concurrent filings through the group writer when the work after their commit fails."""

from __future__ import annotations

import logging

from tests.support import count_rows, request_body

FILINGS = 8


def test_filings_are_answered_and_filed_once_when_delivery_fails(
    app, client, database_url, race, caplog
):
    """In `sync` delivery the after-commit callback sends the notices; it failing must neither
    rerun the committed filings (filing them twice) nor turn their 201 into a 500."""
    email = "hong.gildong@example.com"

    def deliver() -> None:
        raise ConnectionError(f"relay refused {email}")

    app.state.ctx.outbox_kick = deliver
    caplog.set_level(logging.INFO)

    def file(i: int) -> int:
        body = request_body(subject={"name": "홍길동", "email": f"g{i}@example.com"})
        return client.post("/v1/requests", json=body).status_code

    assert race(FILINGS, file) == [201] * FILINGS
    assert count_rows(database_url, "request") == FILINGS
    assert count_rows(database_url, "audit_entry") == FILINGS
    # Receipt and code for each, left pending for the worker to send.
    assert count_rows(database_url, "outbox_message") == 2 * FILINGS
    assert "ConnectionError" in caplog.text and email not in caplog.text
    # The writer is still there for the next filing.
    assert client.post("/v1/requests", json=request_body()).status_code == 201
    assert client.get("/readyz").status_code == 200

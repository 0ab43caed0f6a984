"""The clock's steps (expiry of unverified filings, deadline reminders) stay cheap as the data
grows and still happen on time under the in-process delivery (bench/README.md, "Soak").

The in-process pump wakes after every commit; the clock's steps run at most every
`outbox_poll_seconds` (the `rightsdesk worker`'s pace), and their queries are index seeks, not
walks of every request ever filed (which took the write lock a filing needs, on every wake).
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import event, inspect

from app.core.db import refresh_statistics
from app.main import create_app
from app.workflow.reminders import send_reminders
from app.workflow.service import reject_unverified
from tests.support import file_request, login, make_settings, make_staff, read_outbox, wait_for


def _plans(ctx, step) -> list[str]:
    """The plan of every query `step` runs against the request table."""
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM request" in statement:
            captured.append((statement, parameters))

    event.listen(ctx.db.engine, "before_cursor_execute", capture)
    try:
        step()
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", capture)
    assert captured, "the step ran no query on the request table"
    plans = []
    with ctx.db.engine.connect() as conn:
        for sql, params in captured:
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
                plans.append(" | ".join(str(r[-1]) for r in rows))
            else:
                with conn.begin():
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny tables
                    rows = conn.exec_driver_sql(f"EXPLAIN {sql}", params).all()
                plans.append(" | ".join(r[0] for r in rows))
    return plans


def _no_walk(plan: str) -> None:
    # SQLite: "SCAN request" (the table or its primary key, in full); PostgreSQL: a Seq Scan,
    # or an index read in full for its order (no Index Cond on the request's index).
    assert "SCAN request" not in plan and "Seq Scan on request" not in plan, plan
    if "Index Scan" in plan and "on request" in plan:
        assert "Index Cond" in plan, plan


def test_reminder_rounds_seek_the_due_dates(app, client, staff):
    ctx = app.state.ctx
    for _ in range(3):
        file_request(client)
    refresh_statistics(ctx.db)
    plans = _plans(ctx, lambda: send_reminders(ctx.db, ctx))
    assert len(plans) >= 3  # overdue, due_in_3, due_in_1
    for plan in plans:
        _no_walk(plan)
        # A range of due dates: the open requests' index (what SQLite takes once closed ones
        # outnumber them) or, on a handful of open rows, the one of all requests.
        assert re.search(r"ix_request_(open_)?due_at_id", plan), plan


def test_expiry_rounds_seek_the_filing_date(app, client):
    ctx = app.state.ctx
    indexes = {ix["name"] for ix in inspect(ctx.db.engine).get_indexes("request")}
    # A missing index is a defect of the migrations, not a reason to skip.
    assert "ix_request_status_created_at" in indexes, sorted(indexes)
    for _ in range(3):
        file_request(client)
    refresh_statistics(ctx.db)
    for plan in _plans(ctx, lambda: reject_unverified(ctx.db, ctx)):
        _no_walk(plan)
        assert "ix_request_status_created_at" in plan, plan


def test_in_process_delivery_still_expires_and_reminds(app, database_url, tmp_path, clock):
    # (`app`: the suite's app, whose teardown empties the database afterwards)
    settings = make_settings(
        database_url, tmp_path / "bg", delivery="background", outbox_poll_seconds=0.3
    )
    other = create_app(settings, clock)
    outbox = settings.notify_dir
    with TestClient(other, raise_server_exceptions=False) as c:
        make_staff(other, "cpo@example.com", "cpo")
        headers = login(c, "cpo@example.com")
        portal = file_request(c)  # its code is never entered
        letter = c.post(
            "/v1/staff/requests",
            json={
                "type": "deletion",
                "subject": {"name": "윤서연", "email": "yoon@example.com"},
                "channel": "letter",
                "received_at": "2026-11-30T09:00:00+09:00",
            },
            headers=headers,
        )
        assert letter.status_code == 201, letter.text
        letter_id = letter.json()["id"]
        # The filing's own notice goes out at once (delivery is not throttled).
        assert wait_for(lambda: any(m["request_id"] == portal["id"] for m in read_outbox(outbox)))

        # Past the expiry, and one day before the letter's deadline: no request comes in to
        # wake the pump; its own poll runs the clock's steps within a few intervals.
        clock.advance(days=settings.unverified_expiry_days + 1)
        headers = login(c, "cpo@example.com")

        def status(request_id):
            return c.get(f"/v1/staff/requests/{request_id}", headers=headers).json()["status"]

        assert wait_for(lambda: status(portal["id"]) == "rejected")
        reminders = wait_for(
            lambda: [
                m
                for m in read_outbox(outbox)
                if m["template"] == "deadline_reminder" and m["request_id"] == letter_id
            ]
        )
        assert reminders, "no reminder from the in-process delivery"
        assert len(reminders) == 1
        assert status(letter_id) == "pending_verification"  # staff-entered: waits for a person

"""Several workers send deadline reminders at the same moment: each reminder goes out once
(one `reminder` row, one e-mail per recipient), whoever wins; and several processes starting
at once recompute each deadline once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine, text

from app.workflow.deadline_sync import recompute_deadlines
from app.workflow.reminders import send_reminders
from tests.support import act, count_rows, latest_code, relogin, request_body, staff_read

N_REQUESTS = 12


def _open_requests(client, outbox_dir, staff) -> list[str]:
    ids = []
    for i in range(N_REQUESTS):
        body = request_body(subject={"name": "정하나", "email": f"jung{i}@example.com"})
        created = client.post("/v1/requests", json=body).json()
        code = latest_code(outbox_dir, created["id"])
        assert (
            client.post(
                f"/v1/requests/{created['id']}/verification", json={"code": code}
            ).status_code
            == 200
        )
        if i % 2:  # half assigned to a handler, half left to the CPOs
            act(
                client,
                staff["cpo"]["headers"],
                created["id"],
                "assign",
                {"assignee": "handler@example.com"},
            )
        ids.append(created["id"])
    return ids


def _reminder_mail(outbox_dir) -> list[dict]:
    import json

    return [
        m
        for m in (json.loads(p.read_text()) for p in sorted(outbox_dir.glob("*.json")))
        if m["template"] == "deadline_reminder"
    ]


def test_parallel_workers_send_each_reminder_once(
    client, outbox_dir, staff, clock, race, database_url
):
    ids = _open_requests(client, outbox_dir, staff)
    ctx = client.app.state.ctx
    # Mon 7 Dec 15:00 UTC = Tue 8 Dec 00:00 in Seoul: 3 days before Fri 11 Dec.
    clock.advance(days=6, hours=14)
    sent = race(6, lambda _: send_reminders(ctx.db, ctx, limit=3))
    assert sum(sent) == N_REQUESTS, sent
    assert count_rows(database_url, "reminder") == N_REQUESTS
    mail = _reminder_mail(outbox_dir)
    # One e-mail per request: the handler for the assigned half, the one CPO for the rest.
    assert sorted(m["request_id"] for m in mail) == sorted(ids)
    assert sum(m["to"] == "handler@example.com" for m in mail) == N_REQUESTS // 2

    clock.advance(days=5)  # Sun 13 Dec: overdue
    sent = race(6, lambda _: send_reminders(ctx.db, ctx, limit=3))
    assert sum(sent) == N_REQUESTS, sent
    assert count_rows(database_url, "reminder") == 2 * N_REQUESTS
    assert len(_reminder_mail(outbox_dir)) == 2 * N_REQUESTS

    # And again later: nothing more.
    assert sum(race(4, lambda _: send_reminders(ctx.db, ctx))) == 0


def test_parallel_starts_recompute_each_deadline_once(
    client, outbox_dir, staff, clock, race, database_url
):
    ids = _open_requests(client, outbox_dir, staff)
    ctx = client.app.state.ctx
    moved = race(4, lambda _: recompute_deadlines(ctx.db, ctx, extra=[date(2026, 12, 11)], batch=5))
    assert sum(moved) == N_REQUESTS, moved
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            events = conn.execute(
                text("SELECT count(*) FROM timeline_event WHERE kind = 'deadline.recomputed'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert events == N_REQUESTS
    relogin(client, staff)
    for rid in ids:
        assert staff_read(client, staff["cpo"]["headers"], rid)["due_at"] == "2026-12-14T14:59:59Z"
    # The access record's chain survived the parallel appends.
    check = client.get("/v1/staff/audit/verify", headers=staff["auditor"]["headers"]).json()
    assert check["ok"] is True

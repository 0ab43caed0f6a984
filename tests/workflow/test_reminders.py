"""Deadline reminders to staff (the worker's `remind` step): 3 and 1 Korea-time calendar days
before the due date and once overdue, each once per deadline, to the assignee or the CPOs.

The clock starts Tue 1 Dec 2026, 10:00 in Seoul; a request filed then is due Fri 11 Dec.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.main import create_app
from app.workflow.reminders import send_reminders
from tests.support import (
    act,
    count_rows,
    file_request,
    make_settings,
    make_staff,
    read_outbox,
    relogin,
    verified,
)

# Deadlines, windows and expiries count Seoul days: at every hour where UTC's date differs.
pytestmark = pytest.mark.seoul_hours


def _reminders(outbox_dir, request_id=None):
    return [
        m
        for m in read_outbox(outbox_dir)
        if m["template"] == "deadline_reminder"
        and (request_id is None or m["request_id"] == request_id)
    ]


def _remind(client) -> int:
    ctx = client.app.state.ctx
    return send_reminders(ctx.db, ctx)


def _at(clock, day: int, hour_kst: int = 10):
    """Move the frozen clock to `day` December 2026, `hour_kst`:00 in Seoul."""
    from datetime import UTC, datetime, timedelta

    target = datetime(2026, 12, day, hour_kst, tzinfo=UTC) - timedelta(hours=9)
    clock.advance(seconds=(target - clock.now()).total_seconds())


def test_assignee_is_reminded_3_and_1_days_before_and_once_overdue(
    client, outbox_dir, staff, clock
):
    created, _ = verified(client, outbox_dir)
    rid, ref = created["id"], created["reference"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    assert _remind(client) == 0  # 10 days left

    _at(clock, 7, 23)  # 23:00 on Mon 7 Dec: still 4 days
    assert _remind(client) == 0
    _at(clock, 8, 0)  # midnight in Seoul: 3 days
    assert _remind(client) == 1
    assert _remind(client) == 0  # once
    [three] = _reminders(outbox_dir, rid)
    assert three["to"] == "handler@example.com"
    assert three["locale"] == "ko"
    assert (
        ref in three["subject"] and "3일" in three["subject"] and "3 days left" in three["subject"]
    )
    assert three["subject"].index("처리 기한") < three["subject"].index("Deadline reminder")
    body = three["text"]
    assert "2026년 12월 11일(금) 23:59" in body and "Friday 11 December 2026, 23:59" in body
    assert "남은 일수: 3일" in body and "Days left: 3" in body
    assert "개인정보 열람" in body and "시행령 제41조제4항" in body
    assert body.index("담당자님께") < body.index("Dear colleague")  # Korean first
    # No personal data of the subject in a staff e-mail.
    for pii in ("홍길동", "hong.gildong", "010-1234-5678"):
        assert pii not in body and pii not in three["subject"]

    _at(clock, 9)  # 2 days: the 3-day one is sent, the 1-day one not yet
    assert _remind(client) == 0
    _at(clock, 10)
    assert _remind(client) == 1
    _at(clock, 11, 23)  # the due day itself: the 1-day reminder has gone
    assert _remind(client) == 0
    _at(clock, 12, 0)  # past 23:59:59 on the 11th: overdue
    assert _remind(client) == 1
    _at(clock, 20)
    assert _remind(client) == 0
    kinds = [m["subject"] for m in _reminders(outbox_dir, rid)]
    assert len(kinds) == 3
    overdue = _reminders(outbox_dir, rid)[-1]
    assert "기한 경과" in overdue["subject"] and "Overdue" in overdue["subject"]
    assert "기한 경과: 1일" in overdue["text"]
    assert count_rows(client.app.state.ctx.settings.database_url, "reminder") == 3


def test_unassigned_requests_go_to_every_active_cpo(client, outbox_dir, staff, clock, database_url):
    created, _ = verified(client, outbox_dir)
    make_staff(client.app, "cpo2@example.com", "cpo")
    make_staff(client.app, "cpo3@example.com", "cpo")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE staff_user SET active = false WHERE email = 'cpo3@example.com'"))
    engine.dispose()
    _at(clock, 8)
    assert _remind(client) == 1
    sent = _reminders(outbox_dir, created["id"])
    assert sorted(m["to"] for m in sent) == ["cpo2@example.com", "cpo@example.com"]
    assert all("담당자가 지정되어 있지 않아" in m["text"] for m in sent)
    assert all("Please assign a handler" in m["text"] for m in sent)


def test_a_deactivated_assignee_is_replaced_by_the_cpos(
    client, outbox_dir, staff, clock, database_url
):
    created, _ = verified(client, outbox_dir)
    act(
        client,
        staff["cpo"]["headers"],
        created["id"],
        "assign",
        {"assignee": "handler@example.com"},
    )
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE staff_user SET active = false WHERE email = 'handler@example.com'")
        )
    engine.dispose()
    _at(clock, 10)
    assert _remind(client) == 1
    assert [m["to"] for m in _reminders(outbox_dir, created["id"])] == ["cpo@example.com"]


def test_a_late_start_sends_only_the_reminder_that_fits(client, outbox_dir, staff, clock):
    created, _ = verified(client, outbox_dir)
    _at(clock, 11)  # the due day: only the 1-day reminder, never a stale 3-day one
    assert _remind(client) == 1
    [only] = _reminders(outbox_dir, created["id"])
    assert "오늘이 처리 기한" in only["subject"] and "due today" in only["subject"]
    _at(clock, 11, 23)
    assert _remind(client) == 0


def test_an_extension_starts_the_reminders_again(client, outbox_dir, staff, clock):
    created, _ = verified(client, outbox_dir)
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    _at(clock, 8)
    assert _remind(client) == 1
    relogin(client, staff)
    act(
        client,
        staff["cpo"]["headers"],
        rid,
        "extend",
        {"reason": "자료 취합", "due_at": "2026-12-24T12:00:00+09:00"},
    )
    assert _remind(client) == 0  # 16 days left on the new date
    _at(clock, 21)  # Mon 21 Dec: 3 days before Thu 24 Dec
    assert _remind(client) == 1
    last = _reminders(outbox_dir, rid)[-1]
    assert "2026년 12월 24일(목)" in last["text"]


def test_requests_waiting_for_the_subjects_code_are_not_reminded(client, outbox_dir, staff, clock):
    file_request(client)  # the subject never enters the code; it expires on its own
    offline = client.post(
        "/v1/staff/requests",
        json={
            "type": "deletion",
            "subject": {"name": "윤서연", "email": "yoon@example.com"},
            "channel": "letter",
            "received_at": "2026-11-30T09:00:00+09:00",
        },
        headers=staff["cpo"]["headers"],
    )
    assert offline.status_code == 201, offline.text
    _at(clock, 8)
    assert _remind(client) == 1  # the letter only: it waits for a person
    assert [m["request_id"] for m in _reminders(outbox_dir)] == [offline.json()["id"]]


def test_closed_requests_are_not_reminded(client, outbox_dir, staff, clock):
    created, subject = verified(client, outbox_dir)
    assert client.post(f"/v1/requests/{created['id']}/withdraw", headers=subject).status_code == 200
    _at(clock, 12)
    assert _remind(client) == 0


@pytest.mark.parametrize(("days", "sent_on"), [("5", [6]), ("7,2", [4, 9])])
def test_reminder_days_are_a_setting(app, database_url, tmp_path, clock, days, sent_on):
    # (`app`: the suite's app, whose teardown empties the database afterwards)
    settings = make_settings(database_url, tmp_path, reminder_days_before=days)
    other = create_app(settings, clock)
    with TestClient(other) as c:
        make_staff(other, "cpo@example.com", "cpo")
        created, _ = verified(c, tmp_path / "outbox")
        sent = []
        for day in range(2, 12):
            _at(clock, day)
            if send_reminders(other.state.ctx.db, other.state.ctx):
                sent.append(day)
        assert sent == sent_on
        assert len(_reminders(tmp_path / "outbox", created["id"])) == len(sent_on)

"""RIGHTSDESK_EXTRA_HOLIDAYS changes: open deadlines are recomputed when the app (or a worker)
starts, only ever later, once, with the reason in the timeline and the access record.

The clock is Tue 1 Dec 2026, 10:00 in Seoul: a request filed now is due Fri 11 Dec (end of day
in Korea, 14:59:59Z). With 11 Dec declared a temporary holiday it is due Mon 14 Dec.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app.law import deadlines
from app.main import create_app
from app.workflow.deadline_sync import recompute_deadlines
from tests.support import (
    act,
    file_request,
    fresh_subject_token,
    make_settings,
    relogin,
    staff_read,
    verified,
)

# Deadlines, windows and expiries count Seoul days: at every hour where UTC's date differs.
pytestmark = pytest.mark.seoul_hours

DUE_11 = "2026-12-11T14:59:59Z"
DUE_14 = "2026-12-14T14:59:59Z"
DUE_15 = "2026-12-15T14:59:59Z"


@pytest.fixture(autouse=True)
def _calendar_reset():
    yield
    deadlines.configure(())  # the next app configures its own; law tests expect none


def _restart(database_url, tmp_path, clock, holidays: str) -> None:
    """Start (and stop) an app process with RIGHTSDESK_EXTRA_HOLIDAYS=`holidays`."""
    settings = make_settings(database_url, tmp_path, extra_holidays=holidays)
    with TestClient(create_app(settings, clock)) as c:
        assert c.get("/healthz").status_code == 200


def _events(database_url, request_id, kind="deadline.recomputed"):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT actor, note, to_status FROM timeline_event "
                    "WHERE request_id = :r AND kind = :k ORDER BY at"
                ),
                {"r": request_id, "k": kind},
            ).all()
    finally:
        engine.dispose()


def _audit(client, staff, request_id):
    items = client.get(
        "/v1/staff/audit", headers=staff["auditor"]["headers"], params={"request_id": request_id}
    ).json()["items"]
    return [e["detail"] for e in items if e["detail"].get("event") == "deadline.recomputed"]


def test_a_temporary_holiday_moves_open_deadlines_once(
    client, outbox_dir, staff, clock, database_url, tmp_path
):
    created, subject = verified(client, outbox_dir)
    rid = created["id"]
    cpo = staff["cpo"]["headers"]
    before = staff_read(client, cpo, rid)
    assert before["due_at"] == before["statutory_due_at"] == DUE_11
    act(client, cpo, rid, "assign", {"assignee": "handler@example.com"})
    version = staff_read(client, cpo, rid)["version"]

    _restart(database_url, tmp_path, clock, "2026-12-11")

    relogin(client, staff)
    view = staff_read(client, staff["cpo"]["headers"], rid)
    assert view["statutory_due_at"] == DUE_14
    assert view["due_at"] == DUE_14
    assert view["version"] == version + 1
    assert {t["due_at"] for t in view["tasks"] if t["status"] == "open"} == {DUE_14}
    assert [e["kind"] for e in view["timeline"]].count("deadline.recomputed") == 1
    # The subject sees the new date.
    mine = client.get(f"/v1/requests/{rid}", headers=subject).json()
    assert mine["due_at"] == DUE_14
    [(actor, note, status)] = _events(database_url, rid)
    assert actor == "system" and status == "in_progress"
    assert "임시공휴일(2026-12-11)" in note and "2026-12-14" in note
    assert note.index("임시공휴일") < note.index("temporary public holiday")  # Korean first
    [detail] = _audit(client, staff, rid)
    assert detail["extra_holidays"] == ["2026-12-11"]
    assert detail["previous_due_at"].startswith("2026-12-11T14:59:59")
    assert detail["due_at"].startswith("2026-12-14T14:59:59")

    # Idempotent: starting again (API or worker) changes nothing more.
    _restart(database_url, tmp_path, clock, "2026-12-11")
    assert len(_events(database_url, rid)) == 1
    # Taking the holiday out of the setting gives back no day: a deadline only moves later.
    _restart(database_url, tmp_path, clock, "")
    relogin(client, staff)
    assert staff_read(client, staff["cpo"]["headers"], rid)["due_at"] == DUE_14
    # A second holiday moves it again, naming only the new one.
    _restart(database_url, tmp_path, clock, "2026-12-11,2026-12-14")
    relogin(client, staff)
    assert staff_read(client, staff["cpo"]["headers"], rid)["due_at"] == DUE_15
    assert _audit(client, staff, rid)[-1]["extra_holidays"] == ["2026-12-14"]
    assert len(_events(database_url, rid)) == 2


def test_requests_filed_after_the_start_use_the_new_calendar(database_url, tmp_path, clock):
    settings = make_settings(database_url, tmp_path, extra_holidays="2026-12-11")
    with TestClient(create_app(settings, clock)) as c:
        assert file_request(c)["due_at"] == DUE_14


def test_an_extension_beyond_the_new_date_is_kept(
    client, outbox_dir, staff, clock, database_url, tmp_path
):
    created, _ = verified(client, outbox_dir)
    later, _ = verified(client, outbox_dir, subject={"name": "김민지", "email": "kim@example.com"})
    cpo = staff["cpo"]["headers"]
    for rid in (created["id"], later["id"]):
        act(client, cpo, rid, "assign", {"assignee": "cpo@example.com"})
    # To Sat 12 Dec: inside the new holiday stretch, so the law's Mon 14 Dec is later.
    act(
        client,
        cpo,
        created["id"],
        "extend",
        {"reason": "자료 확인", "due_at": "2026-12-12T09:00:00+09:00"},
    )
    # To Thu 24 Dec: beyond it, kept.
    act(
        client,
        cpo,
        later["id"],
        "extend",
        {"reason": "자료 확인", "due_at": "2026-12-24T09:00:00+09:00"},
    )

    _restart(database_url, tmp_path, clock, "2026-12-11")

    relogin(client, staff)
    cpo = staff["cpo"]["headers"]
    short = staff_read(client, cpo, created["id"])
    assert (short["statutory_due_at"], short["due_at"]) == (DUE_14, DUE_14)
    long = staff_read(client, cpo, later["id"])
    assert (long["statutory_due_at"], long["due_at"]) == (DUE_14, "2026-12-24T14:59:59Z")
    [detail] = _audit(client, staff, later["id"])
    assert detail["due_at"] == detail["previous_due_at"]  # only the statutory date moved


def test_closed_requests_are_left_alone(client, outbox_dir, staff, clock, database_url, tmp_path):
    created, subject = verified(client, outbox_dir)
    assert client.post(f"/v1/requests/{created['id']}/withdraw", headers=subject).status_code == 200
    _restart(database_url, tmp_path, clock, "2026-12-11")
    relogin(client, staff)
    view = staff_read(client, staff["cpo"]["headers"], created["id"])
    assert view["due_at"] == view["statutory_due_at"] == DUE_11
    assert _events(database_url, created["id"]) == []


def test_bounded_batches_cover_every_open_request(client, outbox_dir, staff, clock):
    ids = [
        file_request(client, subject={"name": "이서준", "email": f"lee{i}@example.com"})["id"]
        for i in range(7)
    ]
    ctx = client.app.state.ctx
    assert recompute_deadlines(ctx.db, ctx, extra=[date(2026, 12, 11)], batch=3) == 7
    assert recompute_deadlines(ctx.db, ctx, extra=[date(2026, 12, 11)], batch=3) == 0
    for rid in ids:
        assert staff_read(client, staff["cpo"]["headers"], rid)["due_at"] == DUE_14


def test_the_new_period_after_an_objection_is_recounted_too(
    client, outbox_dir, staff, clock, database_url, tmp_path
):
    created, _ = verified(client, outbox_dir, type="suspension")
    rid = created["id"]
    act(client, staff["cpo"]["headers"], rid, "assign", {"assignee": "handler@example.com"})
    refusal = {"outcome": "refused", "grounds": ["PIPA-37-2-1"], "explanation": "법령에 따라 거절"}
    act(client, staff["handler"]["headers"], rid, "decision", refusal)
    clock.advance(days=3)  # Fri 4 Dec, 10:00: a new 10-day period ends Mon 14 Dec
    subject = fresh_subject_token(client, outbox_dir, rid)
    response = client.post(
        f"/v1/requests/{rid}/objections", headers=subject, json={"reason": "다시 검토해 주십시오"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["due_at"] == DUE_14

    _restart(database_url, tmp_path, clock, "2026-12-14")

    relogin(client, staff)
    view = staff_read(client, staff["cpo"]["headers"], rid)
    # The statutory date from receipt (Fri 11 Dec) is untouched; the review's period moves.
    assert (view["statutory_due_at"], view["due_at"]) == (DUE_11, DUE_15)
    [detail] = _audit(client, staff, rid)
    assert detail["extra_holidays"] == ["2026-12-14"]

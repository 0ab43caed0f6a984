"""Deadline reminders know the Act's newer rights (issue 18.7): each reminds staff 3 days before
its own deadline — a withdrawal's 10 days (Decree 44(2)), an automated decision's 30 (Decree
44-3), a transmission's from the profile (Art. 35-2) — naming the right and its article, in
Korean first with the English beside it.

Filed Tue 1 Dec 2026, 10:00 in Seoul (the suite's clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from app.profile.loader import DEFAULT_PROFILE
from app.workflow.reminders import send_reminders
from tests.support import make_settings, read_outbox, verified


@pytest.fixture
def settings(database_url, tmp_path):
    data = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    data["transmission"] = {"covered": True, "categories": ["account"], "formats": ["json"]}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return make_settings(database_url, tmp_path, profile_path=str(path))


CASES = {
    # type: (scope, the day 3 days before the deadline, Korean and English words required)
    "consent_withdrawal": (
        {"consents": ["marketing_email"]},
        8,
        ["개인정보 처리에 대한 동의 철회(개인정보 보호법 제37조제1항·제3항)", "시행령 제44조제2항"],
        ["withdrawal of consent (PIPA Art. 37(1), (3))", "Decree Art. 44(2)"],
    ),
    "automated_decision": (
        {"kind": "explain", "decision": "loan_scoring"},
        28,
        ["(개인정보 보호법 제37조의2)", "시행령 제44조의3"],
        ["(PIPA Art. 37-2)", "Decree Art. 44-3"],
    ),
    "transmission": (
        {},
        8,
        ["개인정보 전송(개인정보 보호법 제35조의2)", "제35조의2와 회사가 공개한 처리 기한"],
        ["(PIPA Art. 35-2)", "Under PIPA Art. 35-2 and the period we publish"],
    ),
}


@pytest.mark.parametrize("type_", sorted(CASES))
def test_reminded_3_days_before_their_own_deadline(client, outbox_dir, staff, clock, type_):
    scope, day, korean, english = CASES[type_]
    created, _ = verified(client, outbox_dir, type=type_, scope=scope)
    ctx = client.app.state.ctx
    at = datetime(2026, 12, day, tzinfo=UTC) - timedelta(hours=9)  # midnight in Seoul

    clock.advance(seconds=(at - timedelta(hours=1) - clock.now()).total_seconds())
    assert send_reminders(ctx.db, ctx) == 0  # 4 days left
    clock.advance(hours=1)
    assert send_reminders(ctx.db, ctx) == 1
    [reminder] = [
        m
        for m in read_outbox(outbox_dir)
        if m["template"] == "deadline_reminder" and m["request_id"] == created["id"]
    ]
    body = reminder["text"]
    assert "남은 일수: 3일" in body and "Days left: 3" in body
    for words in korean + english:
        assert words in body, words
    assert body.index(korean[0]) < body.index(english[0])  # Korean first
    assert "hong.gildong" not in body  # no personal data in a staff e-mail

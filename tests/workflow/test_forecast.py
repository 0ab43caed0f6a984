"""The forecast (issue 22, point 6): the coming 14 days' deadlines and how many would be
overdue at the last 7 days' rate of answering. The arithmetic on real dates (weekends,
Christmas, New Year, Seollal), then through the API and /metrics at each Seoul hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.workflow.metrics import forecast
from tests.support import act, file_request, relogin, verified

pytestmark = pytest.mark.seoul_hours


def _days(f) -> list[tuple[str, bool, int, int]]:
    return [(d.day.isoformat(), d.working_day, d.due, d.overdue_at_rate) for d in f.days]


class TestArithmetic:
    def test_christmas_and_a_weekend_add_no_capacity(self):
        # Monday 21 December 2026. The 7 days before: 14–20 December, 5 working days.
        today = date(2026, 12, 21)
        due = {
            date(2026, 12, 18): 1,  # overdue now: first in the order
            date(2026, 12, 21): 2,
            date(2026, 12, 24): 5,
            date(2026, 12, 28): 4,
        }
        f = forecast(today, due, closed_last_7_days=10)  # 2 per working day
        assert (f.closed_last_7_days, f.working_days_last_7_days) == (10, 5)
        assert f.rate_per_working_day == 2.0 and f.open_overdue_now == 1
        days = _days(f)
        assert len(days) == 14 and days[0][0] == "2026-12-21" and days[-1][0] == "2027-01-03"
        assert [d.days_ahead for d in f.days] == list(range(14))
        # Answered by the end of: Mon 21: 2 (the overdue one, one of the 21st's) → 1 late.
        assert days[0] == ("2026-12-21", True, 2, 1)
        # Thu 24: 4 working days → 8 answered; places 4–8 are the 24th's → none late.
        assert days[3] == ("2026-12-24", True, 5, 0)
        # Christmas (Fri), Sat, Sun: no capacity. Mon 28: 5 working days → 10 answered;
        # the 28th's are places 9–12 → 2 late. (Counting Christmas would have made it 0.)
        assert days[4] == ("2026-12-25", False, 0, 0)
        assert days[5][1] is False and days[6][1] is False
        assert days[7] == ("2026-12-28", True, 4, 2)
        # New Year's Day is no working day either.
        assert days[11] == ("2027-01-01", False, 0, 0)

    def test_the_rate_counts_only_the_working_days_of_the_window(self):
        # Monday 28 December: 21–27 December hold 4 working days (Christmas, the weekend).
        f = forecast(date(2026, 12, 28), {}, closed_last_7_days=8)
        assert f.working_days_last_7_days == 4 and f.rate_per_working_day == 2.0
        assert all(d.due == 0 and d.overdue_at_rate == 0 for d in f.days)

    def test_a_fractional_rate_is_floored_without_drift(self):
        # Tue 1 December 2026; 24–30 November: 5 working days; 7 answered → 1.4 a day.
        today = date(2026, 12, 1)
        f = forecast(today, {today + timedelta(days=i): 2 for i in range(3)}, 7)
        assert f.rate_per_working_day == 1.4
        # Answered by the end of day 0, 1, 2: 1, 2, 4 of places 1–2, 3–4, 5–6.
        assert [d.overdue_at_rate for d in f.days[:3]] == [1, 2, 2]

    def test_seollal_2027(self):
        # Friday 5 February 2027; Seollal runs Sat 6 – Tue 9 (with the substitute day).
        today = date(2027, 2, 5)
        f = forecast(today, {date(2027, 2, 10): 3}, closed_last_7_days=5)  # 29 Jan – 4 Feb: 5
        assert [d.working_day for d in f.days[:6]] == [True, False, False, False, False, True]
        # By Wed 10 February: 2 working days → 2 answered → 1 late.
        assert f.days[5].due == 3 and f.days[5].overdue_at_rate == 1

    def test_no_working_day_in_the_window_and_no_closings(self):
        today = date(2026, 12, 14)
        window = frozenset(today - timedelta(days=i) for i in range(1, 8))
        f = forecast(today, {today: 2}, closed_last_7_days=3, extra=window)
        assert f.working_days_last_7_days == 0 and f.rate_per_working_day == 0.0
        assert f.days[0].overdue_at_rate == 2
        idle = forecast(today, {today: 2, date(2026, 12, 1): 4}, closed_last_7_days=0)
        assert idle.open_overdue_now == 4 and idle.days[0].overdue_at_rate == 2


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_staff_metrics_and_prometheus_forecast(client, outbox_dir, staff, clock, clock_start):
    """At 00:30, 08:59, 10:00 and 23:59 in Seoul on Tuesday 1 December, today is 1 December
    (at 00:30 and 08:59 the UTC date is still 30 November)."""
    reject = {"outcome": "rejected", "method": "document_check"}
    # Friday 27 November: two answered (rejected), inside the window (24–30 November).
    clock.at = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    relogin(client, staff)
    for i in range(2):
        created = file_request(client, subject={"name": f"거절{i}", "email": f"r{i}@example.com"})
        act(client, staff["cpo"]["headers"], created["id"], "verify", reject)
    # Friday 20 November: answered too long ago to count.
    clock.at = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    relogin(client, staff)
    old = file_request(client, subject={"name": "예전", "email": "old@example.com"})
    act(client, staff["cpo"]["headers"], old["id"], "verify", reject)
    # Today: four open requests, due Friday 11 December; one answered today (not counted).
    clock.at = clock_start
    relogin(client, staff)
    for i in range(4):
        verified(client, outbox_dir, subject={"name": f"열림{i}", "email": f"o{i}@example.com"})
    today = file_request(client, subject={"name": "오늘", "email": "today@example.com"})
    act(client, staff["cpo"]["headers"], today["id"], "verify", reject)

    m = client.get("/v1/staff/metrics", headers=staff["auditor"]["headers"]).json()
    f = m["forecast"]
    assert f["closed_last_7_days"] == 2 and f["working_days_last_7_days"] == 5
    assert f["rate_per_working_day"] == 0.4 and f["open_overdue_now"] == 0
    assert [d["day"] for d in f["days"]] == [
        (date(2026, 12, 1) + timedelta(days=i)).isoformat() for i in range(14)
    ]
    assert [d["working_day"] for d in f["days"]][:7] == [True] * 4 + [False] * 2 + [True]
    # 1–11 December: 9 working days at 0.4 → 3 of the 4 answered by the 11th.
    eleventh = f["days"][10]
    assert eleventh == {
        "day": "2026-12-11",
        "days_ahead": 10,
        "working_day": True,
        "due": 4,
        "overdue_at_rate": 1,
    }
    assert sum(d["due"] for d in f["days"]) == 4
    # The same figures for Prometheus, by days ahead.
    samples = _samples(client.get("/metrics").text)
    assert samples[("rightsdesk_forecast_due", (("days_ahead", "10"),))] == 4
    assert samples[("rightsdesk_forecast_overdue", (("days_ahead", "10"),))] == 1
    assert samples[("rightsdesk_forecast_due", (("days_ahead", "0"),))] == 0
    assert len([k for k in samples if k[0] == "rightsdesk_forecast_due"]) == 14
    assert samples[("rightsdesk_closing_rate_per_working_day", ())] == 0.4

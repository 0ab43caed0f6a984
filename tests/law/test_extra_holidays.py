"""Temporary public holidays (임시공휴일, RIGHTSDESK_EXTRA_HOLIDAYS) in the deadline calendar.

Expected dates are worked out by hand from the December 2026 calendar (Tue 1 Dec; Fri 11 Dec;
Fri 25 Dec Christmas; Sat-Sun 26-27 Dec) and the Civil Act: the day of receipt is not
counted (Art. 157), a last day that is a Saturday or public holiday rolls to the next
working day (Art. 161), and holidays inside the period are counted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.core.config import Settings, parse_extra_holidays, parse_reminder_days
from app.law import deadlines
from app.law.deadlines import SEOUL, is_non_working_day, statutory_due_at, statutory_due_date


def kst(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SEOUL)


@pytest.fixture(autouse=True)
def _calendar_reset():
    deadlines.configure(())
    yield
    deadlines.configure(())


@pytest.mark.parametrize(
    ("received", "extra", "due"),
    [
        # Tue 1 Dec 10:00 → 10 days from Wed 2 Dec → Fri 11 Dec.
        (kst(2026, 12, 1, 10), [], date(2026, 12, 11)),
        # 11 Dec declared a holiday: Sat 12, Sun 13 → Mon 14 Dec.
        (kst(2026, 12, 1, 10), [date(2026, 12, 11)], date(2026, 12, 14)),
        # A holiday inside the period is counted (only the last day rolls).
        (kst(2026, 12, 1, 10), [date(2026, 12, 8)], date(2026, 12, 11)),
        # 11 and 14 Dec both declared: → Tue 15 Dec.
        (kst(2026, 12, 1, 10), [date(2026, 12, 11), date(2026, 12, 14)], date(2026, 12, 15)),
        # A holiday after the due date changes nothing.
        (kst(2026, 12, 1, 10), [date(2026, 12, 14)], date(2026, 12, 11)),
        # Tue 15 Dec → Fri 25 Dec (Christmas), Sat, Sun → Mon 28 Dec; declared → Tue 29 Dec.
        (kst(2026, 12, 15, 10), [], date(2026, 12, 28)),
        (kst(2026, 12, 15, 10), [date(2026, 12, 28)], date(2026, 12, 29)),
        # Art. 157 proviso: received at 00:00 on Tue 1 Dec counts that day → Thu 10 Dec;
        # 10 Dec declared → Fri 11 Dec.
        (kst(2026, 12, 1, 0), [], date(2026, 12, 10)),
        (kst(2026, 12, 1, 0), [date(2026, 12, 10)], date(2026, 12, 11)),
        # A holiday the package already knows (임시공휴일 of 27 Jan 2025) listed again is harmless:
        # Thu 16 Jan 2025 10:00 → Sun 26 Jan → Mon 27 (temporary holiday) → Tue 28 to Thu 30
        # (설날) → Fri 31 Jan 2025.
        (kst(2025, 1, 16, 10), [], date(2025, 1, 31)),
        (kst(2025, 1, 16, 10), [date(2025, 1, 27)], date(2025, 1, 31)),
    ],
)
def test_due_date_with_extra_holidays(received, extra, due):
    assert statutory_due_date(received, extra=extra) == due
    deadlines.configure(extra)  # the process-wide calendar gives the same answer
    assert statutory_due_date(received) == due
    assert statutory_due_at(received).astimezone(SEOUL).date() == due


def test_configured_calendar_is_used_by_default_and_explicit_extra_overrides_it():
    received = kst(2026, 12, 1, 10)
    deadlines.configure([date(2026, 12, 11)])
    assert deadlines.extra_holidays() == frozenset({date(2026, 12, 11)})
    assert is_non_working_day(date(2026, 12, 11))
    assert statutory_due_date(received) == date(2026, 12, 14)
    assert statutory_due_date(received, extra=()) == date(2026, 12, 11)
    deadlines.configure(())
    assert not is_non_working_day(date(2026, 12, 11))
    assert statutory_due_date(received) == date(2026, 12, 11)


@given(
    received=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30)),
    extra=st.sets(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 8, 31)), max_size=8),
)
def test_extra_holidays_only_move_a_deadline_later_and_onto_a_working_day(received, extra):
    at = received.replace(tzinfo=SEOUL)
    plain = statutory_due_date(at, extra=())
    moved = statutory_due_date(at, extra=extra)
    assert moved >= plain
    assert not is_non_working_day(moved, extra)
    # Every day skipped on the way is a non-working day under the extended calendar.
    d = plain
    while d < moved:
        assert is_non_working_day(d, extra)
        d += timedelta(days=1)


# --- the settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("", ()),
        ("2026-12-11", (date(2026, 12, 11),)),
        (" 2026-12-31 , 2026-12-11,2026-12-11, ", (date(2026, 12, 11), date(2026, 12, 31))),
    ],
)
def test_extra_holidays_setting_parses(text, dates):
    assert parse_extra_holidays(text) == dates
    assert Settings(extra_holidays=text).extra_holiday_dates == dates


@pytest.mark.parametrize(
    "text",
    ["2026-02-30", "2026-12-1", "11/12/2026", "2026-12-11;2026-12-14", "tomorrow", "20261211"],
)
def test_bad_extra_holidays_is_a_startup_error_naming_the_setting(text):
    with pytest.raises(ValidationError, match="RIGHTSDESK_EXTRA_HOLIDAYS"):
        Settings(extra_holidays=text)


def test_extra_holidays_from_the_environment(monkeypatch):
    monkeypatch.setenv("RIGHTSDESK_EXTRA_HOLIDAYS", "2026-12-11,2026-12-14")
    assert Settings().extra_holiday_dates == (date(2026, 12, 11), date(2026, 12, 14))
    monkeypatch.setenv("RIGHTSDESK_EXTRA_HOLIDAYS", "2026-12-32")
    with pytest.raises(ValidationError, match="RIGHTSDESK_EXTRA_HOLIDAYS"):
        Settings()


@pytest.mark.parametrize(("text", "days"), [("3,1", (3, 1)), ("1, 3, 7", (7, 3, 1)), ("", ())])
def test_reminder_days_setting_parses(text, days):
    assert parse_reminder_days(text) == days
    assert Settings(reminder_days_before=text).reminder_days == days


@pytest.mark.parametrize("text", ["0", "-1", "three", "100", "1.5"])
def test_bad_reminder_days_is_a_startup_error_naming_the_setting(text):
    with pytest.raises(ValidationError, match="RIGHTSDESK_REMINDER_DAYS_BEFORE"):
        Settings(reminder_days_before=text)

"""Tests for app.law.deadlines.

Expected dates were worked out by hand from the 2026-2027 calendar and the
holidays.KR data (checked with holidays 0.109), not by calling the code.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.law.deadlines import (
    SEOUL,
    STATUTORY_DAYS,
    days_left,
    end_of_day,
    is_non_working_day,
    is_overdue,
    seoul_date,
    statutory_due_at,
    statutory_due_date,
)


def kst(y, m, d, hh=0, mm=0, ss=0, us=0):
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=SEOUL)


def utc(y, m, d, hh=0, mm=0, ss=0):
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


# --------------------------------------------------------------------------
# Calendar facts
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 3, 3), False),  # Tue, ordinary working day
        (date(2026, 3, 7), True),  # Saturday
        (date(2026, 3, 8), True),  # Sunday
        (date(2026, 3, 2), True),  # Mon, substitute for 3·1절 (Sun 03-01)
        (date(2026, 6, 3), True),  # Wed, 2026 local election day
        (date(2026, 9, 24), True),  # Thu, day before Chuseok
        (date(2026, 10, 5), True),  # Mon, substitute for 개천절 (Sat 10-03)
        (date(2027, 2, 9), True),  # Tue, substitute for Seollal 2027
        (date(2027, 2, 10), False),  # Wed, first working day after Seollal 2027
        (date(2026, 12, 24), False),  # Thu, Christmas Eve is not a holiday
        # Public Holidays Act as amended 2026-02-10 (needs holidays >= 0.102):
        (date(2026, 5, 1), True),  # Fri, 노동절 (Labour Day) is a public holiday from 2026
        (date(2026, 7, 17), True),  # Fri, 제헌절 (Constitution Day) is one again from 2026
        (date(2025, 7, 17), False),  # Thu, it was not in 2025
    ],
)
def test_is_non_working_day(d, expected):
    assert is_non_working_day(d) is expected


def test_seoul_date_uses_seoul_not_utc():
    # 15:30 UTC on 03-05 is 00:30 KST on 03-06.
    assert seoul_date(utc(2026, 3, 5, 15, 30)) == date(2026, 3, 6)
    assert seoul_date(utc(2026, 3, 5, 14, 59, 59)) == date(2026, 3, 5)


# --------------------------------------------------------------------------
# Due-date table (10 days unless stated)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "days", "expected"),
    [
        # Ordinary: Tue 03-10 + 10 = Fri 03-20, a working day.
        (kst(2026, 3, 10, 14), 10, date(2026, 3, 20)),
        # Wed 01-14 + 10 = Sat 01-24 -> Sun 01-25 -> Mon 01-26.
        (kst(2026, 1, 14, 10), 10, date(2026, 1, 26)),
        # Chuseok 2026: Mon 09-14 + 10 = Thu 09-24 (eve of Chuseok);
        # Fri 09-25 Chuseok, Sat 09-26, Sun 09-27 -> Mon 09-28.
        (kst(2026, 9, 14, 9), 10, date(2026, 9, 28)),
        # Wed 09-23 + 10 = Sat 10-03 (개천절), Sun 10-04,
        # Mon 10-05 substitute for 개천절 -> Tue 10-06.
        (kst(2026, 9, 23, 16), 10, date(2026, 10, 6)),
        # Seollal 2027: Wed 01-27 + 10 = Sat 02-06 (eve of Seollal),
        # Sun 02-07 Seollal, Mon 02-08, Tue 02-09 substitute -> Wed 02-10.
        (kst(2027, 1, 27, 11), 10, date(2027, 2, 10)),
        # Fri 01-29 + 10 = Mon 02-08 (2nd day of Seollal), Tue 02-09 substitute
        # -> Wed 02-10.
        (kst(2027, 1, 29, 11), 10, date(2027, 2, 10)),
        # Substitute holiday: Fri 02-20 + 10 = Mon 03-02, substitute for
        # 3·1절 (Sun 03-01) -> Tue 03-03.
        (kst(2026, 2, 20, 15), 10, date(2026, 3, 3)),
        # Substitute holiday: Fri 08-07 + 10 = Mon 08-17, substitute for
        # 광복절 (Sat 08-15) -> Tue 08-18.
        (kst(2026, 8, 7, 15), 10, date(2026, 8, 18)),
        # 노동절: Tue 04-21 + 10 = Fri 05-01, a public holiday from 2026; Sat, Sun -> Mon 05-04.
        (kst(2026, 4, 21, 10), 10, date(2026, 5, 4)),
        # 제헌절: Tue 07-07 + 10 = Fri 07-17, a public holiday again from 2026 -> Mon 07-20.
        (kst(2026, 7, 7, 10), 10, date(2026, 7, 20)),
        # Local election: received Sun 05-24 (Buddha's Birthday; a holiday on
        # the *first* day does not matter) + 10 = Wed 06-03 election day
        # -> Thu 06-04.
        (kst(2026, 5, 24, 11), 10, date(2026, 6, 4)),
        # 00:30 KST Tue 03-10 is still Mon 03-09 in UTC. Seoul date: 03-10 + 10
        # = Fri 03-20. (Using the UTC date would wrongly give Thu 03-19.)
        (utc(2026, 3, 9, 15, 30), 10, date(2026, 3, 20)),
        # Same for the brief's example: 2026-03-05T15:30Z = Fri 03-06 00:30 KST;
        # 03-06 + 10 = Mon 03-16.
        (utc(2026, 3, 5, 15, 30), 10, date(2026, 3, 16)),
        # Art. 157 proviso: exactly 00:00:00 KST Tue 03-10 -> first day counts,
        # 03-10 + 9 = Thu 03-19.
        (kst(2026, 3, 10), 10, date(2026, 3, 19)),
        # The same instant given in UTC (15:00Z on 03-09) -> still Thu 03-19.
        (utc(2026, 3, 9, 15), 10, date(2026, 3, 19)),
        # One microsecond after midnight is no longer "from 00:00": Fri 03-20.
        (kst(2026, 3, 10, 0, 0, 0, 1), 10, date(2026, 3, 20)),
        # Midnight UTC is 09:00 KST, not the proviso: 03-10 + 10 = Fri 03-20.
        (utc(2026, 3, 10), 10, date(2026, 3, 20)),
        # Proviso plus roll: 00:00 KST Fri 01-16 + 9 = Sun 01-25 -> Mon 01-26.
        (kst(2026, 1, 16), 10, date(2026, 1, 26)),
        # Year boundary: Tue 12-22 + 10 = Fri 2027-01-01 (New Year's Day),
        # Sat 01-02, Sun 01-03 -> Mon 2027-01-04. Christmas (Fri 12-25) lies
        # inside the period and does not extend it.
        (kst(2026, 12, 22, 17), 10, date(2027, 1, 4)),
        # Custom period: Thu 07-16 + 1 = Fri 07-17 (제헌절, a public holiday
        # again from 2026), Sat, Sun -> Mon 07-20.
        (kst(2026, 7, 16, 10), 1, date(2026, 7, 20)),
    ],
)
def test_statutory_due_date_table(received_at, days, expected):
    assert statutory_due_date(received_at, days) == expected


# At the hours where Seoul's date is ahead of UTC's (00:30, 08:59), at 10:00, and in the last
# minute of the Seoul day: the period counts Seoul days, whatever the UTC date says.
SEOUL_TIMES = [(0, 30), (8, 59), (10, 0), (23, 59)]


@pytest.mark.parametrize("hh_mm", SEOUL_TIMES, ids=lambda t: f"kst{t[0]:02}{t[1]:02}")
@pytest.mark.parametrize(
    ("day", "due"),
    [
        (date(2026, 12, 1), date(2026, 12, 11)),  # Tue -> Fri
        # Thu 01-07 + 10 = Sun 01-17 -> Mon 01-18 (the weekday the e2e reminder test fell on).
        (date(2027, 1, 7), date(2027, 1, 18)),
        # Fri 02-05, the eve of Seollal (Sat 02-06 .. Tue 02-09, a substitute day) -> Mon 02-15.
        (date(2027, 2, 5), date(2027, 2, 15)),
        # Mon 09-06 + 10 = Thu 09-16, the second day of Chuseok -> Fri 09-17.
        (date(2027, 9, 6), date(2027, 9, 17)),
        # Mon 09-13, the eve of Chuseok (Tue 09-14 .. Thu 09-16) -> Thu 09-23.
        (date(2027, 9, 13), date(2027, 9, 23)),
    ],
)
def test_the_period_counts_seoul_days_at_any_hour(day, due, hh_mm):
    received = kst(day.year, day.month, day.day, *hh_mm).astimezone(UTC)
    assert statutory_due_date(received) == due
    assert statutory_due_at(received) == utc(due.year, due.month, due.day, 14, 59, 59)
    assert days_left(statutory_due_at(received), received) == (due - day).days
    assert not is_overdue(statutory_due_at(received), received)
    # Its last second, then the next one.
    last = utc(due.year, due.month, due.day, 14, 59, 59)
    assert days_left(last, last) == 0 and not is_overdue(last, last)
    assert is_overdue(last, last + timedelta(seconds=1))


def test_default_days_is_ten():
    assert STATUTORY_DAYS == 10
    assert statutory_due_date(kst(2026, 3, 10, 14)) == date(2026, 3, 20)


def test_end_of_day_is_utc():
    got = end_of_day(date(2026, 3, 20))
    # 23:59:59 KST (UTC+9) == 14:59:59 UTC the same day.
    assert got == utc(2026, 3, 20, 14, 59, 59)
    assert got.tzinfo is UTC


def test_statutory_due_at():
    # Ordinary case above: due Fri 2026-03-20, end of day KST.
    got = statutory_due_at(kst(2026, 3, 10, 14))
    assert got == utc(2026, 3, 20, 14, 59, 59)
    assert got.tzinfo is UTC


# --------------------------------------------------------------------------
# days_left / is_overdue around the due moment (due = 2026-03-20 23:59:59 KST)
# --------------------------------------------------------------------------

DUE = utc(2026, 3, 20, 14, 59, 59)


@pytest.mark.parametrize(
    ("now", "left", "overdue"),
    [
        (kst(2026, 3, 10, 14), 10, False),  # at receipt
        (utc(2026, 3, 19, 16), 0, False),  # 03-20 01:00 KST (UTC still 03-19)
        (kst(2026, 3, 20, 9), 0, False),  # morning of the due day
        (DUE, 0, False),  # exactly at the deadline: not yet overdue
        (DUE + timedelta(seconds=1), -1, True),  # 03-21 00:00:00 KST
        (utc(2026, 3, 20, 15, 30), -1, True),  # 03-21 00:30 KST (UTC still 03-20)
        (kst(2026, 3, 23, 10), -3, True),  # following Monday
    ],
)
def test_days_left_and_overdue(now, left, overdue):
    assert days_left(DUE, now) == left
    assert is_overdue(DUE, now) is overdue


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 10, 14)


@pytest.mark.parametrize(
    "call",
    [
        lambda: seoul_date(NAIVE),
        lambda: statutory_due_date(NAIVE),
        lambda: statutory_due_at(NAIVE),
        lambda: days_left(DUE, NAIVE),
        lambda: days_left(NAIVE, DUE),
        lambda: is_overdue(DUE, NAIVE),
        lambda: is_overdue(NAIVE, DUE),
    ],
)
def test_naive_datetime_raises(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("days", [0, -1])
def test_days_must_be_positive(days):
    with pytest.raises(ValueError):
        statutory_due_date(kst(2026, 3, 10, 14), days)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_KR = holidays.KR(years=range(2024, 2032))

_ZONES = st.sampled_from(
    [
        UTC,
        SEOUL,
        ZoneInfo("America/New_York"),
        ZoneInfo("Europe/London"),
        ZoneInfo("Pacific/Kiritimati"),  # UTC+14
        timezone(timedelta(hours=-11)),
    ]
)

_ANY_INSTANT = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2030, 12, 31, 23, 59, 59),
    timezones=_ZONES,
)

# Exact 00:00:00 KST is practically never drawn at random, so add it explicitly.
_SEOUL_MIDNIGHT = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)).map(
    lambda d: datetime(d.year, d.month, d.day, tzinfo=SEOUL)
)

RECEIVED = st.one_of(_ANY_INSTANT, _SEOUL_MIDNIGHT)
DAYS = st.one_of(st.just(STATUTORY_DAYS), st.integers(min_value=1, max_value=60))


def _starts_at_seoul_midnight(at: datetime) -> bool:
    local = at.astimezone(SEOUL)
    return local.hour == local.minute == local.second == local.microsecond == 0


def _unrolled_last_day(at: datetime, days: int) -> date:
    first_counted = 0 if _starts_at_seoul_midnight(at) else 1
    return at.astimezone(SEOUL).date() + timedelta(days=days - 1 + first_counted)


@given(RECEIVED, DAYS)
def test_due_date_is_a_working_day(received_at, days):
    due = statutory_due_date(received_at, days)
    assert due.weekday() < 5
    assert due not in _KR


@given(RECEIVED, DAYS)
def test_due_date_is_at_least_the_period(received_at, days):
    due = statutory_due_date(received_at, days)
    span = (due - seoul_date(received_at)).days
    if _starts_at_seoul_midnight(received_at):
        assert span >= days - 1
    else:
        assert span >= days


@given(RECEIVED, DAYS)
def test_roll_forward_never_skips_a_working_day(received_at, days):
    due = statutory_due_date(received_at, days)
    last = _unrolled_last_day(received_at, days)
    assert due >= last
    d = last
    while d < due:
        assert d.weekday() >= 5 or d in _KR, f"skipped working day {d}"
        d += timedelta(days=1)


@given(RECEIVED, DAYS)
def test_due_at_after_receipt(received_at, days):
    due_at = statutory_due_at(received_at, days)
    assert due_at > received_at
    assert due_at.tzinfo is UTC
    assert seoul_date(due_at) == statutory_due_date(received_at, days)


@given(RECEIVED, RECEIVED)
def test_monotonic(a, b):
    early, late = sorted([a, b])
    assert statutory_due_date(early) <= statutory_due_date(late)

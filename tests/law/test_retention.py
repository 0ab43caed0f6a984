"""Retention periods as pure law: Civil Act counting (Arts. 157, 160) with real dates."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.law.retention import (
    Period,
    is_valid_period,
    last_day,
    longest,
    parse_period,
    period_en,
    period_ko,
)


@pytest.mark.parametrize(
    ("event", "period", "last"),
    [
        # A payment on 1 Dec 2026, kept 5 years (E-Commerce Act): the period starts on 2 Dec
        # (Art. 157) and ends the day before 2 Dec 2031 (Art. 160(2)).
        (date(2026, 12, 1), "P5Y", date(2031, 12, 1)),
        # A visit on 1 Dec 2026, kept 3 months (Protection of Communications Secrets Act).
        (date(2026, 12, 1), "P3M", date(2027, 3, 1)),
        # An advertisement on 31 Aug 2026, 6 months: starts 1 Sep, ends 28 Feb 2027.
        (date(2026, 8, 31), "P6M", date(2027, 2, 28)),
        # 30 Jan: starts 31 Jan; February has no 31st, so the month's last day (Art. 160(3)).
        (date(2026, 1, 30), "P1M", date(2026, 2, 28)),
        (date(2028, 1, 30), "P1M", date(2028, 2, 29)),  # a leap year
        # 28 Feb 2027: starts 1 Mar 2027; a year later 1 Mar 2028, so 29 Feb 2028 is the last.
        (date(2027, 2, 28), "P1Y", date(2028, 2, 29)),
        # 29 Feb 2028: starts 1 Mar 2028, ends 28 Feb 2029.
        (date(2028, 2, 29), "P1Y", date(2029, 2, 28)),
        # Complaint closed 31 Dec 2026, 3 years: starts 1 Jan 2027, ends 31 Dec 2029.
        (date(2026, 12, 31), "P3Y", date(2029, 12, 31)),
        # Days: the first day counted is the day after the event.
        (date(2026, 12, 1), "P30D", date(2026, 12, 31)),
        (date(2026, 12, 31), "P1D", date(2027, 1, 1)),
        (date(2026, 12, 1), "P1Y6M", date(2028, 6, 1)),
    ],
)
def test_last_day(event, period, last):
    assert last_day(event, period) == last


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("P5Y", Period(years=5)),
        ("P3M", Period(months=3)),
        ("P6M", Period(months=6)),
        ("P1Y6M", Period(1, 6)),
        ("P30D", Period(days=30)),
    ],
)
def test_parse(text, period):
    assert parse_period(text) == period
    assert period.iso() == text


@pytest.mark.parametrize(
    "text",
    ["", "5Y", "P", "P0Y", "P2W", "PT5H", "P5Y'; DROP TABLE hold;--", "p5y", "P-1Y", "forever"],
)
def test_not_a_period(text):
    with pytest.raises(ValueError):
        parse_period(text)
    assert not is_valid_period(text)


def test_until_resolved_is_valid_but_has_no_end():
    assert is_valid_period("until_resolved")
    with pytest.raises(ValueError):
        last_day(date(2026, 12, 1), "until_resolved")


def test_words():
    assert (period_ko("P5Y"), period_en("P5Y")) == ("5년", "5 years")
    assert (period_ko("P3M"), period_en("P3M")) == ("3개월", "3 months")
    assert (period_ko("P1Y6M"), period_en("P1Y6M")) == ("1년 6개월", "1 year 6 months")
    assert period_ko("until_resolved") == "사유가 해소될 때까지"


def test_longest():
    assert longest(["P6M", "P5Y", "P3Y"]) == "P5Y"
    assert longest(["P12M", "P1Y"]) in ("P12M", "P1Y")
    assert longest(["P13M", "P1Y"]) == "P13M"
    assert longest(["until_resolved"]) is None
    assert longest([]) is None


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    st.integers(min_value=1, max_value=120),
)
def test_property_never_shorter_than_the_calendar_period(event, months):
    """Kept at least until the same day number `months` later (clamped to a short month's
    end), and at most until the next month's first days (Art. 160(3) with a 31st)."""
    end = last_day(event, Period(months=months))
    index = event.year * 12 + event.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    same_day = date(year, month, min(event.day, calendar.monthrange(year, month)[1]))
    assert same_day <= end <= same_day + timedelta(days=3)
    assert last_day(event, Period(years=months)) >= last_day(event, Period(months=months))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.integers(1, 4000))
def test_property_days_count_from_the_next_day(event, days):
    assert last_day(event, f"P{days}D") == event + timedelta(days=days)

"""Under-14 around the birthday, and the 29 February case."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.law.age import attains_age_on, is_child


@pytest.mark.parametrize(
    ("birth", "on", "child"),
    [
        (date(2012, 12, 2), date(2026, 12, 1), True),  # the day before the 14th birthday
        (date(2012, 12, 1), date(2026, 12, 1), False),  # the 14th birthday itself
        (date(2012, 11, 30), date(2026, 12, 1), False),
        (date(2014, 6, 1), date(2026, 12, 1), True),  # 12 years old
        (date(2012, 2, 29), date(2026, 2, 28), True),  # common year: turns 14 on 1 March
        (date(2012, 2, 29), date(2026, 3, 1), False),
        (date(2016, 2, 29), date(2030, 2, 28), True),
        (date(1990, 1, 1), date(2026, 12, 1), False),
    ],
)
def test_is_child(birth, on, child):
    assert is_child(birth, on) is child


def test_leap_year_birthday_exists_in_leap_years():
    assert attains_age_on(date(2012, 2, 29), 4) == date(2016, 2, 29)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
def test_turns_fourteen_exactly_once(birth):
    day = attains_age_on(birth, 14)
    assert is_child(birth, day - timedelta(days=1))
    assert not is_child(birth, day)
    assert 14 * 365 + 2 <= (day - birth).days <= 14 * 365 + 5

"""Age under the Civil Act, for PIPA Art. 38(2): a child under 14 acts through a legal
representative (법정대리인).

Age counts the day of birth (민법 제158조), so a person turns N at the start of the Nth
birthday. Someone born on 29 February turns N on 1 March in a common year: the period ends
with the last day of February (제160조제3항), and the age is reached the day after.
"""

from __future__ import annotations

from datetime import date

CHILD_AGE = 14


def attains_age_on(birth: date, years: int) -> date:
    """The first day on which a person born on `birth` is `years` old."""
    year = birth.year + years
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 3, 1)


def is_child(birth: date, on: date) -> bool:
    """Under 14 on that day (Art. 38(2))."""
    return on < attains_age_on(birth, CHILD_AGE)

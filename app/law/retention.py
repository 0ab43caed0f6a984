"""Legal retention (policy Art. 3; PIPA Art. 21(1) proviso, Art. 36(1) proviso): periods and
how far they run. Pure: no I/O, no profile loading; the profile supplies the rules.

A retention period is written as an ISO 8601 duration in years, months and days (`P5Y`,
`P3M`, `P6M`, `P1Y6M`, `P30D`) or as `until_resolved` for the open-ended rules of the policy
(an investigation, a debt), which last until a person says they are over.

Counting follows the Civil Act, as for every period the law leaves uncounted:
- the day of the event is not counted (Art. 157), so the period starts the next day;
- a period in months or years ends on the day before the day of the last month or year that
  corresponds to its first day (Art. 160(2)); when that month has no such day, it ends on
  the month's last day (Art. 160(3)).
Art. 161 (a period ending on a Saturday or holiday runs on) is for periods within which
something must be *done*; the end of a duty to keep records is not such an act, so it is not
applied here: the records may be destroyed once the last day has ended.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

UNTIL_RESOLVED = "until_resolved"
# The policy's open-ended rules: a staff-set hold (app/retention/holds.py) stands for them.
HOLD_KINDS = ("investigation", "debt")

_DURATION = re.compile(r"^P(?:(\d{1,3})Y)?(?:(\d{1,4})M)?(?:(\d{1,5})D)?$")


@dataclass(frozen=True)
class Period:
    years: int = 0
    months: int = 0
    days: int = 0

    def iso(self) -> str:
        parts = [(self.years, "Y"), (self.months, "M"), (self.days, "D")]
        return "P" + "".join(f"{n}{u}" for n, u in parts if n)


def parse_period(text: str) -> Period:
    """`P5Y` → Period(years=5). Raises ValueError for anything else (weeks, times, zero)."""
    match = _DURATION.match(text or "")
    if not match or not any(match.groups()):
        raise ValueError(
            f"{text!r} is not a retention period: use an ISO 8601 duration in years, months "
            f"and days (e.g. P5Y, P3M, P1Y6M) or {UNTIL_RESOLVED!r}"
        )
    years, months, days = (int(g) if g else 0 for g in match.groups())
    if not (years or months or days):
        raise ValueError(f"{text!r} is a zero period")
    return Period(years, months, days)


def is_valid_period(text: str) -> bool:
    if text == UNTIL_RESOLVED:
        return True
    try:
        parse_period(text)
    except ValueError:
        return False
    return True


def _add_months(start: date, months: int) -> date | None:
    """The day of the month `months` after `start` that corresponds to it, or None when that
    month is too short to have one (Art. 160(3))."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if start.day > calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, start.day)


def last_day(event: date, period: str | Period) -> date:
    """The last day records of an event on `event` must be kept for `period` (Civil Act Arts.
    157, 160). Kept to the end of that day (Asia/Seoul); destroyable from the next."""
    p = parse_period(period) if isinstance(period, str) else period
    first = event + timedelta(days=1)  # Art. 157: the event's own day is not counted
    end = first
    if p.years or p.months:
        months = p.years * 12 + p.months
        corresponding = _add_months(first, months)
        if corresponding is None:  # Art. 160(3): no corresponding day → the month's last day
            index = first.year * 12 + (first.month - 1) + months
            year, month = divmod(index, 12)
            end = date(year, month + 1, calendar.monthrange(year, month + 1)[1])
        else:  # Art. 160(2): the day before the corresponding day
            end = corresponding - timedelta(days=1)
        if p.days:
            end = end + timedelta(days=p.days)
    else:
        end = first + timedelta(days=p.days - 1)  # counted in days: the first day is day 1
    return end


def longest(periods: list[str]) -> str | None:
    """The period that reaches furthest from the same event (by its last day from a fixed
    reference date); None if none is fixed."""
    fixed = [p for p in periods if p and p != UNTIL_RESOLVED]
    if not fixed:
        return None
    reference = date(2001, 1, 31)  # an awkward day: month ends count
    return max(fixed, key=lambda p: last_day(reference, p))


def period_ko(period: str) -> str:
    """`P5Y` → `5년`, `P1Y6M` → `1년 6개월`, `P30D` → `30일`."""
    if period == UNTIL_RESOLVED:
        return "사유가 해소될 때까지"
    p = parse_period(period)
    parts = [(p.years, "년"), (p.months, "개월"), (p.days, "일")]
    return " ".join(f"{n}{u}" for n, u in parts if n)


def period_en(period: str) -> str:
    """`P5Y` → `5 years`, `P3M` → `3 months`."""
    if period == UNTIL_RESOLVED:
        return "until resolved"
    p = parse_period(period)
    parts = [(p.years, "year"), (p.months, "month"), (p.days, "day")]
    return " ".join(f"{n} {u}{'s' if n != 1 else ''}" for n, u in parts if n)

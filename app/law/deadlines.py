"""Statutory response deadlines for PIPA data-subject requests.

PIPA Enforcement Decree (개인정보 보호법 시행령) Art. 41(4) (access, 열람),
Art. 43(3) (correction/deletion, 정정·삭제) and Art. 44(2) (suspension,
처리정지): the controller must act within 10 days of receiving the request.

The period is counted under the Civil Act (민법) Arts. 157, 159 and 161.
Pure functions only: no I/O, no database, no framework imports.

Temporary public holidays (임시공휴일) are declared by the government a few weeks ahead, after
the `holidays` package was released; the operator lists them (RIGHTSDESK_EXTRA_HOLIDAYS).
This module does not read settings: the process hands it the dates once, at start
(`configure`, from create_app and the worker), and every caller (filing, objections, the
recompute) then counts on the same calendar without passing it around. The functions also
take the dates explicitly (`extra=`), which the table tests and the recompute use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

SEOUL = ZoneInfo("Asia/Seoul")

# 시행령 41(4), 43(3), 44(2): "10일 이내".
STATUTORY_DAYS = 10

_LAST_SECOND = time(23, 59, 59)

# The operator's temporary holidays, set once at start; replaced whole (never mutated), so a
# reader sees either the old set or the new one.
_extra: frozenset[date] = frozenset()


def configure(extra: Iterable[date]) -> None:
    """Set the temporary public holidays (임시공휴일) that join the calendar in this process."""
    global _extra
    _extra = frozenset(extra)


def extra_holidays() -> frozenset[date]:
    """The temporary public holidays configured for this process."""
    return _extra


@lru_cache(maxsize=64)
def _kr_holidays(year: int) -> frozenset[date]:
    """Korean public holidays (공휴일) for one year, incl. substitute and election days."""
    return frozenset(holidays.KR(years=year))


def is_non_working_day(d: date, extra: Iterable[date] | None = None) -> bool:
    """True on Saturday, Sunday, a Korean public holiday, or a temporary holiday (`extra`,
    default: the configured ones)."""
    # weekday(): Mon=0 ... Sat=5, Sun=6. Sundays are 공휴일 anyway.
    if d.weekday() >= 5 or d in _kr_holidays(d.year):
        return True
    return d in (_extra if extra is None else extra)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {at!r}")


def seoul_date(at: datetime) -> date:
    """Calendar date in Asia/Seoul of an aware datetime."""
    _require_aware(at)
    return at.astimezone(SEOUL).date()


def statutory_due_date(
    received_at: datetime, days: int = STATUTORY_DAYS, *, extra: Iterable[date] | None = None
) -> date:
    """Last day (Seoul date) on which a request received at `received_at` may be answered;
    `extra`: temporary holidays (default: the configured ones)."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    _require_aware(received_at)
    local = received_at.astimezone(SEOUL)
    if local.time() == time(0):
        # 민법 157조 단서: 기간이 오전 영시로부터 시작하면 초일을 산입한다.
        last = local.date() + timedelta(days=days - 1)
    else:
        # 민법 157조 본문: 초일 불산입 - counting starts the next day.
        last = local.date() + timedelta(days=days)
    # 민법 161조: 말일이 토요일 또는 공휴일이면 그 익일로 만료.
    # Only the last day rolls; holidays inside the period are counted.
    extra = _extra if extra is None else frozenset(extra)
    while is_non_working_day(last, extra):
        last += timedelta(days=1)
    return last


def end_of_day(d: date) -> datetime:
    """23:59:59 Seoul time on `d` (민법 159조: 말일의 종료로 만료), in UTC.

    `datetime.UTC` is the same object as `datetime.timezone.utc`.
    """
    return datetime.combine(d, _LAST_SECOND, tzinfo=SEOUL).astimezone(UTC)


def statutory_due_at(
    received_at: datetime, days: int = STATUTORY_DAYS, *, extra: Iterable[date] | None = None
) -> datetime:
    """Due moment (UTC) for a request received at `received_at`."""
    return end_of_day(statutory_due_date(received_at, days, extra=extra))


def days_left(due_at: datetime, now: datetime) -> int:
    """Seoul calendar days until the due day: 0 on the due day, negative when overdue."""
    return (seoul_date(due_at) - seoul_date(now)).days


def is_overdue(due_at: datetime, now: datetime) -> bool:
    """True once `now` is past the due moment."""
    _require_aware(due_at)
    _require_aware(now)
    return now > due_at


def extension_limit(due: date, days: int, *, extra: Iterable[date] | None = None) -> date:
    """The latest day an extension "by up to `days` days" may reach from the deadline `due`
    (Decree 44-3: 30 days at most, each time): counted from the day after it (Civil Act Art.
    157), and a last day that is a Saturday or public holiday rolls to the next (Art. 161)."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    last = due + timedelta(days=days)
    extra = _extra if extra is None else frozenset(extra)
    while is_non_working_day(last, extra):
        last += timedelta(days=1)
    return last

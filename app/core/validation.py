"""Reusable field types for request bodies: bounded, trimmed, no control characters."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")


def _single_line(value: str) -> str:
    if _CONTROL_SINGLE_LINE.search(value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def Line(max_length: int, min_length: int = 1):
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_single_line),
    ]


def Text(max_length: int, min_length: int = 1):
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_multi_line),
    ]


class StrictBody(BaseModel):
    """Every request body: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


# Dates this service can reckon with: the Civil Act arithmetic, time-zone shifts and SQL
# bounds all overflow near year 1 or 9999, so an input date outside these years is a 422.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2999


def _reasonable_datetime(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _reasonable_date(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must fall between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


Moment = Annotated[datetime, AfterValidator(_reasonable_datetime)]
Day = Annotated[date, AfterValidator(_reasonable_date)]

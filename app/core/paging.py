"""Keyset paging shared by every list: one cursor codec (a moment and an id, opaque to the
client) and the "limit + 1" page."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

from app.core.errors import Problem, ValidationProblem

T = TypeVar("T")


def bad_cursor() -> Problem:
    return ValidationProblem(
        "cursor", "invalid", "bad cursor", detail="The cursor is not one this service gave out."
    )


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = f"{at.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, aware: bool = False) -> tuple[datetime, str]:
    """(moment, id) of a cursor `encode_cursor` gave out, else 422. A moment with an offset
    comes back in UTC; one outside the range UTC can hold (`0001-01-01T00:00:00+14:00`) is
    refused here rather than by the database. `aware`: a moment without an offset is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|", 1)
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise bad_cursor() from None
    if (aware and parsed.tzinfo is None) or not row_id:
        raise bad_cursor()
    return parsed, row_id


def page(rows: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """The first `limit` of `rows` (read with `limit + 1`), and whether more follow."""
    return list(rows[:limit]), len(rows) > limit

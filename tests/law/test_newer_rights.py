"""The law of the newer rights (issue 18): Decree 44-3's extension limit, Art. 37-2's grounds,
and the days of each right."""

from __future__ import annotations

from datetime import date

import pytest

from app.law.deadlines import extension_limit
from app.law.grounds import problems_with_automated_grounds, problems_with_grounds
from app.law.rights import RIGHTS, RequestType


@pytest.mark.parametrize(
    ("due", "limit"),
    [
        (date(2026, 12, 31), date(2027, 2, 1)),  # +30 is Sat 30 Jan: Mon 1 Feb (Art. 161)
        (date(2027, 2, 1), date(2027, 3, 3)),  # Wed
        (date(2026, 8, 18), date(2026, 9, 17)),  # Thu
        # +30 is Sun 7 Feb 2027, inside Seollal (6-8 Feb) and its substitute day (9 Feb).
        (date(2027, 1, 8), date(2027, 2, 10)),
    ],
)
def test_extension_limit(due, limit):
    assert extension_limit(due, 30, extra=()) == limit
    assert extension_limit(due, 30, extra=[limit]) > limit  # a temporary holiday rolls it on


def test_days_and_extensions():
    assert RIGHTS[RequestType.consent_withdrawal].days == 10
    ad = RIGHTS[RequestType.automated_decision]
    assert (ad.days, ad.max_extensions, ad.extension_days) == (30, 2, 30)
    assert ad.article_korean == "개인정보 보호법 제37조의2" and ad.decree_korean == "제44조의3"
    assert RIGHTS[RequestType.suspension].decree_korean == "제44조제2항"
    assert RIGHTS[RequestType.access].article_korean == "개인정보 보호법 제35조"


@pytest.mark.parametrize(
    ("codes", "kind", "ok"),
    [
        (["PIPA-37of2-1-contract"], "refuse", True),
        (["PIPA-37of2-1-contract"], "explain", False),
        (["PIPA-37of2-1-minor"], "review", False),
        (["PIPA-37of2-3-justified"], "explain", True),
    ],
)
def test_automated_grounds(codes, kind, ok):
    assert problems_with_grounds(codes, "automated_decision") == []
    assert (problems_with_automated_grounds(codes, kind) == []) is ok
    assert problems_with_grounds(codes, "suspension")  # Art. 37-2 grounds fit no other type

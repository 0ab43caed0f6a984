"""The grounds registry as pure law: which ground supports which refusal."""

from __future__ import annotations

import pytest

from app.law.grounds import GROUNDS, problems_with_grounds


@pytest.mark.parametrize(
    ("codes", "kind", "public", "ok"),
    [
        (["PIPA-35-4-1", "PIPA-35-4-2"], "access", False, True),
        (["PIPA-35-4-3"], "access", False, False),
        (["PIPA-35-4-3"], "access", True, True),
        (["PIPA-37-2-3"], "suspension", True, True),
        (["PIPA-37-2-4"], "consent_withdrawal", False, True),
        (["PIPA-36-1-proviso"], "suspension", False, False),
        (["PIPA-38-identity"], "correction", False, True),
        (["PIPA-36-2-accurate"], "correction", False, True),
        (["PIPA-36-2-accurate"], "deletion", False, False),
        (["PIPA-36-2-accurate"], "access", False, False),
        (["PIPA-36-2-accurate", "PIPA-36-2-accurate"], "correction", False, False),
        ([], "access", False, False),
        (["nope"], "access", False, False),
    ],
)
def test_fit(codes, kind, public, ok):
    assert (problems_with_grounds(codes, kind, public_body=public) == []) is ok


def test_every_ground_cites_an_article_in_both_languages():
    for ground in GROUNDS.values():
        assert ground.article_ko.startswith("개인정보 보호법 제")
        assert ground.article_en.startswith("PIPA Art. ")
        assert ground.applies_to


def test_accurate_ground_is_article_36_2_for_corrections_only():
    ground = GROUNDS["PIPA-36-2-accurate"]
    assert ground.article_ko == "개인정보 보호법 제36조제2항"
    assert ground.article_en == "PIPA Art. 36(2)"
    assert ground.applies_to == frozenset({"correction"})
    assert not ground.public_bodies_only
    assert "정확" in ground.text_ko and "accurate" in ground.text_en

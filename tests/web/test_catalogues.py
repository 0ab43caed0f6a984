"""Every string the pages show is in both catalogues, with the same placeholders."""

from __future__ import annotations

import re

import pytest

from app.web.i18n import LANGUAGES, catalogue
from tests.web.catalogue import all_msgids

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_msgid_is_translated(lang):
    texts = catalogue(lang)
    missing = sorted(m for m in all_msgids() if not texts.get(m))
    assert not missing, f"{lang}: untranslated: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_survive_translation(lang):
    texts = catalogue(lang)
    wrong = [
        m for m in all_msgids() if set(PLACEHOLDER.findall(m)) != set(PLACEHOLDER.findall(texts[m]))
    ]
    assert not wrong, wrong


def test_korean_is_korean():
    texts = catalogue("ko")
    english = [m for m in all_msgids() if not re.search("[가-힣]", texts[m])]
    assert not english, english


def test_no_stale_entries():
    used = all_msgids()
    for lang in LANGUAGES:
        stale = sorted(set(catalogue(lang)) - used)
        assert not stale, f"{lang}: entries no page uses: {stale}"

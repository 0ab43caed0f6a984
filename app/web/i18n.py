"""Language catalogues: one gettext catalogue per language (locales/<lang>/LC_MESSAGES/
messages.po), read with Babel when the process starts. The .po files are package data, so an
installed wheel needs no build step; msgids are the English text, and the English catalogue
states each one again, so both languages are complete catalogues of their own."""

from __future__ import annotations

from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

LANGUAGES = ("ko", "en")
DEFAULT = "ko"
LANG_COOKIE = "rd_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """msgid -> text for `lang` (an untranslated or missing entry falls back to its msgid)."""
    path = resources.files("app.web") / "locales" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        po = read_po(f, locale=lang)
    return {m.id: m.string for m in po if m.id and m.string and isinstance(m.id, str)}


class Translator:
    """gettext for one language, with %-style mapping arguments as Jinja's i18n expects."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._texts = catalogue(self.lang)

    def gettext(self, message: str, **values) -> str:
        text = self._texts.get(message, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values) -> str:
        # Korean has one form; English picks by n. The catalogue holds both msgids.
        message = singular if n == 1 else plural
        values.setdefault("num", n)
        return self.gettext(message, **values)


def language_of(cookies: dict[str, str]) -> str:
    lang = cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT

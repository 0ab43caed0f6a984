"""The msgids the pages use: those in the templates (Babel's Jinja2 extractor) and the
words modules of app/portal and app/console (dicts of msgids)."""

from __future__ import annotations

from importlib import resources

from jinja2.ext import babel_extract

TEMPLATE_PACKAGES = ("app.web", "app.portal", "app.console")
OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def template_msgids() -> set[str]:
    found: set[str] = set()
    for package in TEMPLATE_PACKAGES:
        for f in (resources.files(package) / "templates").iterdir():
            if not f.name.endswith(".html"):
                continue
            with f.open("rb") as fh:
                for _line, _func, message, _comments in babel_extract(
                    fh, ("_", "gettext", "ngettext"), [], OPTIONS
                ):
                    if isinstance(message, tuple):
                        found.update(m for m in message if m)
                    elif message:
                        found.add(message)
    return found


def code_msgids() -> set[str]:
    from app.console import words
    from app.portal import forms, views
    from app.web import forms as web_forms
    from app.web import words as web_words

    found: set[str] = set()
    for table in (
        views.STATUS,
        views.TYPES,
        web_words.EVENTS,
        views.OUTCOMES,
        views.ITEM_RESULT,
        views.DOCUMENT_KINDS,
        views.ACTION_CODE_MESSAGES,
        views.FIELD_LABELS,
        forms._BY_FIELD_CODE,
        web_forms.BY_CODE,
    ):
        found.update(table.values())
    for table in (
        words.STATUS,
        words.TYPES,
        words.CHANNELS,
        words.TASK_KINDS,
        words.TASK_STATUS,
        words.TASK_OUTCOMES,
        words.OUTCOMES,
        words.PLAN_ACTIONS,
        words.HOLD_KINDS,
    ):
        found.update(table.values())
    found.update(words.EXTRA_MSGIDS)
    found.update(views.EXTRA_MSGIDS)
    found.update(forms.EXTRA_MSGIDS)
    return found


def all_msgids() -> set[str]:
    return template_msgids() | code_msgids()

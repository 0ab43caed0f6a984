"""Render notices: Korean first with the English beside it (or English first for `en`).

A template's first line is its subject; the rest is the body. Both languages always go out,
because a notice under PIPA must be understood, and Korean is the legal language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.law.deadlines import SEOUL

_WEEKDAYS_KO = "월화수목금토일"
SEPARATOR = "\n\n" + "─" * 40 + "\n\n"


@lru_cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text e-mail  # noqa: S701
        keep_trailing_newline=False,
        auto_reload=False,  # packaged templates: no stat of the file on every notice
    )


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def _split(rendered: str) -> tuple[str, str]:
    subject, _, body = rendered.partition("\n")
    return subject.strip(), body.strip()


def render(template: str, locale: str, context: dict[str, Any]) -> Rendered:
    env = _env()
    ko = _split(env.get_template(f"{template}.ko.j2").render(context))
    en = _split(env.get_template(f"{template}.en.j2").render(context))
    first, second = (en, ko) if locale == "en" else (ko, en)
    return Rendered(
        subject=f"{first[0]} / {second[0]}", text=first[1] + SEPARATOR + second[1] + "\n"
    )


def date_ko(d) -> str:
    return f"{d.year}년 {d.month}월 {d.day}일({_WEEKDAYS_KO[d.weekday()]})"


def date_en(d) -> str:
    return f"{d.strftime('%A')} {d.day} {d.strftime('%B %Y')}"


def moment_ko(at: datetime) -> str:
    local = at.astimezone(SEOUL)
    return f"{date_ko(local.date())} {local.hour:02d}:{local.minute:02d}"


def moment_en(at: datetime) -> str:
    local = at.astimezone(SEOUL)
    return f"{date_en(local.date())}, {local.hour:02d}:{local.minute:02d}"

"""Load the company profile (data categories, retention, processors) from YAML, and check it.

The profile is the company's own judgement (app/profile/default.yaml is the reference): which data it holds, in which
systems and processors (수탁자), and which legal retention rules bind each category. It is
checked once at start (and by `rightsdesk profile check`), so a typo in a rule or system name
fails loudly there rather than producing a wrong deletion plan later.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.law.retention import HOLD_KINDS, UNTIL_RESOLVED, is_valid_period

DEFAULT_PROFILE = Path(__file__).with_name("default.yaml")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class _Entry(BaseModel):
    """Profile entries read like the dicts they once were (`rule["law_ko"]`) as well as
    models (`rule.law_ko`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default) if key in type(self).model_fields else default


class Purpose(_Entry):
    """A purpose of processing (policy Art. 2), told to the subject with an access result
    (Decree 41①: 개인정보의 처리 목적)."""

    ko: str
    en: str


class Category(_Entry):
    name_ko: str
    name_en: str
    purposes: list[Purpose] = []
    # Provision to third parties (policy Art. 4); empty: provided to none.
    third_parties: list[Purpose] = []
    # The keys a correction (scope.corrections[].item) names.
    items: list[str] = Field(min_length=1)
    # Systems and processors that hold this category (keys of `processors` or `systems`).
    systems: list[str] = []
    # Legal retention rules (keys of `retention`) that bind records of this category; a
    # category with none is deleted at once when a deletion is granted.
    retention: list[str] = []


class RetentionRule(_Entry):
    record_ko: str  # which records the rule keeps: only these are retained
    record_en: str
    period: str  # ISO 8601 duration (P5Y) or until_resolved
    law_ko: str | None = None
    law_en: str | None = None
    # From what event the period runs (e.g. 결제일 / the payment), in words. When it is
    # `request` (records this very request creates) the service can date it; any other event
    # is one only the system holding the records knows.
    starts: str | None = None
    starts_ko: str | None = None
    starts_en: str | None = None


class Processor(_Entry):
    name: str
    task_ko: str
    task_en: str


class System(_Entry):
    """An in-house system (not a processor) that holds data."""

    name: str
    name_ko: str | None = None


class Officer(BaseModel):
    title_ko: str
    title_en: str
    email: str
    phone: str | None = None


class Company(BaseModel):
    name_ko: str
    name_en: str
    privacy_officer: Officer


class ProfileError(ValueError):
    """The profile cannot be used; `problems` says every reason, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"profile {source}:\n" + "\n".join(f"  - {p}" for p in problems))


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    company: Company
    categories: dict[str, Category] = Field(min_length=1)
    retention: dict[str, RetentionRule] = {}
    processors: dict[str, Processor] = {}
    systems: dict[str, System] = {}

    @model_validator(mode="after")
    def _references(self) -> Profile:
        problems = profile_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def system_name(self, key: str) -> str:
        entry = self.processors.get(key) or self.systems.get(key)
        return entry.name if entry else key


def profile_problems(profile: Profile) -> list[str]:
    """Every cross-reference the profile gets wrong ([] when it is sound)."""
    problems: list[str] = []
    for section in ("categories", "retention", "processors", "systems"):
        for key in getattr(profile, section):
            if not _KEY.match(key):
                problems.append(f"{section}.{key}: keys are lower_snake_case, at most 40 chars")
    for key in set(profile.processors) & set(profile.systems):
        problems.append(f"systems.{key}: also a processor; name it once")
    for key, rule in profile.retention.items():
        if not is_valid_period(rule.period):
            problems.append(
                f"retention.{key}.period: {rule.period!r} is not an ISO 8601 duration "
                f"(P5Y, P3M, P6M) or {UNTIL_RESOLVED!r}"
            )
        elif rule.period != UNTIL_RESOLVED and not (rule.law_ko and rule.law_en):
            problems.append(f"retention.{key}: a fixed period names its law (law_ko, law_en)")
    for kind in HOLD_KINDS:
        rule = profile.retention.get(kind)
        if rule is None or rule.period != UNTIL_RESOLVED:
            problems.append(
                f"retention.{kind}: missing or not until_resolved (holds of kind {kind} need it)"
            )
    known_systems = set(profile.processors) | set(profile.systems)
    for key, category in profile.categories.items():
        for system in category.systems:
            if system not in known_systems:
                problems.append(
                    f"categories.{key}.systems: unknown system or processor {system!r} "
                    f"(known: {', '.join(sorted(known_systems)) or 'none'})"
                )
        for rule in category.retention:
            if rule not in profile.retention:
                problems.append(
                    f"categories.{key}.retention: unknown rule {rule!r} "
                    f"(known: {', '.join(sorted(profile.retention)) or 'none'})"
                )
            elif profile.retention[rule].period == UNTIL_RESOLVED:
                problems.append(
                    f"categories.{key}.retention: {rule!r} lasts until resolved; it is set per "
                    "request as a hold, not bound to a category"
                )
        for label, values in (("systems", category.systems), ("retention", category.retention)):
            if len(set(values)) != len(values):
                problems.append(f"categories.{key}.{label}: listed twice")
        if len(set(category.items)) != len(category.items):
            problems.append(f"categories.{key}.items: an item is listed twice")
        for item in category.items:
            if not _KEY.match(item):
                problems.append(f"categories.{key}.items: {item!r} is not lower_snake_case")
    return problems


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Parse and check a profile; ProfileError lists every problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ProfileError(source, ["the profile is a YAML mapping (company, categories, …)"])
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "value_error" and not where:
                problems.extend(message.split("; "))
            else:
                problems.append(f"{where or '(root)'}: {message}")
        raise ProfileError(source, problems) from None


@lru_cache
def load_profile(path: str | None = None) -> Profile:
    file = Path(path or DEFAULT_PROFILE)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(str(file), [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_profile(text, str(file))

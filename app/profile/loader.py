"""Load the company profile (data categories, retention, processors, consents, automated
decisions, transmission) from YAML, and check it. The format is documented in docs/profile.md.

The profile is the company's own judgement (docs/profile.md): which data it holds, in which
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


class Consent(_Entry):
    """A consent the company collects (PIPA Art. 15(1)(1), 22), which the subject may withdraw
    (Art. 37(1), (3)): what it allowed, on which data, and which systems act on it."""

    label_ko: str
    label_en: str
    purpose_ko: str
    purpose_en: str
    # Categories (keys of `categories`) collected on this consent alone. On withdrawal each
    # is deleted unless a retention rule or hold keeps it (Art. 37(3) proviso).
    categories: list[str] = []
    # Systems and processors that act on the consent (e.g. the newsletter processor): each is
    # told to stop.
    systems: list[str] = Field(min_length=1)
    # The withdrawal is a flag in one system, which the company can act on by itself: an
    # integration's confirmation carries it out with no staff decision.
    self_service: bool = False


# Art. 37-2(1) proviso: no right to refuse a decision made under Art. 15(1) 1 (consent),
# 2 (a law, or a legal duty) or 4 (a contract with the subject).
BASES = ("consent", "law", "contract")


class AutomatedDecision(_Entry):
    """A decision made by a fully automated system (PIPA Art. 37-2), with what Art. 37-2(4)
    requires the company to publish: its criteria and procedure."""

    description_ko: str
    description_en: str
    # Whether it significantly affects the subject's rights or duties (Art. 37-2(1)): only then
    # may the subject refuse it; an explanation may be asked of any (Art. 37-2(2)).
    significant: bool
    criteria_ko: str
    criteria_en: str
    procedure_ko: str
    procedure_en: str
    # The Art. 15(1) basis when it is item 1, 2 or 4: then refusal is not available.
    basis: str | None = None
    # The main data it uses (keys of `categories`).
    categories: list[str] = []
    # The system that applies it.
    system: str


FORMATS = ("json", "csv")


class Transmission(_Entry):
    """Transmission of one's data (전송요구, PIPA Art. 35-2): only controllers meeting the
    Decree's criteria must answer it."""

    covered: bool = False
    # Why (or why not): the Decree's criteria as they apply to the company.
    criteria_ko: str | None = None
    criteria_en: str | None = None
    # Categories that may be transmitted (keys of `categories`).
    categories: list[str] = []
    formats: list[str] = ["json", "csv"]
    # Days to answer, counted under the Civil Act.
    days: int = Field(10, ge=1, le=30)


class Officer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title_ko: str
    title_en: str
    email: str
    phone: str | None = None


class Company(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name_ko: str
    name_en: str
    privacy_officer: Officer
    # The portal's link to the published privacy policy (개인정보 처리방침, PIPA Art. 30).
    privacy_policy_url: str | None = Field(None, pattern=r"^https?://[^\s]+$", max_length=2000)
    # The portal's look: one primary colour (AA contrast on white is checked at start) and a
    # logo file (PNG, JPEG or SVG; a relative path is relative to the profile file).
    primary_color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    logo_path: str | None = Field(None, pattern=r"\.([pP][nN][gG]|[jJ][pP][eE]?[gG]|[sS][vV][gG])$")


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
    consents: dict[str, Consent] = {}
    automated_decisions: dict[str, AutomatedDecision] = {}
    transmission: Transmission = Field(default_factory=Transmission)

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
    for section in (
        "categories",
        "retention",
        "processors",
        "systems",
        "consents",
        "automated_decisions",
    ):
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
    problems += _rights_problems(profile, known_systems)
    return problems


def _unknown(where: str, kind: str, value: str, known) -> str:
    return f"{where}: unknown {kind} {value!r} (known: {', '.join(sorted(known)) or 'none'})"


def _rights_problems(profile: Profile, known_systems: set[str]) -> list[str]:
    """The sections of the newer rights: consents, automated decisions, transmission."""
    problems: list[str] = []
    categories = profile.categories
    for key, consent in profile.consents.items():
        where = f"consents.{key}"
        for category in consent.categories:
            if category not in categories:
                problems.append(_unknown(f"{where}.categories", "category", category, categories))
        for system in consent.systems:
            if system not in known_systems:
                problems.append(
                    _unknown(f"{where}.systems", "system or processor", system, known_systems)
                )
        for label, values in (("categories", consent.categories), ("systems", consent.systems)):
            if len(set(values)) != len(values):
                problems.append(f"{where}.{label}: listed twice")
        if consent.self_service and len(consent.systems) != 1:
            problems.append(
                f"{where}.self_service: a self-service withdrawal is a flag in one system; "
                f"this consent names {len(consent.systems)}"
            )
    for key, decision in profile.automated_decisions.items():
        where = f"automated_decisions.{key}"
        if decision.system not in known_systems:
            problems.append(
                _unknown(f"{where}.system", "system or processor", decision.system, known_systems)
            )
        for category in decision.categories:
            if category not in categories:
                problems.append(_unknown(f"{where}.categories", "category", category, categories))
        if decision.basis is not None and decision.basis not in BASES:
            problems.append(
                f"{where}.basis: {decision.basis!r} is not one of {', '.join(BASES)} "
                "(PIPA Art. 15(1) 1, 2, 4); leave it out when refusal is available"
            )
        if decision.basis is not None and not decision.significant:
            problems.append(
                f"{where}.basis: only a decision that significantly affects rights or duties "
                "can be refused, so a basis excluding refusal means nothing here"
            )
    tx = profile.transmission
    for category in tx.categories:
        if category not in categories:
            problems.append(_unknown("transmission.categories", "category", category, categories))
    for fmt in tx.formats:
        if fmt not in FORMATS:
            problems.append(f"transmission.formats: {fmt!r} is not one of {', '.join(FORMATS)}")
    if tx.covered:
        if not tx.categories:
            problems.append("transmission.categories: a covered controller names what it transmits")
        if not tx.formats:
            problems.append("transmission.formats: at least one machine-readable format")
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


def is_sample(path: str | None) -> bool:
    """Whether `path` (None: the default) is the bundled reference profile."""
    if path is None:
        return True
    try:
        return Path(path).resolve() == DEFAULT_PROFILE.resolve()
    except OSError:
        return False


def refuse_sample(path: str | None, *, production: bool, allowed: bool) -> None:
    """Production refuses the bundled sample profile unless the operator allows it
    (RIGHTSDESK_ALLOW_SAMPLE_PROFILE): a real company's notices must not sign as the
    reference company."""
    if production and not allowed and is_sample(path):
        raise ProfileError(
            str(path or DEFAULT_PROFILE),
            [
                "production refuses to start on the bundled sample profile (레퍼런스 주식회사): "
                "set RIGHTSDESK_PROFILE_PATH to your company's profile (docs/profile.md), or "
                "RIGHTSDESK_ALLOW_SAMPLE_PROFILE=true for a demonstration"
            ],
        )


@lru_cache
def load_profile(path: str | None = None) -> Profile:
    file = Path(path or DEFAULT_PROFILE)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(str(file), [f"cannot read: {exc.strerror or exc}"]) from None
    profile = parse_profile(text, str(file))
    logo = profile.company.logo_path
    if logo and not Path(logo).is_absolute():
        company = profile.company.model_copy(update={"logo_path": str(file.parent / logo)})
        profile = profile.model_copy(update={"company": company})
    return profile

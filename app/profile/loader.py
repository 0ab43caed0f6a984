"""Load the company profile (data categories, retention, processors) from YAML."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

DEFAULT_PROFILE = Path(__file__).with_name("default.yaml")


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name_ko: str
    name_en: str
    items: list[str]
    systems: list[str] = []


class Officer(BaseModel):
    title_ko: str
    title_en: str
    email: str
    phone: str | None = None


class Company(BaseModel):
    name_ko: str
    name_en: str
    privacy_officer: Officer


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    company: Company
    categories: dict[str, Category]
    retention: dict[str, dict[str, Any]] = {}
    processors: dict[str, dict[str, Any]] = {}


@lru_cache
def load_profile(path: str | None = None) -> Profile:
    data = yaml.safe_load(Path(path or DEFAULT_PROFILE).read_text(encoding="utf-8"))
    return Profile.model_validate(data)

"""The public profile (GET /v1/profile/public): no personal data, only what the company
publishes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OfficerOut(BaseModel):
    title_ko: str
    title_en: str
    email: str
    phone: str | None = None


class RightOut(BaseModel):
    type: str = Field(description="The request `type` to file it with.")
    article: str
    name_ko: str
    name_en: str
    days: int = Field(description="Days to answer, counted under the Civil Act.")


class CategoryOut(BaseModel):
    key: str = Field(description="For `scope.categories`.")
    name_ko: str
    name_en: str


class ConsentOut(BaseModel):
    id: str = Field(description="For `scope.consents` of a `consent_withdrawal`.")
    label_ko: str
    label_en: str
    purpose_ko: str
    purpose_en: str
    categories: list[str] = Field(description="The categories collected on this consent.")


class AutomatedDecisionOut(BaseModel):
    id: str = Field(description="For `scope.decision` of an `automated_decision`.")
    description_ko: str
    description_en: str
    significant: bool = Field(description="Significantly affects rights or duties.")
    refusable: bool = Field(
        description="Whether it may be refused (PIPA Art. 37-2(1)); an explanation may always "
        "be asked."
    )
    criteria_ko: str
    criteria_en: str
    procedure_ko: str
    procedure_en: str
    categories: list[str]


class TransmissionOut(BaseModel):
    covered: bool = Field(description="Whether the company answers transmission requests.")
    categories: list[str]
    formats: list[str]


class ProfilePublic(BaseModel):
    company_ko: str
    company_en: str
    privacy_officer: OfficerOut
    privacy_policy_url: str | None = Field(
        None, description="Where the company publishes its privacy policy (PIPA Art. 30)."
    )
    rights: list[RightOut]
    categories: list[CategoryOut]
    consents: list[ConsentOut]
    automated_decisions: list[AutomatedDecisionOut] = Field(
        description="Fully automated decisions the company makes; empty when it makes none."
    )
    transmission: TransmissionOut

"""What the company publishes about its rights desk (the public profile): built from the
loaded profile for GET /v1/profile/public and for the portal's pages alike."""

from __future__ import annotations

from app.law.rights import RIGHTS, RequestType
from app.profile.loader import Profile
from app.profile.schemas import (
    AutomatedDecisionOut,
    CategoryOut,
    ConsentOut,
    OfficerOut,
    ProfilePublic,
    RightOut,
    TransmissionOut,
)


def public_profile(profile: Profile) -> ProfilePublic:
    tx = profile.transmission
    offered = [t for t in RIGHTS if t is not RequestType.transmission or tx.covered]
    return ProfilePublic(
        company_ko=profile.company.name_ko,
        company_en=profile.company.name_en,
        privacy_officer=OfficerOut(**profile.company.privacy_officer.model_dump()),
        privacy_policy_url=profile.company.privacy_policy_url,
        rights=[
            RightOut(
                type=t.value,
                article=RIGHTS[t].article,
                name_ko=RIGHTS[t].name_ko,
                name_en=RIGHTS[t].name_en,
                days=RIGHTS[t].days if t is not RequestType.transmission else tx.days,
            )
            for t in offered
        ],
        categories=[
            CategoryOut(key=k, name_ko=c.name_ko, name_en=c.name_en)
            for k, c in profile.categories.items()
        ],
        consents=[
            ConsentOut(
                id=k,
                label_ko=c.label_ko,
                label_en=c.label_en,
                purpose_ko=c.purpose_ko,
                purpose_en=c.purpose_en,
                categories=c.categories,
            )
            for k, c in profile.consents.items()
        ],
        automated_decisions=[
            AutomatedDecisionOut(
                id=k,
                description_ko=d.description_ko,
                description_en=d.description_en,
                significant=d.significant,
                refusable=d.significant and d.basis is None,
                criteria_ko=d.criteria_ko,
                criteria_en=d.criteria_en,
                procedure_ko=d.procedure_ko,
                procedure_en=d.procedure_en,
                categories=d.categories,
            )
            for k, d in profile.automated_decisions.items()
        ],
        transmission=TransmissionOut(
            covered=tx.covered,
            categories=tx.categories if tx.covered else [],
            formats=tx.formats if tx.covered else [],
        ),
    )

"""What the pages say about the company: the public profile (the same one GET
/v1/profile/public serves), in the shape the templates read."""

from __future__ import annotations

from typing import Any

from app.core.context import AppContext
from app.profile.public import public_profile as published


def public_profile(ctx: AppContext) -> dict[str, Any]:
    profile = published(ctx.profile)
    return {
        "name_ko": profile.company_ko,
        "name_en": profile.company_en,
        "privacy_policy_url": profile.privacy_policy_url,
        "officer": profile.privacy_officer.model_dump(),
        "categories": [c.model_dump() for c in profile.categories],
        "rights": [r.model_dump() for r in profile.rights],
        "consents": [c.model_dump() for c in profile.consents],
        "automated_decisions": [d.model_dump() for d in profile.automated_decisions],
    }

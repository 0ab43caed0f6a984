"""What the start page says about the company: the one place the portal reads the profile.
(It will read the public-profile service once that exists; the page needs only this shape.)"""

from __future__ import annotations

from typing import Any

from app.core.context import AppContext


def public_profile(ctx: AppContext) -> dict[str, Any]:
    company = ctx.profile.company
    officer = company.privacy_officer
    return {
        "name_ko": company.name_ko,
        "name_en": company.name_en,
        "privacy_policy_url": getattr(company, "privacy_policy_url", None),
        "officer": {
            "title_ko": officer.title_ko,
            "title_en": officer.title_en,
            "email": officer.email,
            "phone": officer.phone,
        },
        "categories": [
            {"key": key, "name_ko": c.name_ko, "name_en": c.name_en}
            for key, c in ctx.profile.categories.items()
        ],
    }

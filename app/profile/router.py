"""GET /v1/profile/public: what the company publishes about its rights desk, for its own portal
and third-party portals: the company, the privacy officer's contact (PIPA Art. 31), the rights
offered, the data categories and consents by name, and the criteria and procedure of every
fully automated decision (Art. 37-2(4) requires them to be public). No personal data, no auth,
cacheable."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse

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

router = APIRouter(tags=["profile"])

# Portals may keep it a few minutes: it changes only when the operator deploys a new profile.
CACHE_CONTROL = "public, max-age=300"


def public_profile(profile: Profile) -> ProfilePublic:
    tx = profile.transmission
    offered = [t for t in RIGHTS if t is not RequestType.transmission or tx.covered]
    return ProfilePublic(
        company_ko=profile.company.name_ko,
        company_en=profile.company.name_en,
        privacy_officer=OfficerOut(**profile.company.privacy_officer.model_dump()),
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


@router.get(
    "/v1/profile/public",
    response_model=ProfilePublic,
    responses={304: {"description": "Not modified (the `ETag` sent in If-None-Match)."}},
)
def read_public_profile(http: HttpRequest) -> JSONResponse:
    """The company's public profile, for portals: the company and its privacy officer, the
    rights it answers (with their articles and days), its data categories and consents by
    name, and the published criteria and procedure of each fully automated decision
    (PIPA Art. 37-2(4)). No authentication; cacheable (`Cache-Control`, `ETag`)."""
    from fastapi import Response

    body = public_profile(http.app.state.ctx.profile).model_dump(mode="json")
    payload = JSONResponse(body).body
    etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if http.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)

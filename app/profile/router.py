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

from app.profile.public import public_profile
from app.profile.schemas import ProfilePublic

router = APIRouter(tags=["profile"])

# Portals may keep it a few minutes: it changes only when the operator deploys a new profile.
CACHE_CONTROL = "public, max-age=300"


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

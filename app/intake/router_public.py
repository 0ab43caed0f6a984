"""Public routes for data subjects and proxies (the portal)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi import Request as HttpRequest

from app.core import rate_limit
from app.core.actors import Actor
from app.core.deps import ContextDep, SessionDep, SubjectToken, client_ip, owned_request_id
from app.core.group_writer import Later
from app.core.responses import NOT_A_SUBJECT
from app.intake import flows
from app.law.rights import Channel
from app.requests import service
from app.requests.schemas import (
    RequestCreate,
    RequestCreated,
    RequestPublic,
    SignInAccepted,
    SignInIn,
    WithdrawIn,
)
from app.requests.views import created_view
from app.verification import service as verification
from app.workflow.views import public_view

router = APIRouter(prefix="/v1/requests", tags=["requests (public)"], responses=NOT_A_SUBJECT)

_PROBLEMS = {
    422: {"description": "Invalid body (problem document)"},
    429: {"description": "Too many filings for this e-mail address this hour"},
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RequestCreated, responses=_PROBLEMS
)
async def file_request(
    body: RequestCreate, ctx: ContextDep, http: HttpRequest, response: Response
) -> RequestCreated:
    """File an access, correction, deletion or suspension request.

    The service sets `received_at` (now) and `due_at` (10 days under the Civil Act counting
    rules, in Korea time); a body that tries to set either is refused. A 6-digit one-time code
    is e-mailed to the filer: post it to `/v1/requests/{id}/verification` to get a token for
    this request. Too many filings for one e-mail address, or from one client address, within
    the hour get a 429 with Retry-After.
    """
    ip = client_ip(http)
    actor = Actor("subject", None, ip)

    def file(session):
        now = ctx.clock.now()
        store = flows.file(session, ctx, body, channel=Channel.portal, received_at=now, actor=actor)
        return Later(lambda: (now, store()))

    # The hottest route: filings are committed in groups by one writer thread (see
    # core/group_writer.py); the answer waits for its group's commit. The per-address limit
    # is counted there first (a refused filing is never run, and a failed one still counts).
    # The filing's second step (its number, its rows, its access-record entry) runs after the
    # first step of every filing of the batch: the locks all filings share are held briefly.
    hits = rate_limit.hits(ctx, "filing", ip=ip)
    now, filed = await ctx.intake_writer.run(file, hits)
    response.headers["Location"] = f"/v1/requests/{filed.id}"
    return created_view(filed, now, ctx.settings.code_ttl_seconds)


@router.post(
    "/sign-in",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SignInAccepted,
    responses={
        422: {"description": "Invalid body (problem document)"},
        429: {"description": "Too many sign-ins from this address or for this reference"},
    },
)
def sign_in(
    body: SignInIn, session: SessionDep, ctx: ContextDep, http: HttpRequest
) -> SignInAccepted:
    """Come back to a request with its reference and the e-mail address it was filed with.

    When both match, a fresh 6-digit code goes to that address (the old one stops working),
    within the same limits as a resend; post it to `/v1/requests/{reference}/verification`
    for a token. Works in every status, so you can come back for the decision, to object,
    or to download the result. The answer is the same 202 whether or not they match.

    Within the resend pause (a new code at most once a minute,
    `RIGHTSDESK_CODE_RESEND_COOLDOWN_SECONDS`) a sign-in sends nothing, and says nothing
    about it either: the answer is still the same 202, which tells the filer that a new code
    can be sent once a minute, so a portal should ask them to wait before trying again.
    """
    ip = client_ip(http)
    rate_limit.guard(ctx, "sign_in", ip=ip, identifier=body.reference.upper())
    verification.sign_in(session, ctx, body.reference, str(body.email), ip)
    pause = ctx.settings.code_resend_cooldown_seconds
    every = "once a minute" if pause == 60 else f"once every {pause} seconds"
    every_ko = "1분에 한 번" if pause == 60 else f"{pause}초에 한 번"
    return SignInAccepted(
        detail=f"If the details match, a code is on its way; a new code can be sent {every}. "
        f"입력하신 정보가 일치하면 인증번호를 보내 드립니다. 새 인증번호는 {every_ko} 보낼 수 "
        "있습니다.",
        expires_in=ctx.settings.code_ttl_seconds,
    )


@router.get(
    "/{request_id}",
    response_model=RequestPublic,
    responses={
        401: {"description": "No or bad token"},
        404: {"description": "Not yours"},
        410: {"description": "The request's personal data was purged (retention ran out)"},
    },
)
def read_request(
    request_id: str, principal: SubjectToken, session: SessionDep, ctx: ContextDep
) -> RequestPublic:
    """Follow your request: status, deadline, days left (null once closed), timeline, notices,
    the extension and the decision with its grounds, whether and until when you may object,
    and the `actions` you may take now. `{request_id}` is the id or the reference."""
    request = service.get(session, owned_request_id(session, principal, request_id))
    return public_view(session, ctx, request, ctx.clock.now())


@router.post(
    "/{request_id}/withdraw",
    response_model=RequestPublic,
    responses={
        401: {"description": "No or bad token"},
        404: {"description": "Not yours"},
        409: {"description": "Already closed"},
        410: {"description": "The request's personal data was purged (retention ran out)"},
    },
)
def withdraw_request(
    request_id: str,
    principal: SubjectToken,
    session: SessionDep,
    ctx: ContextDep,
    body: WithdrawIn | None = None,
) -> RequestPublic:
    """Withdraw your request. Possible until it is completed, refused or rejected."""
    request_id = owned_request_id(session, principal, request_id)
    request = flows.withdraw(
        session, ctx, request_id, reason=body.reason if body else None, actor=principal.actor
    )
    return public_view(session, ctx, request, ctx.clock.now())

"""Public routes that prove the filer holds the e-mail address."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, status
from fastapi import Request as HttpRequest

from app.core import rate_limit
from app.core.actors import Actor
from app.core.deps import ContextDep, SessionDep, client_ip, resolve_request_id
from app.requests import service as requests
from app.verification import service
from app.verification.schemas import CodeIn, ResendOut, Token

router = APIRouter(prefix="/v1/requests/{request_id}/verification", tags=["verification"])


@router.post(
    "",
    response_model=Token,
    responses={
        400: {"description": "Wrong, expired, used or locked code"},
        404: {"description": "No such request"},
        429: {"description": "Too many code entries from this address or for this request"},
    },
)
def verify(
    request_id: str, body: CodeIn, session: SessionDep, ctx: ContextDep, http: HttpRequest
) -> Token:
    """Exchange the e-mailed code for a token that opens this request, and no other.

    A code lives 10 minutes, works once, and dies after 5 wrong tries (the response's
    `attempts_left` counts down). The first right code opens a request pending verification;
    on a request in any other status it proves the filer again. `{request_id}` is the id or
    the reference.
    """
    ip = client_ip(http)
    # Counted first, in its own transaction: a wrong code counts even though it is refused.
    request_id = rate_limit.guard(
        ctx, "code_check", ip=ip, identifier=partial(resolve_request_id, key=request_id)
    )
    request = requests.get(session, request_id)
    done = service.verify_code(session, ctx, request, body.code, Actor("subject", request.id, ip))
    return Token(access_token=done.access_token, expires_in=done.expires_in)


@router.post(
    "/resend",
    response_model=ResendOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "No such request"},
        409: {"description": "The request has no e-mail address to send a code to"},
        429: {"description": "Too soon or too many (for this request or this address)"},
    },
)
def resend(request_id: str, session: SessionDep, ctx: ContextDep, http: HttpRequest) -> ResendOut:
    """Send a new code (the old one stops working). Limited to one a minute and five an hour.
    `{request_id}` is the id or the reference."""
    ip = client_ip(http)
    request_id = rate_limit.guard(
        ctx, "resend", ip=ip, identifier=partial(resolve_request_id, key=request_id)
    )
    request = requests.get(session, request_id)
    done = service.resend(session, ctx, request, Actor("subject", request.id, ip))
    return ResendOut(sent_to=done.sent_to, expires_in=done.expires_in, retry_after=done.retry_after)

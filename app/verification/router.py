"""Public routes that prove the filer holds the e-mail address."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi import Request as HttpRequest

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
    request = requests.get(session, resolve_request_id(session, request_id))
    done = service.verify_code(
        session, ctx, request, body.code, Actor("subject", request.id, client_ip(http))
    )
    return Token(access_token=done.access_token, expires_in=done.expires_in)


@router.post(
    "/resend",
    response_model=ResendOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "No such request"},
        409: {"description": "The request has no e-mail address to send a code to"},
        429: {"description": "Too soon or too many; see Retry-After"},
    },
)
def resend(request_id: str, session: SessionDep, ctx: ContextDep, http: HttpRequest) -> ResendOut:
    """Send a new code (the old one stops working). Limited to one a minute and five an hour.
    `{request_id}` is the id or the reference."""
    request = requests.get(session, resolve_request_id(session, request_id))
    done = service.resend(session, ctx, request, Actor("subject", request.id, client_ip(http)))
    return ResendOut(sent_to=done.sent_to, expires_in=done.expires_in, retry_after=done.retry_after)

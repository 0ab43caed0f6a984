"""Public routes for data subjects and proxies (the portal)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status
from fastapi import Request as HttpRequest

from app.core.actors import Actor
from app.core.deps import ContextDep, SessionDep, SubjectToken, client_ip
from app.law.rights import Channel
from app.requests import service
from app.requests.schemas import (
    RequestCreate,
    RequestCreated,
    RequestPublic,
    WithdrawIn,
)
from app.requests.views import created_view, public_view

router = APIRouter(prefix="/v1/requests", tags=["requests (public)"])

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
    this request.
    """
    actor = Actor("subject", None, client_ip(http))

    def file(session):
        now = ctx.clock.now()
        return now, service.submit(
            session, ctx, body, channel=Channel.portal, received_at=now, actor=actor
        )

    # The hottest route: filings are committed in groups by one writer thread (see
    # core/group_writer.py); the answer waits for its group's commit.
    now, filed = await asyncio.wrap_future(ctx.intake_writer.submit(file))
    response.headers["Location"] = f"/v1/requests/{filed.id}"
    return created_view(filed, now, ctx.settings.code_ttl_seconds)


@router.get(
    "/{request_id}",
    response_model=RequestPublic,
    responses={401: {"description": "No or bad token"}, 404: {"description": "Not yours"}},
)
def read_request(
    request_id: str, principal: SubjectToken, session: SessionDep, ctx: ContextDep
) -> RequestPublic:
    """Follow your request: status, deadline, days left, timeline and the notices sent."""
    principal.owns(request_id)
    request = service.get(session, request_id)
    return public_view(session, request, ctx.clock.now())


@router.post(
    "/{request_id}/withdraw",
    response_model=RequestPublic,
    responses={
        401: {"description": "No or bad token"},
        404: {"description": "Not yours"},
        409: {"description": "Already closed"},
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
    principal.owns(request_id)
    request = service.withdraw(
        session, ctx, request_id, reason=body.reason if body else None, actor=principal.actor
    )
    return public_view(session, request, ctx.clock.now())

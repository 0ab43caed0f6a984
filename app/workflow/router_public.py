"""The subject's objection (이의제기) to a refusal or partial grant."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.core.deps import ContextDep, SessionDep, SubjectToken
from app.requests import service as requests
from app.requests.schemas import RequestPublic
from app.requests.views import public_view
from app.workflow import service
from app.workflow.schemas import ObjectionIn

router = APIRouter(prefix="/v1/requests", tags=["requests (public)"])


@router.post(
    "/{request_id}/objections",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestPublic,
    responses={
        401: {"description": "No or bad token"},
        404: {"description": "Not yours"},
        409: {"description": "Nothing to object to, or the time to object has passed"},
    },
)
def object_to_decision(
    request_id: str,
    body: ObjectionIn,
    principal: SubjectToken,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestPublic:
    """Object to a refusal or a partial grant, within the window the decision notice states
    (30 days by default). The request reopens for the privacy officer to decide again within
    10 days; you get a notice that the objection was received."""
    principal.owns(request_id)
    request = requests.get(session, request_id)
    service.object_to(session, ctx, request, body.reason, principal.actor)
    return public_view(session, request, ctx.clock.now())

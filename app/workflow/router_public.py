"""The subject's objection (이의제기, PIPA Art. 38(5)) to a refusal, a partial grant, a rejection
or an extension."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.core.deps import ContextDep, SessionDep, SubjectToken, owned_request_id
from app.core.responses import NOT_A_SUBJECT
from app.requests import service as requests
from app.requests.schemas import RequestPublic
from app.workflow import service
from app.workflow.schemas import ObjectionIn
from app.workflow.views import public_view

router = APIRouter(prefix="/v1/requests", tags=["requests (public)"], responses=NOT_A_SUBJECT)


@router.post(
    "/{request_id}/objections",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestPublic,
    responses={
        401: {"description": "No or bad token"},
        404: {"description": "Not yours"},
        409: {"description": "Nothing to object to, or the time to object has passed"},
        410: {"description": "The request's personal data was purged (retention ran out)"},
    },
)
def object_to_decision(
    request_id: str,
    body: ObjectionIn,
    principal: SubjectToken,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestPublic:
    """Object (이의제기, PIPA Art. 38(5)) within the window the notice states (30 days by
    default; for an extension, counted from the extension):

    - to a refusal or a partial grant: the request reopens for the privacy officer to decide
      again within 10 days;
    - to a rejection (identity or authority not confirmed): the request returns to
      verification for a person to review;
    - to an extension: the privacy officer reviews it; the status does not change.

    You get a notice that the objection was received. `objection.allowed` in the request's
    view says whether you may object now; otherwise 409. `{request_id}` is the id or the
    reference."""
    request = requests.get(session, owned_request_id(session, principal, request_id))
    service.object_to(session, ctx, request, body.reason, principal.actor)
    return public_view(session, ctx, request, ctx.clock.now())

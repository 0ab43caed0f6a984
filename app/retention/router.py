"""The company profile, a request's plan, and holds (staff)."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlmodel import Session

from app.core.deps import AnyStaff, ContextDep, IfMatch, Operator, SessionDep
from app.core.errors import NotFound
from app.models import Request
from app.profile.loader import Profile
from app.requests.locks import lock_request
from app.retention import holds as holds_service
from app.retention.plan import build_plan
from app.retention.schemas import HoldIn, HoldPublic, PlanItemPublic, PlanPublic
from app.workflow.service import check_version

router = APIRouter(prefix="/v1/staff", tags=["staff: retention"])

READ = {
    401: {"description": "No or bad token"},
    403: {"description": "Role or assignment does not allow it"},
    404: {"description": "No such request"},
}
WRITE = {
    **READ,
    409: {"description": "The request's status or type does not allow it"},
    412: {"description": "Stale version: someone changed the request first"},
    422: {"description": "Invalid body"},
    428: {"description": "If-Match missing"},
}


def _request(session: Session, request_id: str) -> Request:
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    return request


def _locked(session: Session, request_id: str, version: int) -> Request:
    # The one lock order: the request row first, then (in lifecycle) the access record.
    request = lock_request(session, request_id)
    check_version(request, version)
    return request


@router.get("/profile", response_model=Profile, responses={401: READ[401], 403: READ[403]})
def get_profile(principal: AnyStaff, ctx: ContextDep) -> Profile:
    """The company profile in force: data categories (their items, systems and the retention
    rules that bind them), the retention rules of the privacy policy, and the processors
    (수탁자). Read-only: a deploying company changes it in its profile file."""
    return ctx.profile


@router.get("/requests/{request_id}/plan", response_model=PlanPublic, responses=READ)
def get_plan(
    request_id: str, principal: AnyStaff, session: SessionDep, ctx: ContextDep
) -> PlanPublic:
    """What each system does with each category in scope: `delete`/`suspend` now, `retain`
    the records a law names for its period, `hold` while an investigation or debt lasts,
    `correct` (the categories holding the corrected items) or `collect` (access). `decision`
    is a body for `POST …/decision` that follows the plan. Shows no personal data."""
    request = _request(session, request_id)
    principal.may_see(request.assignee_id)
    plan = build_plan(session, ctx, request)
    return PlanPublic(
        request_id=plan.request_id,
        type=plan.type,
        items=[PlanItemPublic(**i.as_dict()) for i in plan.items],
        decision=plan.decision,
    )


@router.post(
    "/requests/{request_id}/holds",
    status_code=status.HTTP_201_CREATED,
    response_model=HoldPublic,
    responses=WRITE,
)
def add_hold(
    request_id: str,
    body: HoldIn,
    principal: Operator,
    version: IfMatch,
    session: SessionDep,
    ctx: ContextDep,
) -> HoldPublic:
    """Keep a category of a deletion or suspension request while an investigation for breach
    of law or a debt from the service lasts (policy Art. 3). Set before the decision; the plan
    then shows `hold` and the suggested decision refuses the category. Bumps the version."""
    request = _locked(session, request_id, version)
    return holds_service.view(holds_service.add(session, ctx, request, body, principal))


@router.delete("/requests/{request_id}/holds/{hold_id}", response_model=HoldPublic, responses=WRITE)
def release_hold(
    request_id: str,
    hold_id: str,
    principal: Operator,
    version: IfMatch,
    session: SessionDep,
    ctx: ContextDep,
) -> HoldPublic:
    """Release a hold: the investigation ended or the debt was settled. Bumps the version."""
    request = _locked(session, request_id, version)
    return holds_service.view(holds_service.release(session, ctx, request, hold_id, principal))

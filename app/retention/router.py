"""The company profile, a request's plan, and holds (staff)."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.core.deps import AnyStaff, ContextDep, Operator, SessionDep, resolve_request_id
from app.core.responses import IF_MATCH_MISSING, INVALID_BODY, ON_A_REQUEST, STALE
from app.profile.loader import Profile
from app.requests.deps import ToChange
from app.requests.locks import get_request
from app.retention import holds as holds_service
from app.retention.plan import build_plan
from app.retention.schemas import HoldIn, HoldPublic, PlanItemPublic, PlanPublic

router = APIRouter(prefix="/v1/staff", tags=["staff: retention"])

READ = ON_A_REQUEST
WRITE = {
    **READ,
    409: {"description": "The request's status or type does not allow it"},
    **STALE,
    **INVALID_BODY,
    **IF_MATCH_MISSING,
}


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
    request = get_request(session, resolve_request_id(session, request_id))
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
    body: HoldIn,
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
) -> HoldPublic:
    """Keep a category of a deletion or suspension request while an investigation for breach
    of law or a debt from the service lasts (policy Art. 3). Set before the decision; the plan
    then shows `hold` and the suggested decision refuses the category. Bumps the version."""
    request = target.lock()
    return holds_service.view(holds_service.add(session, ctx, request, body, principal))


@router.delete("/requests/{request_id}/holds/{hold_id}", response_model=HoldPublic, responses=WRITE)
def release_hold(
    request_id: str,  # named first: the OpenAPI document lists it before hold_id
    hold_id: str,
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
) -> HoldPublic:
    """Release a hold: the investigation ended or the debt was settled. Bumps the version."""
    request = target.lock()
    return holds_service.view(holds_service.release(session, ctx, request, hold_id, principal))

"""Self-service consent withdrawals (the profile's `consents.*.self_service`).

A withdrawal the company can act on by itself — a consent flag in one system — is not waited
on by a person (Art. 37(3): "without delay"). Once the requester is verified, the system
decides as the plan says (the consent's processing stops; what it collected is deleted unless
the law keeps it, and the notice names the law), the tasks go to the integration of that
system, and its last confirmation completes the request. The timeline and the access record
name the system as the decider and the integration client as the one who carried it out.
"""

from __future__ import annotations

from sqlmodel import Session

from app.core.actors import SYSTEM, Actor
from app.core.context import AppContext
from app.models import Request
from app.requests.lifecycle import Action, Status
from app.retention.plan import build_plan, withdrawn_consents
from app.workflow import tasks
from app.workflow.schemas import DecisionIn


def is_self_service(ctx: AppContext, request: Request) -> bool:
    """Every consent the withdrawal names is marked self-service in the profile."""
    if request.type != "consent_withdrawal":
        return False
    consents = ctx.profile.consents
    named = withdrawn_consents(request)
    return bool(named) and all(c in consents and consents[c].self_service for c in named)


def carry_out(session: Session, ctx: AppContext, request: Request, *, actor: Actor) -> str | None:
    """Right after verification: decide a self-service withdrawal as its plan says and hand
    out the work; returns the new status (None when the request is not self-service)."""
    from app.workflow.service import record_decision

    if request.status != Status.open or not is_self_service(ctx, request):
        return None
    plan = build_plan(session, ctx, request)
    body = DecisionIn.model_validate(plan.decision)
    record_decision(session, ctx, request, body, plan, actor=SYSTEM, action=Action.carry_out)
    return request.status


def finish_if_done(session: Session, ctx: AppContext, request: Request, *, actor: Actor) -> bool:
    """After an integration's confirmation: a self-service withdrawal the system decided is
    completed once no work is left (a failed task waits for a person)."""
    from app.workflow.service import finish, latest_decision

    if request.status != Status.fulfilling or not is_self_service(ctx, request):
        return False
    decision = latest_decision(session, request.id)
    if decision is None or decision.decided_by != SYSTEM.label:
        return False
    if tasks.unfinished(session, request.id):
        return False
    finish(session, ctx, request, actor=actor, note=None)
    return True

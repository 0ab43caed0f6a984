"""Holds (policy Art. 3): a category is kept past a deletion or suspension while an
investigation or a debt lasts. Set and released by staff; each changes the plan, so each
bumps the request's version and is in the timeline and the access record."""

from __future__ import annotations

from sqlmodel import Session, select

from app.core.context import AppContext
from app.core.deps import StaffPrincipal
from app.core.errors import Conflict, NotFound, ValidationProblem
from app.core.ids import new_id
from app.models import Hold, Request
from app.requests import lifecycle
from app.requests.lifecycle import Status
from app.retention.plan import KEEP_GROUND
from app.retention.schemas import HoldIn, HoldPublic

# A hold shapes the decision, so it is set before it; once a decision is carried out a new
# hold would contradict it (an objection reopens the request, and a hold can be set then).
SETTABLE = (Status.pending_verification, Status.open, Status.in_progress)


def _aad(hold_id: str) -> str:
    return f"hold.note:{hold_id}"


def view(hold: Hold) -> HoldPublic:
    return HoldPublic(
        id=hold.id,
        request_id=hold.request_id,
        category=hold.category,
        kind=hold.kind,
        note_given=hold.note_enc is not None,
        created_at=hold.created_at,
        created_by=hold.created_by,
        released_at=hold.released_at,
        released_by=hold.released_by,
    )


def add(
    session: Session, ctx: AppContext, request: Request, body: HoldIn, principal: StaffPrincipal
) -> Hold:
    principal.may_see(request.assignee_id)
    if request.type not in KEEP_GROUND:
        raise Conflict(
            f"A {request.type} request deletes or suspends nothing, so nothing is held.",
            slug="conflict",
        )
    if Status(request.status) not in SETTABLE:
        raise lifecycle.IllegalTransition(
            Status(request.status),
            detail=f"A hold is set before the decision; this request is {request.status}.",
        )
    if body.category not in request.categories:
        raise ValidationProblem(
            "category",
            "not_in_scope",
            f"in scope: {', '.join(request.categories)}",
            detail="The category is not in this request's scope.",
        )
    same = session.exec(
        select(Hold).where(
            Hold.request_id == request.id,
            Hold.category == body.category,
            Hold.kind == body.kind,
            Hold.released_at.is_(None),
        )
    ).first()
    if same is not None:
        raise Conflict(
            f"A {body.kind} hold on {body.category} is already in place.",
            slug="conflict",
            hold_id=same.id,
        )
    now, actor = ctx.clock.now(), principal.actor
    hold = Hold(
        id=new_id("hld"),
        request_id=request.id,
        category=body.category,
        kind=body.kind,
        created_at=now,
        created_by=actor.label,
    )
    hold.note_enc = ctx.keys.encrypt(body.note, _aad(hold.id))
    session.add(hold)
    # A neutral kind: the subject's timeline shows kinds, and "investigation" could tip off.
    lifecycle.changed(
        session,
        request,
        "plan.changed",
        actor=actor,
        at=now,
        detail={"hold": hold.id, "set": True, "category": body.category, "kind": body.kind},
    )
    return hold


def release(
    session: Session, ctx: AppContext, request: Request, hold_id: str, principal: StaffPrincipal
) -> Hold:
    """The investigation ended or the debt was settled. Released in any status: the record
    must show when the reason to keep ended."""
    principal.may_see(request.assignee_id)
    lifecycle.refuse_purged(request)  # before "already released": a purged record takes nothing
    hold = session.exec(
        select(Hold).where(Hold.id == hold_id, Hold.request_id == request.id)
    ).first()
    if hold is None:
        raise NotFound("No such hold on this request.")
    if hold.released_at is not None:
        raise Conflict(f"The hold was released at {hold.released_at.isoformat()}.", slug="conflict")
    now, actor = ctx.clock.now(), principal.actor
    hold.released_at = now
    hold.released_by = actor.label
    session.add(hold)
    lifecycle.changed(
        session,
        request,
        "plan.changed",
        actor=actor,
        at=now,
        detail={"hold": hold.id, "set": False, "category": hold.category, "kind": hold.kind},
    )
    return hold

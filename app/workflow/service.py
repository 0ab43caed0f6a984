"""The CPO's actions on a request: assign, verify, extend, decide, complete; and the
subject's objection. Every status change goes through the lifecycle; services only flush."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.accounts import service as accounts
from app.core.actors import SYSTEM, Actor
from app.core.context import AppContext
from app.core.db import Database
from app.core.deps import StaffPrincipal
from app.core.errors import Conflict, Problem
from app.core.ids import new_id
from app.law.deadlines import end_of_day, seoul_date, statutory_due_at
from app.law.grounds import problems_with_grounds
from app.law.rights import Channel
from app.models import Decision, Extension, Objection, Request, Task
from app.requests import lifecycle
from app.requests.lifecycle import Action, Status
from app.requests.notices import day, ground_views, moment, notify
from app.workflow import notes, tasks
from app.workflow.schemas import AssignIn, DecisionIn, ExtendIn, Outcome, VerifyIn

ACTIVE = (Status.pending_verification, Status.open, Status.in_progress, Status.fulfilling)
# Filings that arrive through our own forms, where the code is the only proof offered.
PUBLIC_CHANNELS = (Channel.portal.value, Channel.api.value)


def check_version(request: Request, expected: int) -> None:
    if request.version != expected:
        raise Problem(
            412,
            "precondition-failed",
            f"The request is at version {request.version}, not {expected}: reload it.",
            version=request.version,
        )


def may_work_on(principal: StaffPrincipal, request: Request) -> None:
    """Handlers work the requests assigned to them (or nobody yet); the CPO works all
    (routes admit only those two roles to act)."""
    principal.may_see(request.assignee_id)


def objection_until(ctx: AppContext, at: datetime) -> datetime:
    return end_of_day(seoul_date(at) + timedelta(days=ctx.settings.objection_window_days))


# --- assign -----------------------------------------------------------------------------------


def assign(
    session: Session, ctx: AppContext, request: Request, body: AssignIn, principal: StaffPrincipal
) -> Request:
    assignee = accounts.find(session, body.assignee)
    if assignee is None or not assignee.active or assignee.role not in ("cpo", "handler"):
        raise Problem(
            422,
            "validation-error",
            "The assignee must be an active cpo or handler.",
            errors=[
                {
                    "field": "assignee",
                    "code": "unknown_assignee",
                    "message": "no active cpo or handler with this id or e-mail",
                }
            ],
        )
    if not principal.is_cpo and assignee.id != principal.id:
        raise Problem(403, "forbidden", "A handler may only take a request for themselves.")
    may_work_on(principal, request)
    if Status(request.status) not in ACTIVE and request.status != Status.refused:
        raise lifecycle.IllegalTransition(
            Status(request.status), detail=f"A {request.status} request takes no assignee."
        )
    now, actor = ctx.clock.now(), principal.actor
    previous = request.assignee_id
    request.assignee_id = assignee.id
    if request.status == Status.open:
        lifecycle.transition(
            session, request, Action.assign, actor=actor, at=now, detail={"assignee": assignee.id}
        )
        tasks.create(session, request, tasks.DECIDE, now=now, assignee_id=assignee.id)
    else:
        lifecycle.changed(
            session,
            request,
            "assigned",
            actor=actor,
            at=now,
            detail={"assignee": assignee.id, "previous": previous},
        )
    tasks.reassign(session, request.id, assignee.id)
    return request


# --- verify -----------------------------------------------------------------------------------


def verify(
    session: Session, ctx: AppContext, request: Request, body: VerifyIn, principal: StaffPrincipal
) -> Request:
    """A person confirms the requester's identity or authority (Decree 46), or cannot."""
    may_work_on(principal, request)
    now, actor = ctx.clock.now(), principal.actor
    detail = {"method": body.method, "note_given": body.note is not None}
    notes.add(session, ctx, request.id, notes.VERIFICATION, body.note, actor=actor, at=now)
    if body.outcome == "verified":
        lifecycle.transition(session, request, Action.verify, actor=actor, at=now, detail=detail)
        tasks.close(session, request.id, (tasks.VERIFY,), now=now, actor=actor)
    else:
        reject_identity(session, ctx, request, actor=actor, now=now, detail=detail)
    return request


def reject_identity(
    session: Session,
    ctx: AppContext,
    request: Request,
    *,
    actor: Actor,
    now: datetime,
    detail: dict,
) -> None:
    """Close a request whose requester could not be confirmed (PIPA-38-identity), and tell
    the requester why and how to object."""
    lifecycle.transition(
        session,
        request,
        Action.reject,
        actor=actor,
        at=now,
        detail={**detail, "grounds": ["PIPA-38-identity"]},
    )
    notify(
        session,
        ctx,
        request,
        "rejected",
        now=now,
        grounds=ground_views(["PIPA-38-identity"]),
        **day("objection_until", objection_until(ctx, now)),
    )
    tasks.close(session, request.id, (tasks.VERIFY,), now=now, actor=actor)


def reject_unverified(db: Database, ctx: AppContext, *, limit: int = 200) -> int:
    """Requests filed by their subject whose code was never entered are closed after
    `unverified_expiry_days`: the identity could not be confirmed (Decree 46), and the law
    wants an answer within the period rather than a request left hanging. Only public filings
    (portal, api) expire: proxies, and requests staff entered from a letter, call or visit
    (received in the Decree 41② sense whatever the e-mail does), wait for a person."""
    now = ctx.clock.now()
    cutoff = now - timedelta(days=ctx.settings.unverified_expiry_days)
    with db.transaction() as session:
        stale = list(
            session.exec(
                select(Request)
                .where(
                    Request.status == Status.pending_verification.value,
                    Request.requester_kind == "self",
                    Request.channel.in_(PUBLIC_CHANNELS),
                    Request.subject_email_bidx.is_not(None),
                    Request.created_at <= cutoff,
                )
                .order_by(Request.created_at)
                .limit(limit)
                # Lock order: every request row first, then (inside reject_identity) the access
                # record's head. Locking row by row while holding the head would deadlock with
                # a code entry, which locks its request and then the head. Rows someone is
                # working on right now are left for the next round.
                .with_for_update(skip_locked=True)
            )
        )
        for request in stale:
            reject_identity(
                session,
                ctx,
                request,
                actor=SYSTEM,
                now=now,
                detail={"method": "email_code", "reason": "code never entered"},
            )
    return len(stale)


# --- extend -----------------------------------------------------------------------------------


def extend(
    session: Session, ctx: AppContext, request: Request, body: ExtendIn, principal: StaffPrincipal
) -> Request:
    """Postpone (연기) with a justified reason; the subject is told the reason and the date
    (PIPA Art. 35(3); Decree 42(2))."""
    may_work_on(principal, request)
    if Status(request.status) not in ACTIVE:
        raise lifecycle.IllegalTransition(
            Status(request.status), detail=f"A {request.status} request has no deadline to extend."
        )
    now, actor = ctx.clock.now(), principal.actor
    new_due = end_of_day(seoul_date(body.due_at))
    if new_due <= request.due_at:
        raise Problem(
            422,
            "validation-error",
            "The new deadline must be later than the current one.",
            errors=[
                {
                    "field": "due_at",
                    "code": "not_later",
                    "message": f"current deadline: {request.due_at.isoformat()}",
                }
            ],
        )
    previous = request.due_at
    extension = Extension(
        id=new_id("ext"),
        request_id=request.id,
        previous_due_at=previous,
        new_due_at=new_due,
        extended_at=now,
        extended_by=actor.label,
        reason_enc="",
    )
    extension.reason_enc = ctx.keys.encrypt(body.reason, f"extension.reason:{extension.id}")
    session.add(extension)
    request.due_at = new_due
    lifecycle.changed(
        session,
        request,
        "extended",
        actor=actor,
        at=now,
        detail={"previous_due_at": previous.isoformat(), "due_at": new_due.isoformat()},
    )
    tasks.follow_deadline(session, request)
    notify(
        session,
        ctx,
        request,
        "extended",
        now=now,
        reason=body.reason,
        **day("previous_due", previous),
        **day("new_due", new_due),
        **day("objection_until", objection_until(ctx, now)),
    )
    return request


# --- decide -----------------------------------------------------------------------------------


def _check_decision(ctx: AppContext, request: Request, body: DecisionIn) -> None:
    errors: list[dict] = []
    public = ctx.settings.public_body
    if body.outcome is Outcome.granted:
        if body.grounds:
            errors.append(
                {
                    "field": "grounds",
                    "code": "not_for_grant",
                    "message": "a full grant cites no grounds to refuse",
                }
            )
    else:
        for message in problems_with_grounds(body.grounds, request.type, public_body=public):
            errors.append({"field": "grounds", "code": "invalid_ground", "message": message})
    if body.outcome is Outcome.partially_granted and not body.items:
        errors.append(
            {
                "field": "items",
                "code": "required",
                "message": "a partial grant lists the result per data category",
            }
        )
    seen = set()
    for i, item in enumerate(body.items or []):
        where = f"items.{i}"
        if item.category not in request.categories:
            errors.append(
                {
                    "field": f"{where}.category",
                    "code": "not_in_scope",
                    "message": f"{item.category} is not among this request's categories",
                }
            )
        if item.category in seen:
            errors.append(
                {"field": f"{where}.category", "code": "duplicate", "message": "listed twice"}
            )
        seen.add(item.category)
        if item.result == "refused":
            for message in problems_with_grounds(item.grounds, request.type, public_body=public):
                errors.append(
                    {"field": f"{where}.grounds", "code": "invalid_ground", "message": message}
                )
        elif item.grounds:
            errors.append(
                {
                    "field": f"{where}.grounds",
                    "code": "not_for_grant",
                    "message": "a granted item cites no grounds",
                }
            )
    if body.items and body.outcome is not Outcome.partially_granted:
        results = {i.result for i in body.items}
        expected = "granted" if body.outcome is Outcome.granted else "refused"
        if results != {expected}:
            errors.append(
                {
                    "field": "items",
                    "code": "contradicts_outcome",
                    "message": f"every item of a {body.outcome.value} decision is {expected}",
                }
            )
    if body.outcome is Outcome.partially_granted and body.items:
        if {i.result for i in body.items} != {"granted", "refused"}:
            errors.append(
                {
                    "field": "items",
                    "code": "not_partial",
                    "message": "a partial grant has granted and refused items",
                }
            )
    if errors:
        slug = (
            "invalid-grounds"
            if any(e["code"] == "invalid_ground" for e in errors)
            else "validation-error"
        )
        raise Problem(
            422, slug, "The decision does not meet the rules for this request.", errors=errors
        )


def decide(
    session: Session, ctx: AppContext, request: Request, body: DecisionIn, principal: StaffPrincipal
) -> Decision:
    may_work_on(principal, request)
    lifecycle.next_status(
        request.status, Action.grant if body.outcome is not Outcome.refused else Action.refuse
    )  # 409 before the 422s when the state is wrong
    _check_decision(ctx, request, body)
    now, actor = ctx.clock.now(), principal.actor
    refused = body.outcome is Outcome.refused
    decision = Decision(
        id=new_id("dec"),
        request_id=request.id,
        outcome=body.outcome.value,
        grounds=body.grounds,
        items=[i.model_dump() for i in body.items or []],
        explanation_enc="",
        decided_at=now,
        decided_by=actor.label,
        objection_until=None if body.outcome is Outcome.granted else objection_until(ctx, now),
    )
    decision.explanation_enc = ctx.keys.encrypt(
        body.explanation, f"decision.explanation:{decision.id}"
    )
    session.add(decision)
    lifecycle.transition(
        session,
        request,
        Action.refuse if refused else Action.grant,
        actor=actor,
        at=now,
        detail={"outcome": body.outcome.value, "grounds": body.grounds},
    )
    tasks.close(session, request.id, (tasks.DECIDE, tasks.REVIEW_OBJECTION), now=now, actor=actor)
    for objection in session.exec(
        select(Objection).where(Objection.request_id == request.id, Objection.resolved_at.is_(None))
    ):
        objection.resolved_at = now
        session.add(objection)
    granted = (
        []
        if refused
        else [i.category for i in body.items if i.result == "granted"]
        if body.items
        else list(request.categories)
    )
    # A re-decision (after an objection) voids the work of what it no longer grants.
    voided = tasks.void_fulfilment(session, request.id, granted, now=now, actor=actor)
    if voided:
        lifecycle.record(
            session, request.id, "tasks.voided", actor=actor, at=now, detail={"fulfil": voided}
        )
    if not refused and request.type != "access":
        existing = {
            (t.category, t.system)
            for t in session.exec(
                select(Task).where(
                    Task.request_id == request.id,
                    Task.kind == tasks.FULFIL,
                    Task.status != "cancelled",  # voided work is owed again when re-granted
                )
            )
        }
        for category, system in tasks.fulfilment_targets(ctx, granted):
            if (category, system) not in existing:
                tasks.create(
                    session,
                    request,
                    tasks.FULFIL,
                    now=now,
                    assignee_id=request.assignee_id,
                    category=category,
                    system=system,
                )
    names = {k: c for k, c in ctx.profile.categories.items()}
    notify(
        session,
        ctx,
        request,
        "decision",
        now=now,
        outcome=body.outcome.value,
        grounds=ground_views(body.grounds),
        explanation=body.explanation,
        **moment("decided", now),
        items=[
            {
                "name_ko": names[i.category].name_ko,
                "name_en": names[i.category].name_en,
                "result": i.result,
                "grounds": ground_views(i.grounds),
            }
            for i in body.items or []
        ],
        **day("objection_until", decision.objection_until or objection_until(ctx, now)),
    )
    return decision


# --- complete ---------------------------------------------------------------------------------


def complete(
    session: Session, ctx: AppContext, request: Request, principal: StaffPrincipal, note: str | None
) -> Request:
    may_work_on(principal, request)
    lifecycle.next_status(request.status, Action.complete)
    pending = tasks.open_tasks(session, request.id, tasks.FULFIL)
    if pending:
        raise Conflict(
            f"{len(pending)} fulfilment task(s) are still open.",
            slug="conflict",
            open_tasks=[t.id for t in pending],
        )
    now, actor = ctx.clock.now(), principal.actor
    lifecycle.transition(
        session,
        request,
        Action.complete,
        actor=actor,
        at=now,
        detail={"note_given": note is not None},
    )
    notes.add(session, ctx, request.id, notes.COMPLETION, note, actor=actor, at=now)
    decision = latest_decision(session, request.id)
    done = (
        [i["category"] for i in decision.items if i["result"] == "granted"]
        if decision and decision.items
        else list(request.categories)
    )
    cats = ctx.profile.categories
    notify(
        session,
        ctx,
        request,
        "completed",
        now=now,
        **moment("completed", now),
        items=[{"name_ko": cats[c].name_ko, "name_en": cats[c].name_en} for c in done if c in cats],
    )
    return request


def latest_decision(session: Session, request_id: str) -> Decision | None:
    return session.exec(
        select(Decision)
        .where(Decision.request_id == request_id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    ).first()


# --- object -----------------------------------------------------------------------------------


def object_to(
    session: Session, ctx: AppContext, request: Request, reason: str, actor: Actor
) -> Objection:
    """The subject objects to a refusal or partial grant (이의제기, Art. 38(5)) within the window;
    the request reopens with a review task for the CPO and a new 10-day period."""
    decision = latest_decision(session, request.id)
    objectionable = decision is not None and decision.outcome in ("refused", "partially_granted")
    if not objectionable or request.status not in (
        Status.refused,
        Status.fulfilling,
        Status.completed,
    ):
        raise Conflict(
            "Only a refusal or a partial grant can be objected to.",
            slug="illegal-transition",
            status_now=request.status,
            allowed_actions=[],
        )
    now = ctx.clock.now()
    if decision.objection_until and now > decision.objection_until:
        raise Conflict(
            f"The time to object ended on {seoul_date(decision.objection_until)}.",
            objection_until=decision.objection_until.isoformat(),
        )
    objection = Objection(
        id=new_id("obj"),
        request_id=request.id,
        decision_id=decision.id,
        filed_at=now,
        reason_enc="",
    )
    objection.reason_enc = ctx.keys.encrypt(reason, f"objection.reason:{objection.id}")
    session.add(objection)
    request.due_at = statutory_due_at(now)
    lifecycle.transition(
        session,
        request,
        Action.object,
        actor=actor,
        at=now,
        detail={
            "objection": objection.id,
            "decision": decision.id,
            "due_at": request.due_at.isoformat(),
        },
    )
    tasks.follow_deadline(session, request)
    tasks.create(session, request, tasks.REVIEW_OBJECTION, now=now)
    notify(
        session,
        ctx,
        request,
        "objection_received",
        now=now,
        **moment("filed", now),
        **day("new_due", request.due_at),
    )
    return objection

"""The CPO's actions on a request: assign, verify, extend, decide, complete; and the
subject's objection. Every status change goes through the lifecycle; services only flush."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.accounts import service as accounts
from app.core.actors import SYSTEM, Actor
from app.core.context import AppContext
from app.core.db import Database
from app.core.deps import StaffPrincipal
from app.core.errors import Conflict, Problem, ValidationProblem
from app.core.ids import new_id
from app.law import retention as retention_law
from app.law.deadlines import end_of_day, extension_limit, seoul_date, statutory_due_at
from app.law.grounds import problems_with_automated_grounds, problems_with_grounds
from app.law.rights import RIGHTS, Channel, RequestType
from app.models import Decision, Extension, Objection, Request
from app.requests import lifecycle
from app.requests.lifecycle import Action, Status
from app.requests.locks import lock_request
from app.requests.notices import day, ground_views, moment, notify
from app.results import service as results
from app.retention.plan import KEEP_GROUND, Plan, build_plan
from app.workflow import decisions, notes, tasks
from app.workflow.schemas import AssignIn, DecisionIn, ExtendIn, Outcome, VerifyIn

ACTIVE = (Status.pending_verification, Status.open, Status.in_progress, Status.fulfilling)
# Filings that arrive through our own forms, where the code is the only proof offered.
PUBLIC_CHANNELS = (Channel.portal.value, Channel.api.value)


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
    # `me`: the caller takes it (a handler's usual way; the dashboard needs no user id).
    assignee = accounts.find(session, principal.id if body.assignee == "me" else body.assignee)
    if assignee is None or not assignee.active or assignee.role not in ("cpo", "handler"):
        raise ValidationProblem(
            "assignee",
            "unknown_assignee",
            "no active cpo or handler with this id or e-mail",
            detail="The assignee must be an active cpo or handler.",
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
        # An objection to an earlier rejection is answered by this check.
        resolve_objections(session, request.id, now=now, actor=actor, kind="rejection")
        from app.workflow import self_service

        self_service.carry_out(session, ctx, request, actor=actor)
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
    resolve_objections(session, request.id, now=now, actor=actor, kind="rejection")


def reject_unverified(db: Database, ctx: AppContext, *, limit: int = 200) -> int:
    """Requests filed by their subject whose code was never entered are closed after
    `unverified_expiry_days`: the identity could not be confirmed (Decree 46), and the law
    wants an answer within the period rather than a request left hanging. Only public filings
    (portal, api) expire: proxies, and requests staff entered from a letter, call or visit
    (received in the Decree 41② sense whatever the e-mail does), wait for a person."""
    now = ctx.clock.now()
    cutoff = now - timedelta(days=ctx.settings.unverified_expiry_days)
    expired = (
        select(Request)
        .where(
            Request.status == Status.pending_verification.value,
            Request.requester_kind == "self",
            Request.channel.in_(PUBLIC_CHANNELS),
            Request.subject_email_bidx.is_not(None),
            Request.created_at <= cutoff,
            # Back in verification after an objection to its rejection: a person
            # reviews it (Art. 38(5)); the clock does not reject it again.
            ~select(Objection.id)
            .where(Objection.request_id == Request.id, Objection.resolved_at.is_(None))
            .exists(),
        )
        # A range seek on ix_request_status_created_at (status, created_at), whatever the
        # number of requests waiting for their code; without that index, a read of all of them.
        .order_by(Request.created_at)
    )
    # Nearly every round finds nothing: look first without the write lock (on SQLite the lock
    # every filing needs), and lock rows only when some have expired.
    with db.transaction(write=False) as session:
        if session.exec(expired.with_only_columns(Request.id).limit(1)).first() is None:
            return 0
    with db.transaction() as session:
        stale = list(
            session.exec(
                expired.limit(limit)
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
    right = RIGHTS[RequestType(request.type)]
    done = len(session.exec(select(Extension.id).where(Extension.request_id == request.id)).all())
    if right.max_extensions is not None and done >= right.max_extensions:
        # Decree 44-3: an automated-decision request may be extended twice, no more.
        raise Conflict(
            f"A {request.type} request may be extended {right.max_extensions} times at most "
            f"({right.decree}); it has been extended {done} times.",
            slug="extension-limit",
            extensions=done,
            max_extensions=right.max_extensions,
        )
    if right.extension_days is not None:
        limit = extension_limit(seoul_date(request.due_at), right.extension_days)
        if seoul_date(new_due) > limit:
            raise Problem(
                422,
                "validation-error",
                f"An extension may add at most {right.extension_days} days ({right.decree}).",
                errors=[
                    {
                        "field": "due_at",
                        "code": "too_late",
                        "message": f"at most {limit.isoformat()} (the current deadline "
                        f"{seoul_date(request.due_at).isoformat()} plus "
                        f"{right.extension_days} days)",
                    }
                ],
            )
    if new_due <= request.due_at:
        raise ValidationProblem(
            "due_at",
            "not_later",
            f"current deadline: {request.due_at.isoformat()}",
            detail="The new deadline must be later than the current one.",
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
        extension_number=done + 1,
        max_extensions=right.max_extensions,
        **day("previous_due", previous),
        **day("new_due", new_due),
        **day("objection_until", objection_until(ctx, now)),
    )
    return request


# --- decide -----------------------------------------------------------------------------------


def _check_decision(
    session: Session, ctx: AppContext, request: Request, body: DecisionIn
) -> Plan | None:
    """422 unless the decision fits the registry, the scope, the corrected items and, for a
    deletion or suspension, the plan (returned, for the decision items)."""
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
        results = {i.result for i in body.items}
        # A withdrawal's processing stops even when the law keeps every category it collected:
        # granted in part with every deletion refused.
        withdrawal_kept = request.type == "consent_withdrawal" and results == {"refused"}
        if results != {"granted", "refused"} and not withdrawal_kept:
            errors.append(
                {
                    "field": "items",
                    "code": "not_partial",
                    "message": "a partial grant has granted and refused items",
                }
            )
    if request.type == "automated_decision":
        kind = (request.scope_detail or {}).get("kind", "")
        for message in problems_with_automated_grounds(body.grounds, kind):
            errors.append({"field": "grounds", "code": "invalid_ground", "message": message})
    errors += decisions.correction_problems(ctx, request, body)
    plan = build_plan(session, ctx, request) if request.type in KEEP_GROUND else None
    if plan is not None:
        errors += decisions.plan_problems(ctx, request, body, plan)
    if errors:
        slug = (
            "invalid-grounds"
            if any(e["code"] == "invalid_ground" for e in errors)
            else "validation-error"
        )
        raise Problem(
            422, slug, "The decision does not meet the rules for this request.", errors=errors
        )
    return plan


def decide(
    session: Session, ctx: AppContext, request: Request, body: DecisionIn, principal: StaffPrincipal
) -> Decision:
    may_work_on(principal, request)
    action = Action.grant if body.outcome is not Outcome.refused else Action.refuse
    lifecycle.next_status(request.status, action)  # 409 before the 422s when the state is wrong
    plan = _check_decision(session, ctx, request, body)
    return record_decision(session, ctx, request, body, plan, actor=principal.actor, action=action)


def record_decision(
    session: Session,
    ctx: AppContext,
    request: Request,
    body: DecisionIn,
    plan: Plan | None,
    *,
    actor: Actor,
    action: Action,
) -> Decision:
    """Store a checked decision, move the request on (`action`: grant, refuse, or carry_out
    for a self-service withdrawal), hand out the work and tell the filer."""
    now = ctx.clock.now()
    refused = body.outcome is Outcome.refused
    decision = Decision(
        id=new_id("dec"),
        request_id=request.id,
        outcome=body.outcome.value,
        grounds=body.grounds,
        items=decisions.decision_items(request, body, plan),
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
        action,
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
    if not refused:
        # Carried out by tasks for exactly the systems the plan names: collect (access), or
        # delete, suspend, correct; what the plan retains or holds gets no task.
        tasks.create_from_plan(session, ctx, request, granted, now=now)
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
        # From the stored items: a category the law keeps carries its law and period, which
        # the notice names (Art. 36(1) proviso: the subject is told why it stays).
        items=[
            {
                "name_ko": names[i["category"]].name_ko,
                "name_en": names[i["category"]].name_en,
                "result": i["result"],
                "grounds": ground_views(i.get("grounds") or []),
                "law_ko": i.get("law_ko"),
                "law_en": i.get("law_en"),
                "period_ko": retention_law.period_ko(i["period"]) if i.get("period") else None,
                "period_en": retention_law.period_en(i["period"]) if i.get("period") else None,
                "retain_until": i.get("retain_until"),
            }
            for i in decision.items or []
            if i["category"] in names
        ],
        **day("objection_until", decision.objection_until or objection_until(ctx, now)),
        automated=automated_notice(ctx, request),
    )
    return decision


def automated_notice(ctx: AppContext, request: Request) -> dict | None:
    """For an automated-decision request: what the decision notice quotes from the profile —
    the decision, and the criteria and procedure published under Art. 37-2(4)."""
    if request.type != "automated_decision":
        return None
    detail = request.scope_detail or {}
    declared = ctx.profile.automated_decisions.get(detail.get("decision") or "")
    cats = ctx.profile.categories
    return {
        "kind": detail.get("kind"),
        "declared": declared is not None,
        "description_ko": declared.description_ko if declared else None,
        "description_en": declared.description_en if declared else None,
        "criteria_ko": declared.criteria_ko if declared else None,
        "criteria_en": declared.criteria_en if declared else None,
        "procedure_ko": declared.procedure_ko if declared else None,
        "procedure_en": declared.procedure_en if declared else None,
        "data_ko": ", ".join(cats[c].name_ko for c in declared.categories if c in cats)
        if declared
        else None,
        "data_en": ", ".join(cats[c].name_en for c in declared.categories if c in cats)
        if declared
        else None,
    }


# --- complete ---------------------------------------------------------------------------------


def complete(
    session: Session, ctx: AppContext, request: Request, principal: StaffPrincipal, note: str | None
) -> Request:
    """Close a request whose decision has been carried out: every fulfil and collect task is
    done (or not found, or failed and waived). For access, the result is assembled here from
    what the collect tasks returned, and the completion notice says where to download it."""

    may_work_on(principal, request)
    return finish(session, ctx, request, actor=principal.actor, note=note)


def finish(
    session: Session, ctx: AppContext, request: Request, *, actor: Actor, note: str | None
) -> Request:
    """Complete a request whose work is all done (staff, or a self-service withdrawal's last
    confirmation)."""
    lifecycle.next_status(request.status, Action.complete)
    pending = tasks.unfinished(session, request.id)
    if pending:
        failed = [t.id for t in pending if t.status == "failed"]
        raise Conflict(
            f"{len(pending)} fulfilment or collect task(s) are not finished"
            + (f", {len(failed)} of them failed (redo or waive them)." if failed else "."),
            slug="conflict",
            open_tasks=[t.id for t in pending if t.status == "open"],
            failed_tasks=failed,
        )
    now = ctx.clock.now()
    decision = latest_decision(session, request.id)
    done = (
        [i["category"] for i in decision.items if i["result"] == "granted"]
        if decision and decision.items
        else list(request.categories)
    )
    result = None
    if request.type in ("access", "transmission"):
        # Decree 41①: what is shown, with its purposes, retention, third parties, processors.
        result = results.assemble(session, ctx, request, done, actor=actor, now=now)
    lifecycle.transition(
        session,
        request,
        Action.complete,
        actor=actor,
        at=now,
        detail={"note_given": note is not None},
    )
    notes.add(session, ctx, request.id, notes.COMPLETION, note, actor=actor, at=now)
    # An objection to an extension asks for the answer sooner: the completion is that answer,
    # so its review leaves the queue instead of waiting for a decision that will not come.
    resolve_objections(session, request.id, now=now, actor=actor, kind="extension")
    cats = ctx.profile.categories
    notify(
        session,
        ctx,
        request,
        "completed",
        now=now,
        **moment("completed", now),
        items=[{"name_ko": cats[c].name_ko, "name_en": cats[c].name_en} for c in done if c in cats],
        result=results.notice_context(ctx, request, result) if result else None,
        automated=automated_notice(ctx, request),
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


@dataclass(frozen=True)
class ObjectionTarget:
    """What the filer may object to now (Art. 38(5)), and until when."""

    kind: str  # decision | rejection | extension
    deadline: datetime
    decision: Decision | None = None
    extension: Extension | None = None


def latest_extension(session: Session, request_id: str) -> Extension | None:
    return session.exec(
        select(Extension)
        .where(Extension.request_id == request_id)
        .order_by(Extension.extended_at.desc(), Extension.id.desc())
        .limit(1)
    ).first()


def objection_target(session: Session, ctx: AppContext, request: Request) -> ObjectionTarget | None:
    """The one rule for what may be objected to, whatever the window says (the caller checks
    the deadline): the view's `objection` and `object_to` both ask it.

    - a refusal, or a partial grant while or after it is carried out;
    - a rejection for unconfirmed identity or authority (PIPA-38-identity, Decree 46), within
      the window counted from the rejection;
    - the latest extension (연기) while the request still waits for us and nothing has been
      decided since, counted from the extension, once per extension."""
    status = Status(request.status)
    if (status, Action.object) in lifecycle.TRANSITIONS:
        if status is Status.rejected:
            at = request.closed_at or request.updated_at
            return ObjectionTarget("rejection", objection_until(ctx, at))
        decision = latest_decision(session, request.id)
        if decision is not None and (
            decision.outcome == "partially_granted"
            or (decision.outcome == "refused" and status is Status.refused)
        ):
            return ObjectionTarget(
                "decision",
                decision.objection_until or objection_until(ctx, decision.decided_at),
                decision=decision,
            )
    if status in lifecycle.EXTENSION_OBJECTABLE:
        extension = latest_extension(session, request.id)
        decision = latest_decision(session, request.id)
        if extension is not None and (
            # A decision since the extension has answered what it postponed.
            decision is None or decision.decided_at < extension.extended_at
        ):
            already = session.exec(
                select(Objection.id).where(Objection.extension_id == extension.id).limit(1)
            ).first()
            if already is None:
                return ObjectionTarget(
                    "extension", objection_until(ctx, extension.extended_at), extension=extension
                )
    return None


def object_to(
    session: Session, ctx: AppContext, request: Request, reason: str, actor: Actor
) -> Objection:
    """The subject objects (이의제기, Art. 38(5)) within the window, to:
    a refusal or partial grant (the request reopens with a review task and a new 10-day
    period); a rejection (back to verification with a review task); an extension (a review
    task; the status stays)."""
    # The request row first (requests/locks.py): parallel objections queue here and the
    # second sees the first's objection (an extension is objected to once).
    request = lock_request(session, request.id)
    target = objection_target(session, ctx, request)
    if target is None:
        raise Conflict(
            "There is nothing to object to: only a refusal, a partial grant, a rejection or an "
            "extension can be objected to.",
            slug="illegal-transition",
            status_now=request.status,
            allowed_actions=[],
        )
    now = ctx.clock.now()
    if now > target.deadline:
        raise Conflict(
            f"The time to object ended on {seoul_date(target.deadline)}.",
            objection_until=target.deadline.isoformat(),
        )
    objection = Objection(
        id=new_id("obj"),
        request_id=request.id,
        kind=target.kind,
        decision_id=target.decision.id if target.decision else None,
        extension_id=target.extension.id if target.extension else None,
        filed_at=now,
        reason_enc="",
    )
    objection.reason_enc = ctx.keys.encrypt(reason, f"objection.reason:{objection.id}")
    session.add(objection)
    detail = {"objection": objection.id, "kind": target.kind}
    if target.kind == "extension":
        # An extension is an event, not a status: the review runs beside the request.
        lifecycle.changed(
            session,
            request,
            "objection.filed",
            actor=actor,
            at=now,
            detail={**detail, "extension": target.extension.id},
        )
    else:
        request.due_at = statutory_due_at(now)  # a new period for the review (Decree 41④ …)
        if target.decision is not None:
            detail["decision"] = target.decision.id
        lifecycle.transition(
            session,
            request,
            Action.object,
            actor=actor,
            at=now,
            detail={**detail, "due_at": request.due_at.isoformat()},
        )
        tasks.follow_deadline(session, request)
    # The objection is reviewed by whoever handles the request (the queue shows it as theirs).
    tasks.create(session, request, tasks.REVIEW_OBJECTION, now=now, assignee_id=request.assignee_id)
    notify(
        session,
        ctx,
        request,
        "objection_received",
        now=now,
        objection_kind=target.kind,
        **moment("filed", now),
        **day("new_due", request.due_at),
    )
    return objection


def resolve_objections(
    session: Session, request_id: str, *, now: datetime, actor: Actor, kind: str | None = None
) -> None:
    """Close the open objections (of `kind`, or all) and their review tasks: a person has
    answered them (a decision, or a new identity check after a rejection)."""
    query = select(Objection).where(
        Objection.request_id == request_id, Objection.resolved_at.is_(None)
    )
    if kind is not None:
        query = query.where(Objection.kind == kind)
    found = False
    for objection in session.exec(query):
        objection.resolved_at = now
        session.add(objection)
        found = True
    if found:
        tasks.close(session, request_id, (tasks.REVIEW_OBJECTION,), now=now, actor=actor)

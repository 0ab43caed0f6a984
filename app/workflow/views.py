"""A request as the filer and as staff see it, with what the workflow has done on it (tasks,
decisions, extensions, objections, notes) and what may be done next: no personal data in the
public view; the staff view decrypts it (the caller records the read)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from app.audit import service as audit
from app.core.context import AppContext
from app.core.deps import StaffPrincipal, resolve_request_id
from app.law.deadlines import days_left, seoul_date
from app.models import AccessResult, Decision, Document, Extension, Objection, Request, Task
from app.requests import pii
from app.requests import service as requests
from app.requests.lifecycle import CLOSED, TRANSITIONS, Action, Status
from app.requests.schemas import (
    DecisionItemOut,
    DecisionOut,
    DuplicateItem,
    DuplicateOf,
    ExtensionOut,
    NoticeItem,
    ObjectionState,
    PublicAction,
    RequesterOut,
    RequestPublic,
    StaffNoteOut,
    StaffNoticeItem,
    StaffTimelineItem,
    SubjectOut,
    TimelineItem,
)
from app.requests.views import as_date, days_left_open, grounds_out, overdue, public_documents
from app.workflow import notes as staff_notes
from app.workflow import service as workflow
from app.workflow import tasks
from app.workflow.actions import staff_actions
from app.workflow.schemas import (
    DecisionPublic,
    ExtensionPublic,
    ObjectionPublic,
    RequestStaffView,
    TaskPublic,
)


def _decision_out(ctx: AppContext, decision: Decision) -> DecisionOut:
    names = ctx.profile.categories
    items = []
    for item in decision.items or []:
        category = names.get(item["category"])
        items.append(
            DecisionItemOut(
                category=item["category"],
                name_ko=category.name_ko if category else None,
                name_en=category.name_en if category else None,
                result=item["result"],
                grounds=grounds_out(item.get("grounds")),
                # Kept under a law (Art. 36(1) proviso): the retention plan stores these.
                rule=item.get("rule"),
                law_ko=item.get("law_ko"),
                law_en=item.get("law_en"),
                period=item.get("period"),
                retain_until=as_date(item.get("retain_until")),
            )
        )
    return DecisionOut(
        outcome=decision.outcome,
        decided_at=decision.decided_at,
        explanation=ctx.keys.decrypt(
            decision.explanation_enc, f"decision.explanation:{decision.id}"
        )
        or "",
        grounds=grounds_out(decision.grounds),
        items=items,
    )


def _result_until(session: Session, request_id: str, now: datetime) -> datetime | None:
    """Until when the access result can be downloaded (then it is destroyed): None when there
    is none, or it is destroyed or expired (Art. 35)."""
    return session.exec(
        select(AccessResult.expires_at).where(
            AccessResult.request_id == request_id,
            AccessResult.destroyed_at.is_(None),
            AccessResult.expires_at > now,
        )
    ).first()


def public_actions(
    session: Session,
    ctx: AppContext,
    request: Request,
    now: datetime,
    objection: ObjectionState,
) -> list[PublicAction]:
    """What the filer may do now: only routes the API accepts in this state."""
    status = Status(request.status)
    actions: list[PublicAction] = []
    if (status, Action.withdraw) in TRANSITIONS:
        actions.append("withdraw")
    if status not in CLOSED:
        count = session.exec(
            select(func.count()).select_from(Document).where(Document.request_id == request.id)
        ).one()
        if count < ctx.settings.max_documents_per_request:
            actions.append("upload_document")
    if objection.allowed:
        actions.append("object")
    if _result_until(session, request.id, now) is not None:
        actions.append("download_result")
    return actions


def public_view(
    session: Session, ctx: AppContext, request: Request, now: datetime
) -> RequestPublic:
    """What the filer sees of their request: no personal data of theirs beyond what they
    wrote to us in the reasons, never a document's content."""
    events = requests.timeline(session, request.id)
    notices = requests.notices(session, request.id)
    closed = Status(request.status) in CLOSED
    extension = workflow.latest_extension(session, request.id)
    decision = workflow.latest_decision(session, request.id)
    target = workflow.objection_target(session, ctx, request)
    objection = (
        ObjectionState(
            allowed=now <= target.deadline, deadline=target.deadline, against=target.kind
        )
        if target is not None
        else ObjectionState(allowed=False)
    )
    return RequestPublic(
        id=request.id,
        reference=request.reference,
        type=request.type,
        status=request.status,
        requester_kind=request.requester_kind,
        channel=request.channel,
        locale=request.locale,
        categories=request.categories,
        scope_detail=request.scope_detail,
        received_at=request.received_at,
        due_at=request.due_at,
        due_date=seoul_date(request.due_at),
        days_left=None if closed else days_left(request.due_at, now),
        overdue=overdue(request, now),
        timeline=[TimelineItem(at=e.at, kind=e.kind, status=e.to_status) for e in events],
        notices=[
            NoticeItem(
                template=n.template, state=n.state, created_at=n.created_at, sent_at=n.sent_at
            )
            for n in notices
        ],
        documents=public_documents(session, request.id),
        extension=ExtensionOut(
            due_at=extension.new_due_at,
            due_date=seoul_date(extension.new_due_at),
            previous_due_at=extension.previous_due_at,
            reason=ctx.keys.decrypt(extension.reason_enc, f"extension.reason:{extension.id}") or "",
            extended_at=extension.extended_at,
        )
        if extension is not None
        else None,
        decision=_decision_out(ctx, decision) if decision is not None else None,
        objection=objection,
        actions=public_actions(session, ctx, request, now, objection),
        result_available_until=_result_until(session, request.id, now),
    )


def task_view(task: Task, now: datetime, reference: str | None = None) -> TaskPublic:
    return TaskPublic(
        id=task.id,
        request_id=task.request_id,
        reference=reference,
        kind=task.kind,
        category=task.category,
        system=task.system,
        action=task.action,
        assignee_id=task.assignee_id,
        status=task.status,
        due_at=task.due_at,
        days_left=days_left(task.due_at, now),
        created_at=task.created_at,
        completed_at=task.completed_at,
        completed_by=task.completed_by,
        outcome=task.outcome,
        has_data=task.data_enc is not None,
    )


def staff_view(
    session: Session,
    ctx: AppContext,
    request: Request,
    now: datetime,
    principal: StaffPrincipal,
) -> RequestStaffView:
    """Everything about a request, personal data decrypted (the caller records the read), with
    the actions `principal` may take on it now."""
    keys = ctx.keys
    rid = request.id
    task_rows = list(
        session.exec(select(Task).where(Task.request_id == rid).order_by(Task.created_at, Task.id))
    )
    return RequestStaffView(
        id=rid,
        reference=request.reference,
        type=request.type,
        status=request.status,
        channel=request.channel,
        locale=request.locale,
        version=request.version,
        subject=_subject(keys, request),
        requester=_requester(keys, request),
        power_of_attorney=pii.open_json(keys, request, "power_of_attorney"),
        documents=public_documents(session, rid),
        categories=request.categories,
        scope_detail=request.scope_detail,
        corrections=pii.open_json(keys, request, "corrections"),
        details=pii.open_text(keys, request, "details"),
        received_at=request.received_at,
        due_at=request.due_at,
        statutory_due_at=request.statutory_due_at,
        due_date=seoul_date(request.due_at),
        days_left=days_left_open(request, now),
        overdue=overdue(request, now),
        verified_at=request.verified_at,
        closed_at=request.closed_at,
        purged_at=request.purged_at,
        assignee_id=request.assignee_id,
        duplicate_of=_duplicate_of(session, request),
        duplicates=_duplicates(session, rid),
        actions=_actions(request, principal, task_rows),
        timeline=[
            StaffTimelineItem(
                at=e.at, kind=e.kind, status=e.to_status, actor=e.actor, from_status=e.from_status
            )
            for e in requests.timeline(session, rid)
        ],
        tasks=[task_view(t, now, request.reference) for t in task_rows],
        decisions=_decisions(session, keys, rid),
        extensions=_extensions(session, keys, rid),
        objections=_objections(session, keys, rid),
        notices=[
            StaffNoticeItem(
                id=n.id,
                template=n.template,
                state=n.state,
                created_at=n.created_at,
                sent_at=n.sent_at,
                attempts=n.attempts,
                last_error=n.last_error,
            )
            for n in requests.notices(session, rid)
        ],
        notes=[StaffNoteOut(**n) for n in staff_notes.read_all(session, ctx, rid, task_rows)],
    )


def read_for_staff(
    session: Session, ctx: AppContext, key: str, principal: StaffPrincipal
) -> RequestStaffView:
    """A staff read of one request (by id or reference), for the API and the console alike:
    the one owner check (404, or 403 for another handler's request), the full view, and the
    read written to the access record (who, when, from where, whose data, what)."""
    request = requests.get(session, resolve_request_id(session, key))
    principal.may_see(request.assignee_id)
    now = ctx.clock.now()
    view = staff_view(session, ctx, request, now, principal)
    audit.append(
        session,
        at=now,
        actor=principal.actor.label,
        action="view",
        request_id=request.id,
        ip=principal.ip,
        detail={"what": "request", "fields": ["subject", "corrections", "details"]},
    )
    return view


def _subject(keys, request: Request) -> SubjectOut:
    return SubjectOut(
        name=pii.open_text(keys, request, "subject_name"),  # None once purged
        email=pii.open_text(keys, request, "subject_email"),
        phone=pii.open_text(keys, request, "subject_phone"),
        birth_date=pii.open_text(keys, request, "subject_birth_date"),
    )


def _requester(keys, request: Request) -> RequesterOut:
    return RequesterOut(
        kind=request.requester_kind,
        name=pii.open_text(keys, request, "requester_name"),
        email=pii.open_text(keys, request, "requester_email"),
        phone=pii.open_text(keys, request, "requester_phone"),
        relationship=pii.open_text(keys, request, "requester_relationship"),
    )


def _actions(request: Request, principal: StaffPrincipal, task_rows: list[Task]) -> list:
    if request.purged_at is not None:
        return []  # a purged request takes no more changes (lifecycle.refuse_purged)
    return staff_actions(
        status=request.status,
        request_type=request.type,
        assignee_id=request.assignee_id,
        role=principal.role,
        principal_id=principal.id,
        unfinished_tasks=sum(
            t.kind in tasks.WORK_KINDS and t.status in ("open", "failed") for t in task_rows
        ),
        duplicate=request.duplicate_of is not None,
    )


def _duplicate_of(session: Session, request: Request) -> DuplicateOf | None:
    if request.duplicate_of is None:
        return None
    reference = session.exec(
        select(Request.reference).where(Request.id == request.duplicate_of)
    ).first()
    return DuplicateOf(id=request.duplicate_of, reference=reference or request.duplicate_of)


def _duplicates(session: Session, rid: str) -> list[DuplicateItem]:
    rows = session.exec(
        select(Request.id, Request.reference, Request.status)
        .where(Request.duplicate_of == rid)
        .order_by(Request.created_at, Request.id)
    )
    return [DuplicateItem(id=i, reference=ref, status=status) for i, ref, status in rows]


def _decisions(session: Session, keys, rid: str) -> list[DecisionPublic]:
    rows = session.exec(
        select(Decision)
        .where(Decision.request_id == rid)
        .order_by(Decision.decided_at, Decision.id)
    )
    return [
        DecisionPublic(
            id=d.id,
            outcome=d.outcome,
            grounds=d.grounds,
            items=d.items,
            explanation=keys.decrypt(d.explanation_enc, f"decision.explanation:{d.id}"),
            decided_at=d.decided_at,
            decided_by=d.decided_by,
            objection_until=d.objection_until,
        )
        for d in rows
    ]


def _extensions(session: Session, keys, rid: str) -> list[ExtensionPublic]:
    rows = session.exec(
        select(Extension)
        .where(Extension.request_id == rid)
        .order_by(Extension.extended_at, Extension.id)
    )
    return [
        ExtensionPublic(
            previous_due_at=x.previous_due_at,
            new_due_at=x.new_due_at,
            reason=keys.decrypt(x.reason_enc, f"extension.reason:{x.id}"),
            extended_at=x.extended_at,
            extended_by=x.extended_by,
        )
        for x in rows
    ]


def _objections(session: Session, keys, rid: str) -> list[ObjectionPublic]:
    rows = session.exec(
        select(Objection)
        .where(Objection.request_id == rid)
        .order_by(Objection.filed_at, Objection.id)
    )
    return [
        ObjectionPublic(
            id=o.id,
            kind=o.kind,
            decision_id=o.decision_id,
            extension_id=o.extension_id,
            reason=keys.decrypt(o.reason_enc, f"objection.reason:{o.id}"),
            filed_at=o.filed_at,
            resolved_at=o.resolved_at,
        )
        for o in rows
    ]

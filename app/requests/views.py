"""Turning rows into response bodies (no personal data in the public view or the queue)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, select

from app.core.context import AppContext
from app.core.deps import StaffPrincipal
from app.law.deadlines import days_left, is_overdue, seoul_date
from app.law.grounds import GROUNDS
from app.models import (
    AccessResult,
    Decision,
    Document,
    Extension,
    Objection,
    Request,
    Task,
)
from app.requests import pii, service
from app.requests.lifecycle import CLOSED, TRANSITIONS, Action, Status
from app.requests.schemas import (
    DecisionItemOut,
    DecisionOut,
    DocumentOut,
    ExtensionOut,
    GroundOut,
    NoticeItem,
    ObjectionState,
    PublicAction,
    QueuePage,
    RequestCreated,
    RequesterOut,
    RequestPublic,
    RequestStaffView,
    StaffNoteOut,
    StaffNoticeItem,
    StaffTimelineItem,
    SubjectOut,
    TimelineItem,
    VerificationOut,
)
from app.workflow import notes as staff_notes
from app.workflow import service as workflow
from app.workflow import tasks
from app.workflow.actions import staff_actions
from app.workflow.schemas import DecisionPublic, ExtensionPublic, ObjectionPublic, TaskPublic


def created_view(filed: service.Filed, now: datetime, code_ttl: int) -> RequestCreated:
    return RequestCreated(
        id=filed.id,
        reference=filed.reference,
        type=filed.type,
        status=filed.status,
        received_at=filed.received_at,
        due_at=filed.due_at,
        due_date=seoul_date(filed.due_at),
        days_left=days_left(filed.due_at, now),
        verification=VerificationOut(sent_to=filed.code_sent_to, expires_in=code_ttl)
        if filed.code_sent_to
        else None,
    )


def _days_left(request: Request, now: datetime) -> int | None:
    """Days to the deadline; none once the request is closed (it waits for nothing)."""
    return None if Status(request.status) in CLOSED else days_left(request.due_at, now)


def _overdue(request: Request, now: datetime) -> bool:
    """Late and still waiting for us: a closed request is never overdue."""
    return Status(request.status) not in CLOSED and is_overdue(request.due_at, now)


def public_documents(session: Session, request_id: str) -> list[DocumentOut]:
    rows = session.exec(
        select(Document)
        .where(Document.request_id == request_id)
        .order_by(Document.uploaded_at, Document.id)
    )
    return [DocumentOut.model_validate(d, from_attributes=True) for d in rows]


def grounds_out(codes: list[str] | None) -> list[GroundOut]:
    return [
        GroundOut(
            code=g.code,
            article=g.article_en,
            article_ko=g.article_ko,
            title_ko=g.text_ko,
            title_en=g.text_en,
        )
        for g in (GROUNDS[c] for c in codes or [] if c in GROUNDS)
    ]


def as_date(value) -> date | None:
    """`retain_until` as stored with a decision item: an ISO date (or date-time), or null."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    return date.fromisoformat(str(value)[:10])


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
    events = service.timeline(session, request.id)
    notices = service.notices(session, request.id)
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
        overdue=_overdue(request, now),
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


_CLOSED = frozenset(s.value for s in CLOSED)


def queue_item(row, now: datetime, dates: dict | None = None) -> dict:
    """One queue entry (the fields of `QueueItem`) from a row of `queue.page()` (its columns
    in the order of `queue.QUEUE_COLUMNS`). `dates` remembers, across one page, each due
    moment's Seoul date and days left: many requests share a due moment (the end of a Seoul
    day), so a page has few of them."""
    id_, reference, type_, status, channel, received_at, due_at, assignee_id, version = row
    known = None if dates is None else dates.get(due_at)
    if known is None:
        known = (seoul_date(due_at), days_left(due_at, now))
        if dates is not None:
            dates[due_at] = known
    closed = status in _CLOSED  # a closed request waits for nothing and is never overdue
    return {
        "id": id_,
        "reference": reference,
        "type": type_,
        "status": status,
        "channel": channel,
        "received_at": received_at,
        "due_at": due_at,
        "due_date": known[0],
        "days_left": None if closed else known[1],
        "overdue": not closed and is_overdue(due_at, now),
        "assignee_id": assignee_id,
        "version": version,
    }


def queue_page_json(rows, next_cursor: str | None, now: datetime) -> bytes:
    """The body of a queue page: validated as the route's response model (`QueuePage`) in one
    call, then dumped as FastAPI would dump it (but once, not dumped, re-validated, dumped)."""
    dates: dict = {}
    page = QueuePage.model_validate(
        {"items": [queue_item(r, now, dates) for r in rows], "next_cursor": next_cursor}
    )
    return page.__pydantic_serializer__.to_json(page)


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
        days_left=_days_left(request, now),
        overdue=_overdue(request, now),
        verified_at=request.verified_at,
        closed_at=request.closed_at,
        purged_at=request.purged_at,
        assignee_id=request.assignee_id,
        actions=_actions(request, principal, task_rows),
        timeline=[
            StaffTimelineItem(
                at=e.at, kind=e.kind, status=e.to_status, actor=e.actor, from_status=e.from_status
            )
            for e in service.timeline(session, rid)
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
            for n in service.notices(session, rid)
        ],
        notes=[StaffNoteOut(**n) for n in staff_notes.read_all(session, ctx, rid, task_rows)],
    )


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
    )


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

"""What integration clients do: file requests (idempotently), read back their own, and see and
confirm the tasks of their systems. Rules here; no HTTP. `file` runs its own transactions
(the key is reserved before the work); the others flush in the caller's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from app.accounts.clients import REQUESTS_VERIFIED
from app.audit import service as audit
from app.core.context import AppContext
from app.core.deps import resolve_request_id
from app.core.errors import NotFound, Problem
from app.intake import flows
from app.integrations import idempotency
from app.integrations.auth import ClientPrincipal
from app.integrations.schemas import (
    CorrectionOut,
    IntegrationCreated,
    IntegrationDecision,
    IntegrationDecisionItem,
    IntegrationRequestCreate,
    IntegrationRequestView,
    IntegrationTask,
    IntegrationTaskDetail,
    SubjectIdentifiers,
)
from app.law.deadlines import days_left, seoul_date
from app.law.rights import Channel
from app.models import Request, Task
from app.requests import pii
from app.requests.lifecycle import CLOSED, Status
from app.requests.views import as_date, grounds_out
from app.workflow import self_service, tasks
from app.workflow import service as workflow

# What a system is asked to do, by the request's type (the plan's action for the category).
ACTION_OF_TYPE = {
    "access": "collect",
    "correction": "correct",
    "deletion": "delete",
    "suspension": "suspend",
    "consent_withdrawal": "delete",
    "automated_decision": "review",
    "transmission": "collect",
}
TASK_STATUSES = ("open", "done", "failed", "waived", "cancelled")


@dataclass
class Answer:
    status: int
    body: dict
    replayed: bool


def _request_fields(body: IntegrationRequestCreate) -> dict:
    """The body as the client sent it (unset fields left out), for the fingerprint."""
    return body.model_dump(mode="json", exclude_unset=True)


def file(
    ctx: AppContext,
    client: ClientPrincipal,
    body: IntegrationRequestCreate,
    *,
    key: str,
) -> Answer:
    """File a request for a client under an Idempotency-Key: the first call files, a retry
    gets the first answer."""
    if body.identity_verified and REQUESTS_VERIFIED not in client.scopes:
        raise Problem(
            403,
            "insufficient-scope",
            "identity_verified needs the requests:verified scope: only a client whose users "
            "are logged in may vouch for who they are.",
            required_scopes=[REQUESTS_VERIFIED],
        )
    fields = _request_fields(body)
    outcome = idempotency.reserve(
        ctx.db, ctx, client_id=client.id, key=key, fingerprint=idempotency.fingerprint(fields)
    )
    if isinstance(outcome, idempotency.Replay):
        return Answer(outcome.status, outcome.body, replayed=True)
    try:
        with ctx.db.transaction() as session:
            now = ctx.clock.now()
            filed = flows.submit(
                session,
                ctx,
                body,
                channel=Channel.api,
                received_at=now,
                actor=client.actor,
                identity_verified=body.identity_verified,
                verification_method=f"integration:{client.id}",
                client_id=client.id,
                external_ref=body.external_ref,
            )
            answer = IntegrationCreated(
                id=filed.id,
                reference=filed.reference,
                type=filed.type,
                status=filed.status,
                received_at=filed.received_at,
                due_at=filed.due_at,
                due_date=seoul_date(filed.due_at),
                days_left=days_left(filed.due_at, now),
                external_ref=body.external_ref,
                code_sent_to=filed.code_sent_to,
            ).model_dump(mode="json")
            idempotency.store(session, ctx, outcome, status=201, body=answer, request_id=filed.id)
    except BaseException:
        idempotency.release(ctx.db, outcome)
        raise
    return Answer(201, answer, replayed=False)


def _decision(session: Session, request: Request) -> IntegrationDecision | None:
    decision = workflow.latest_decision(session, request.id)
    if decision is None:
        return None
    return IntegrationDecision(
        outcome=decision.outcome,
        decided_at=decision.decided_at,
        grounds=grounds_out(decision.grounds),
        items=[
            IntegrationDecisionItem(
                category=item["category"],
                result=item["result"],
                grounds=grounds_out(item.get("grounds")),
                retain_until=as_date(item.get("retain_until")),
            )
            for item in decision.items or []
        ],
    )


def read(
    session: Session, ctx: AppContext, client: ClientPrincipal, key: str
) -> IntegrationRequestView:
    """A request this client filed, by id or reference; any other is 404."""
    request = session.get(Request, resolve_request_id(session, key))
    client.owns(request.client_id if request else None)
    now = ctx.clock.now()
    closed = Status(request.status) in CLOSED
    return IntegrationRequestView(
        id=request.id,
        reference=request.reference,
        type=request.type,
        status=request.status,
        external_ref=pii.open_text(ctx.keys, request, "external_ref"),
        received_at=request.received_at,
        due_at=request.due_at,
        due_date=seoul_date(request.due_at),
        days_left=None if closed else days_left(request.due_at, now),
        closed_at=request.closed_at,
        decision=_decision(session, request),
    )


def _task_view(task: Task, request: Request, now: datetime) -> IntegrationTask:
    return IntegrationTask(
        id=task.id,
        request_id=task.request_id,
        reference=request.reference,
        request_type=request.type,
        kind=task.kind,
        action=task.action or ACTION_OF_TYPE[request.type],
        consents=(request.scope_detail or {}).get("consents"),
        decision=(request.scope_detail or {}).get("decision"),
        category=task.category,
        system=task.system,
        status=task.status,
        due_at=task.due_at,
        days_left=days_left(task.due_at, now),
        created_at=task.created_at,
        completed_at=task.completed_at,
        outcome=task.outcome,
    )


def list_tasks(
    session: Session,
    ctx: AppContext,
    client: ClientPrincipal,
    *,
    status: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[IntegrationTask], str | None]:
    """The fulfil and collect tasks of the client's systems, by due date (no personal data)."""
    rows, next_cursor = tasks.listing(
        session,
        limit=limit,
        cursor=cursor,
        status=status,
        systems=client.systems,
        kinds=tasks.WORK_KINDS,
    )
    now = ctx.clock.now()
    items = [_task_view(task, request, now) for task, request in rows]
    return items, next_cursor


def _own_task(session: Session, client: ClientPrincipal, task_id: str) -> tuple[Task, Request]:
    task = session.get(Task, task_id)
    if task is None or task.kind not in tasks.WORK_KINDS:
        raise NotFound("No such task.")
    client.holds_system(task.system)
    return task, session.get(Request, task.request_id)


def task_detail(
    session: Session, ctx: AppContext, client: ClientPrincipal, task_id: str
) -> IntegrationTaskDetail:
    """One task with the subject's identifiers (and, for a correction, the requested values),
    which the system needs to find the data; the read is written to the access record."""
    task, request = _own_task(session, client, task_id)
    view = _task_view(task, request, ctx.clock.now()).model_dump()
    if task.status not in tasks.TO_DO:
        # Done, waived or cancelled: the processor has nothing left to find (PIPA Art. 26:
        # a processor handles the data only for the task entrusted), so it sees the outcome only.
        return IntegrationTaskDetail(**view, subject=SubjectIdentifiers(), corrections=None)
    keys = ctx.keys
    birth = pii.open_text(keys, request, "subject_birth_date")
    corrections = None
    # Once purged, nothing of the subject's is left: every identifier is null (never "" or
    # an empty list, which would read as "known to be empty").
    if request.type == "correction" and request.purged_at is None:
        corrections = [
            CorrectionOut(**c) for c in pii.open_json(keys, request, "corrections") or []
        ]
    audit.append(
        session,
        at=ctx.clock.now(),
        actor=client.actor.label,
        action="read",
        request_id=request.id,
        ip=client.ip,
        detail={"task": task.id, "system": task.system, "fields": "subject identifiers"},
    )
    return IntegrationTaskDetail(
        **view,
        subject=SubjectIdentifiers(
            name=pii.open_text(keys, request, "subject_name"),  # None once purged
            email=pii.open_text(keys, request, "subject_email"),
            phone=pii.open_text(keys, request, "subject_phone"),
            birth_date=date.fromisoformat(birth) if birth else None,
        ),
        corrections=corrections,
    )


def confirm(
    session: Session,
    ctx: AppContext,
    client: ClientPrincipal,
    task_id: str,
    *,
    outcome: str,
    note: str | None,
    data: dict | list | None,
) -> IntegrationTask:
    """The system reports how its task went, as staff would complete it; the access-record
    entry names the client."""
    _own_task(session, client, task_id)
    # The system's ownership of the task is the permission here, not a staff assignment.
    task = tasks.complete_by_hand(
        session,
        ctx,
        task_id,
        outcome=outcome,
        note=note,
        data=data,
        actor=client.actor,
        is_cpo=True,
    )
    request = session.get(Request, task.request_id)
    # A self-service consent withdrawal completes with its last confirmation (no staff step).
    self_service.finish_if_done(session, ctx, request, actor=client.actor)
    return _task_view(task, request, ctx.clock.now())

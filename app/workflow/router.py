"""Staff actions on a request (each with If-Match), the task queue, and the grounds registry."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.core.deps import (
    CPO,
    AnyStaff,
    ContextDep,
    Operator,
    SessionDep,
    StaffPrincipal,
    request_filter,
)
from app.core.responses import IF_MATCH_MISSING, ON_A_REQUEST, STALE
from app.core.validation import Day
from app.law.grounds import GROUNDS
from app.law.rights import RequestType
from app.requests.deps import ToChange
from app.workflow import bulk, service, tasks
from app.workflow import metrics as metrics_service
from app.workflow.schemas import (
    AssignIn,
    BulkIn,
    BulkResult,
    CompleteIn,
    DecisionIn,
    ExtendIn,
    GroundList,
    GroundPublic,
    Metrics,
    RequestStaffView,
    TaskCompleteIn,
    TaskList,
    TaskPublic,
    TaskWaiveIn,
    VerifyIn,
)
from app.workflow.views import staff_view, task_view

router = APIRouter(prefix="/v1/staff", tags=["staff: workflow"])

ACTION = {
    **ON_A_REQUEST,
    409: {"description": "The request's status does not allow it"},
    **STALE,
    **IF_MATCH_MISSING,
}


def _view(session, ctx, request, principal: StaffPrincipal) -> RequestStaffView:
    return staff_view(session, ctx, request, ctx.clock.now(), principal)


@router.post("/requests/{request_id}/assign", response_model=RequestStaffView, responses=ACTION)
def assign(
    body: AssignIn,
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestStaffView:
    """Give the request to a handler (the CPO), or take it (a handler). An open request moves
    to in_progress and its assignee gets the decide task."""
    request = target.lock()
    return _view(session, ctx, service.assign(session, ctx, request, body, principal), principal)


@router.post("/requests/{request_id}/verify", response_model=RequestStaffView, responses=ACTION)
def verify(
    body: VerifyIn,
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestStaffView:
    """A person confirms the requester's identity or a proxy's authority (opens the request),
    or rejects it under PIPA-38-identity (closes it and tells the requester how to object)."""
    request = target.lock()
    return _view(session, ctx, service.verify(session, ctx, request, body, principal), principal)


@router.post("/requests/{request_id}/extend", response_model=RequestStaffView, responses=ACTION)
def extend(
    body: ExtendIn,
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestStaffView:
    """Postpone the deadline (연기) with a justified reason; the subject is told the reason and
    the new date. The new date must be later than the current one."""
    request = target.lock()
    return _view(session, ctx, service.extend(session, ctx, request, body, principal), principal)


@router.post(
    "/requests/{request_id}/decision",
    response_model=RequestStaffView,
    responses={**ACTION, 422: {"description": "Grounds missing or not applicable"}},
)
def decide(
    body: DecisionIn,
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
) -> RequestStaffView:
    """Decide: `granted`, `partially_granted` (per-category items) or `refused`. A refusal or
    partial grant cites at least one registry ground that applies to the request's type. The
    subject gets the decision notice with the grounds and how to object. A grant creates the
    tasks that carry it out, from the plan, for the granted categories and the systems the plan
    names: `collect` for access, `fulfil` for a deletion, suspension or correction (nothing for
    what the plan retains or holds)."""
    request = target.lock()
    service.decide(session, ctx, request, body, principal)
    return _view(session, ctx, request, principal)


@router.post(
    "/requests/{request_id}/complete",
    response_model=RequestStaffView,
    responses={
        **ACTION,
        409: {"description": "Wrong status, or fulfil/collect tasks open or failed"},
    },
)
def complete(
    principal: Operator,
    target: ToChange,
    session: SessionDep,
    ctx: ContextDep,
    body: CompleteIn | None = None,
) -> RequestStaffView:
    """Close a fulfilled request: every fulfil and collect task done, not found, or failed and
    waived (409 otherwise, listing `open_tasks` and `failed_tasks`). For access, the result is
    assembled now from what the collect tasks returned and can be downloaded for
    `RIGHTSDESK_RESULT_TTL_DAYS`; the completion notice says where and until when."""
    request = target.lock()
    done = service.complete(session, ctx, request, principal, body.note if body else None)
    return _view(session, ctx, done, principal)


@router.post(
    "/requests/bulk",
    response_model=BulkResult,
    responses={
        401: {"description": "No or bad token"},
        403: {"description": "Not a cpo or handler"},
        422: {
            "description": "No ids, more than 500, one listed twice (an id and its reference "
            "count as the same), an unknown action or a bad field: nothing was changed"
        },
    },
)
def bulk_action(body: BulkIn, principal: Operator, ctx: ContextDep) -> BulkResult:
    """One action on up to 500 requests (a surge): `assign` (`assignee`), `extend` (`reason`,
    `due_at`: one extension of each, each subject told), `verify` (`outcome`, `method`, `note`;
    only requests entered by staff), or `decision` (each request decided as its own plan
    proposes, `GET …/{id}/plan`; only when the plan keeps no category). `ids` take ids or
    references. Each request is changed in a transaction of its own, exactly as the single
    action (`POST /v1/staff/requests/{id}/<action>`) would change it, with its own timeline
    event, access-record entry and notice, and committed before the next one; so a refusal
    of one leaves the others done. A handler acts only on requests assigned to them or to
    nobody, as on a single action. `versions` is the bulk's If-Match: a request listed there
    is changed only at that version. The answer gives each id's `outcome` in order: `done`
    (with its new `version`), `conflict` (409 or 412), `refused` (403 or 422) or `not_found`,
    with the problem document the single action would have answered."""
    return bulk.run(ctx, body, principal)


@router.get("/tasks", response_model=TaskList, responses={401: {}, 403: {}})
def list_tasks(
    principal: AnyStaff,
    session: SessionDep,
    ctx: ContextDep,
    mine: Annotated[bool, Query(description="Only tasks assigned to me.")] = False,
    status: Annotated[
        list[Literal["open", "done", "failed", "waived", "cancelled", "all"]] | None,
        Query(description="Repeat for several (`status=open&status=failed`); `all`: every one."),
    ] = None,
    kind: Annotated[
        str | None, Query(pattern="^(verify|decide|fulfil|collect|review_objection)$")
    ] = None,
    request_id: Annotated[
        str | None,
        Query(max_length=40, description="The request's id or its reference (`RD-2026-000001`)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TaskList:
    """The work queue, by due date: mine or everyone's; open, done, failed (blocking until
    redone or waived), waived or cancelled."""
    rows, next_cursor = tasks.listing(
        session,
        limit=limit,
        cursor=cursor,
        status=status or ["open"],
        assignee=principal.id if mine else None,
        kind=kind,
        request_id=request_filter(session, request_id),
    )
    now = ctx.clock.now()
    return TaskList(
        items=[task_view(t, now, request.reference) for t, request in rows],
        next_cursor=next_cursor,
    )


@router.post(
    "/tasks/{task_id}/complete",
    response_model=TaskPublic,
    responses={
        401: {"description": "No or bad token"},
        403: {"description": "Assigned to someone else, or not a cpo or handler"},
        404: {"description": "No such task"},
        409: {"description": "Done already, waived, cancelled, or closed by an action"},
        422: {"description": "Bad outcome or data (a collect task that is done needs data)"},
    },
)
def complete_task(
    task_id: str,
    principal: Operator,
    session: SessionDep,
    ctx: ContextDep,
    body: TaskCompleteIn | None = None,
) -> TaskPublic:
    """Record how a fulfil or collect task went: `{outcome: done|not_found|failed, note?,
    data?}` (no body: done). A `collect` task that is done returns the data the system holds,
    `{item: value}` or a list of such records; it is kept encrypted and becomes part of the
    access result. A `failed` task stays in the queue and blocks the request's completion until
    it is completed again or the CPO waives it."""
    body = body or TaskCompleteIn()
    task = tasks.complete_by_hand(
        session,
        ctx,
        task_id,
        outcome=body.outcome,
        note=body.note,
        data=body.data,
        actor=principal.actor,
        is_cpo=principal.is_cpo,
    )
    return task_view(task, ctx.clock.now(), tasks.reference(session, task))


@router.post(
    "/tasks/{task_id}/waive",
    response_model=TaskPublic,
    responses={
        401: {"description": "No or bad token"},
        403: {"description": "Only the CPO waives"},
        404: {"description": "No such task"},
        409: {"description": "The task has not failed"},
        422: {"description": "No reason given"},
    },
)
def waive_task(
    task_id: str, body: TaskWaiveIn, principal: CPO, session: SessionDep, ctx: ContextDep
) -> TaskPublic:
    """(cpo) Waive a failed fulfil or collect task with a reason (kept encrypted, in the access
    record as an event): it stops blocking the request's completion. Open tasks cannot be
    waived: they are done, or voided by a new decision."""
    task = tasks.waive(session, ctx, task_id, reason=body.reason, actor=principal.actor)
    return task_view(task, ctx.clock.now(), tasks.reference(session, task))


@router.get("/metrics", response_model=Metrics, responses={401: {}, 403: {}, 422: {}})
def metrics(
    principal: AnyStaff,
    session: SessionDep,
    ctx: ContextDep,
    since: Annotated[
        Day | None, Query(description="First day (Korea time); default: 90 days ago.")
    ] = None,
    until: Annotated[Day | None, Query(description="Last day, inclusive; default: today.")] = None,
) -> Metrics:
    """Counts by type and status, open overdue, median days to close, and the share closed on
    time, for requests received in the range; with the dashboard's series: `open_by_status`,
    `received_by_week` (Korea-time weeks from Monday, by type), `on_time_by_month` (by the
    month of closing) and `objections` (filed in the range, still open, by kind). The
    console's charts are drawn from exactly these numbers."""
    return metrics_service.compute_range(session, ctx, since, until)


_TYPES = frozenset(t.value for t in RequestType)


@router.get("/grounds", response_model=GroundList, responses={401: {}, 403: {}})
def grounds(principal: AnyStaff) -> GroundList:
    """The legal grounds registry: what a refusal or restriction may cite, per request type."""
    return GroundList(
        items=[
            GroundPublic(
                code=g.code,
                article_ko=g.article_ko,
                article_en=g.article_en,
                text_ko=g.text_ko,
                text_en=g.text_en,
                # Only the types this service takes.
                applies_to=sorted(t for t in g.applies_to if t in _TYPES),
                public_bodies_only=g.public_bodies_only,
            )
            for g in GROUNDS.values()
        ]
    )

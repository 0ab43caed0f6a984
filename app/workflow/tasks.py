"""Tasks handed out by transitions: verify (a proxy or an offline identity), decide, fulfil
and collect (one per data category and the system or processor the plan names), review an
objection.

A fulfil or collect task is completed with an outcome: `done`, `not_found` (the system holds
nothing of the subject's in that category) or `failed`. A failed task stays visible and blocks
the request's completion until it is completed again (redone) or the CPO waives it with a
reason. A collect task's `done` carries the data the system returned (kept encrypted); the
access result is assembled from them when the request is completed (app/results)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import tuple_, update
from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import Conflict, NotFound, Problem, ValidationProblem
from app.core.ids import new_id
from app.core.paging import decode_cursor, encode_cursor, page
from app.events import record as events
from app.models import Request, Task
from app.requests import lifecycle
from app.requests.locks import lock_request
from app.results.collected import COLLECT, data_aad
from app.retention.plan import build_plan

VERIFY, DECIDE, FULFIL, REVIEW_OBJECTION = "verify", "decide", "fulfil", "review_objection"
ALL_KINDS = (VERIFY, DECIDE, FULFIL, COLLECT, REVIEW_OBJECTION)
# The work that carries a decision out: completed by hand (or by a system), with an outcome.
WORK_KINDS = (FULFIL, COLLECT)
OUTCOMES = ("done", "not_found", "failed")
# Statuses of a task still to be done (a failed one is redone).
TO_DO = ("open", "failed")
# Plan actions that are carried out by a task, and the kind of that task.
PLAN_TASK_KIND = {
    "delete": FULFIL,
    "suspend": FULFIL,
    "correct": FULFIL,
    "collect": COLLECT,
    "stop": FULFIL,  # a withdrawn consent's processing (Art. 37(3))
    # Art. 37-2(3): the system that applies an automated decision stops applying it (or a
    # person re-decides), gives what the explanation needs, or a person reviews it.
    "stop_applying": FULFIL,
    "explain": FULFIL,
    "review": FULFIL,
}
# Tasks that an action on the request closes; only fulfilment is completed by hand.
CLOSED_BY_ACTION = {VERIFY: "verify", DECIDE: "decision", REVIEW_OBJECTION: "decision"}


def create(
    session: Session,
    request: Request,
    kind: str,
    *,
    now: datetime,
    assignee_id: str | None = None,
    category: str | None = None,
    system: str | None = None,
    action: str | None = None,
) -> Task:
    task = Task(
        id=new_id("tsk"),
        request_id=request.id,
        kind=kind,
        category=category,
        system=system,
        action=action,
        assignee_id=assignee_id,
        status="open",
        due_at=request.due_at,
        created_at=now,
    )
    session.add(task)
    events.emit(session, events.TASK_CREATED, request, at=now, task=task)
    return task


def open_tasks(session: Session, request_id: str, kind: str | None = None) -> list[Task]:
    query = select(Task).where(Task.request_id == request_id, Task.status == "open")
    if kind:
        query = query.where(Task.kind == kind)
    return list(session.exec(query.order_by(Task.created_at, Task.id)))


def close(
    session: Session,
    request_id: str,
    kinds: tuple[str, ...],
    *,
    now: datetime,
    actor: Actor,
    status: str = "done",
) -> None:
    """Close the open tasks of these kinds (the action that was their purpose happened). When
    they are cancelled (the request was withdrawn) failed tasks go too, and what collect tasks
    gathered is erased: no result will ever be released from it."""
    session.flush()
    t = Task.__table__
    cancelling = status == "cancelled"
    session.connection().execute(
        update(t)
        .where(
            t.c.request_id == request_id,
            t.c.status.in_(("open", "failed") if cancelling else ("open",)),
            t.c.kind.in_(kinds),
        )
        .values(status=status, completed_at=now, completed_by=actor.label)
    )
    if cancelling and COLLECT in kinds:
        session.connection().execute(
            update(t)
            .where(t.c.request_id == request_id, t.c.kind == COLLECT, t.c.data_enc.is_not(None))
            .values(data_enc=None)
        )


def follow_deadline(session: Session, request: Request) -> None:
    """Open tasks are due when the request is (after an extension or an objection)."""
    session.flush()
    session.connection().execute(
        update(Task.__table__)
        .where(Task.__table__.c.request_id == request.id, Task.__table__.c.status == "open")
        .values(due_at=request.due_at)
    )


def reassign(session: Session, request_id: str, new: str) -> None:
    """Every open task of the request follows its assignee: the previous handler, who may no
    longer see the request, must not be left holding (or completing) its fulfilment work."""
    session.flush()
    t = Task.__table__
    session.connection().execute(
        update(t).where(t.c.request_id == request_id, t.c.status == "open").values(assignee_id=new)
    )


def void_fulfilment(
    session: Session, request_id: str, keep: list[str], *, now: datetime, actor: Actor
) -> int:
    """Cancel the unfinished (open or failed) fulfil and collect tasks of categories a new
    decision no longer grants (a refusal after an objection voids them all); returns how many."""
    session.flush()
    t = Task.__table__
    condition = [
        t.c.request_id == request_id,
        t.c.status.in_(("open", "failed")),
        t.c.kind.in_(WORK_KINDS),
    ]
    if keep:
        condition.append(t.c.category.not_in(keep))
    result = session.connection().execute(
        update(t)
        .where(*condition)
        .values(status="cancelled", completed_at=now, completed_by=actor.label)
    )
    return result.rowcount


def create_from_plan(
    session: Session,
    ctx: AppContext,
    request: Request,
    granted: list[str],
    *,
    now: datetime,
) -> list[Task]:
    """One task per plan item that is carried out now (delete, suspend or correct: `fulfil`;
    collect: `collect`), for the granted categories and only the systems the plan names, to
    the request's assignee. Work already owed or done is not handed out twice; work a
    re-decision voided (cancelled) is owed again when the category is granted again."""
    session.flush()
    existing = {
        (t.kind, t.category, t.system)
        for t in session.exec(
            select(Task).where(
                Task.request_id == request.id,
                Task.kind.in_(WORK_KINDS),
                Task.status != "cancelled",
            )
        )
    }
    created = []
    for item in build_plan(session, ctx, request).items:
        kind = PLAN_TASK_KIND.get(item.action)
        if kind is None or (item.category is not None and item.category not in granted):
            continue  # retained under a law, held, or not granted: no work now
        # (A line with no category — a withdrawn consent's stop — goes with any grant.)
        key = (kind, item.category, item.system)
        if key in existing:
            continue
        existing.add(key)
        created.append(
            create(
                session,
                request,
                kind,
                now=now,
                assignee_id=request.assignee_id,
                category=item.category,
                system=item.system,
                action=item.action,
            )
        )
    return created


def unfinished(session: Session, request_id: str) -> list[Task]:
    """Fulfil and collect tasks that still block completion: open, or failed and not waived."""
    return list(
        session.exec(
            select(Task)
            .where(
                Task.request_id == request_id,
                Task.kind.in_(WORK_KINDS),
                Task.status.in_(("open", "failed")),
            )
            .order_by(Task.created_at, Task.id)
        )
    )


def waived_reason(ctx: AppContext, task: Task) -> str | None:
    return ctx.keys.decrypt(task.waived_reason_enc, f"task.waived_reason:{task.id}")


def _field_problem(field: str, code: str, message: str) -> Problem:
    return ValidationProblem(
        field, code, message, detail="The task's completion does not fit the task."
    )


def _claim(session: Session, task_id: str, actor: Actor, is_cpo: bool) -> Task:
    """The task, re-read under its request's lock (the one lock order: request row first, then
    the access record), so of N parallel changes one wins and the others see what it did."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("No such task.")
    lifecycle.refuse_purged(lock_request(session, task.request_id))
    session.refresh(task)
    if not is_cpo and task.assignee_id not in (None, actor.id):
        raise Problem(403, "forbidden", "This task is assigned to someone else.")
    return task


def complete_by_hand(
    session: Session,
    ctx: AppContext,
    task_id: str,
    *,
    outcome: str = "done",
    note: str | None,
    data: dict | list | None = None,
    actor: Actor,
    is_cpo: bool,
) -> Task:
    """Record how a fulfil or collect task went. An open task, or a failed one being redone,
    may be completed; a done, waived or cancelled one is 409."""
    task = _claim(session, task_id, actor, is_cpo)
    if task.kind in CLOSED_BY_ACTION:
        raise Conflict(
            f"A {task.kind} task is closed by the request's {CLOSED_BY_ACTION[task.kind]} "
            "action, not by hand."
        )
    if task.status not in ("open", "failed"):
        raise Conflict(f"The task is already {task.status}.")
    if outcome not in OUTCOMES:
        raise _field_problem("outcome", "invalid", f"one of {', '.join(OUTCOMES)}")
    if task.kind == COLLECT and outcome == "done" and data is None:
        raise _field_problem(
            "data",
            "required",
            "a collect task that is done returns the data: {item: value} or a list of them",
        )
    if data is not None and (task.kind != COLLECT or outcome != "done"):
        raise _field_problem("data", "not_allowed", "only a collect task that is done returns data")
    now = ctx.clock.now()
    redone = task.status == "failed"
    task.status = "failed" if outcome == "failed" else "done"
    task.outcome = outcome
    task.completed_at = now
    task.completed_by = actor.label
    task.note_enc = ctx.keys.encrypt(note, f"task.note:{task.id}")
    if task.kind == COLLECT:
        task.data_enc = (
            ctx.keys.encrypt(
                json.dumps(data, ensure_ascii=False, allow_nan=False), data_aad(task.id)
            )
            if data is not None
            else None
        )
    session.add(task)
    session.flush()
    lifecycle.record(
        session,
        task.request_id,
        "task.failed" if outcome == "failed" else "task.completed",
        actor=actor,
        at=now,
        # No personal data: the outcome and where, never the note or the data.
        detail={
            "task": task.id,
            "kind": task.kind,
            "category": task.category,
            "system": task.system,
            "outcome": outcome,
            "redone": redone,
            "records": len(data) if isinstance(data, list) else (1 if data else 0),
        },
    )
    return task


def waive(session: Session, ctx: AppContext, task_id: str, *, reason: str, actor: Actor) -> Task:
    """The CPO waives a failed task with a reason (kept encrypted): it no longer blocks the
    request's completion. Only a failed task can be waived; open work is done or voided."""
    task = _claim(session, task_id, actor, is_cpo=True)
    if task.kind not in WORK_KINDS:
        raise Conflict(f"A {task.kind} task cannot be waived.")
    if task.status != "failed":
        raise Conflict(
            f"Only a failed task can be waived; this one is {task.status}.",
            status_now=task.status,
        )
    now = ctx.clock.now()
    task.status = "waived"
    task.waived_reason_enc = ctx.keys.encrypt(reason, f"task.waived_reason:{task.id}")
    task.completed_at = now
    task.completed_by = actor.label
    session.add(task)
    session.flush()
    lifecycle.record(
        session,
        task.request_id,
        "task.waived",
        actor=actor,
        at=now,
        detail={
            "task": task.id,
            "kind": task.kind,
            "category": task.category,
            "system": task.system,
        },
    )
    return task


def listing(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    status: str | Iterable[str] = "all",
    assignee: str | None = None,
    kind: str | None = None,
    request_id: str | None = None,
    systems: list[str] | None = None,
    kinds: tuple[str, ...] | None = None,
) -> tuple[list[tuple[Task, Request]], str | None]:
    """One page of tasks (with their requests) by due date, and the next page's cursor: the
    staff's work queue and an integration client's list share it."""
    query = select(Task, Request).join(Request, Request.id == Task.request_id)
    if systems is not None:
        query = query.where(Task.system.in_(systems))
    if kinds is not None:
        query = query.where(Task.kind.in_(kinds))
    if assignee:
        query = query.where(Task.assignee_id == assignee)
    statuses = {status} if isinstance(status, str) else set(status)
    if "all" not in statuses:
        query = query.where(Task.status.in_(sorted(statuses)))
    if kind:
        query = query.where(Task.kind == kind)
    if request_id:
        query = query.where(Task.request_id == request_id)
    if cursor:
        due, last = decode_cursor(cursor)
        query = query.where(tuple_(Task.due_at, Task.id) > tuple_(due, last))
    found = session.exec(query.order_by(Task.due_at, Task.id).limit(limit + 1)).all()
    rows, more = page(found, limit)
    return rows, encode_cursor(rows[-1][0].due_at, rows[-1][0].id) if more else None


def reference(session: Session, task: Task) -> str | None:
    """The reference of the task's request (what a task's view shows)."""
    request = session.get(Request, task.request_id)
    return request.reference if request else None

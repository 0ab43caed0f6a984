"""Tasks handed out by transitions: verify (a proxy or an offline identity), decide, fulfil
(one per data category and the system or processor holding it), review an objection."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import Conflict, NotFound, Problem
from app.core.ids import new_id
from app.models import Request, Task
from app.requests import lifecycle
from app.requests.locks import lock_request

VERIFY, DECIDE, FULFIL, REVIEW_OBJECTION = "verify", "decide", "fulfil", "review_objection"
ALL_KINDS = (VERIFY, DECIDE, FULFIL, REVIEW_OBJECTION)
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
) -> Task:
    task = Task(
        id=new_id("tsk"),
        request_id=request.id,
        kind=kind,
        category=category,
        system=system,
        assignee_id=assignee_id,
        status="open",
        due_at=request.due_at,
        created_at=now,
    )
    session.add(task)
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
    """Close the open tasks of these kinds (the action that was their purpose happened)."""
    session.flush()
    session.connection().execute(
        update(Task.__table__)
        .where(
            Task.__table__.c.request_id == request_id,
            Task.__table__.c.status == "open",
            Task.__table__.c.kind.in_(kinds),
        )
        .values(status=status, completed_at=now, completed_by=actor.label)
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
    """Cancel the open fulfilment tasks of categories a new decision no longer grants (a
    refusal after an objection voids them all); returns how many."""
    session.flush()
    t = Task.__table__
    condition = [t.c.request_id == request_id, t.c.status == "open", t.c.kind == FULFIL]
    if keep:
        condition.append(t.c.category.not_in(keep))
    result = session.connection().execute(
        update(t)
        .where(*condition)
        .values(status="cancelled", completed_at=now, completed_by=actor.label)
    )
    return result.rowcount


def fulfilment_targets(ctx: AppContext, categories: list[str]) -> list[tuple[str, str | None]]:
    """(category, system or processor) pairs that hold the data (the profile's `systems`)."""
    targets = []
    for key in categories:
        category = ctx.profile.categories.get(key)
        systems = category.systems if category and category.systems else [None]
        targets.extend((key, system) for system in systems)
    return targets


def complete_by_hand(
    session: Session, ctx: AppContext, task_id: str, *, note: str | None, actor: Actor, is_cpo: bool
) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("No such task.")
    # Completing is a claim: lock the request (the one lock order: request row first, then
    # the access record) and re-read the task, so of N parallel completions one wins and the
    # others find it done (409).
    lock_request(session, task.request_id)
    session.refresh(task)
    if not is_cpo and task.assignee_id not in (None, actor.id):
        raise Problem(403, "forbidden", "This task is assigned to someone else.")
    if task.status != "open":
        raise Conflict(f"The task is already {task.status}.")
    if task.kind in CLOSED_BY_ACTION:
        raise Conflict(
            f"A {task.kind} task is closed by the request's {CLOSED_BY_ACTION[task.kind]} "
            "action, not by hand."
        )
    now = ctx.clock.now()
    task.status = "done"
    task.completed_at = now
    task.completed_by = actor.label
    task.note_enc = ctx.keys.encrypt(note, f"task.note:{task.id}")
    session.add(task)
    session.flush()
    lifecycle.record(
        session,
        task.request_id,
        "task.completed",
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

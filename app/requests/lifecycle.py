"""The request lifecycle: one transition table, one function that changes status.

    pending_verification ─verify─▶ open ─assign─▶ in_progress ─grant─▶ fulfilling ─complete─▶ completed
            │                                          └─refuse─▶ refused ─object─▶ in_progress
    (fulfilling | completed) ─object─▶ in_progress, when the decision was a partial grant
            └─reject─▶ rejected ─object─▶ pending_verification (identity or authority reviewed)
    open ─carry_out─▶ fulfilling: a self-service consent withdrawal, decided by the plan
    withdraw: from any state before completed / refused / rejected ─▶ withdrawn
    merge: a duplicate (pending_verification | open | in_progress) ─▶ merged, into an earlier
           request of the same subject and type that stands (workflow/duplicates.py)

Nothing else assigns `Request.status`. Each change is checked here, stamps its timestamps,
bumps the version (optimistic concurrency) and writes a timeline event and an access-record
entry in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from app.audit import service as audit
from app.core.actors import Actor
from app.core.errors import Problem
from app.core.ids import new_id
from app.events import record as events
from app.law.deadlines import seoul_date
from app.models import Request, TimelineEvent


class Status(StrEnum):
    pending_verification = "pending_verification"
    open = "open"
    in_progress = "in_progress"
    fulfilling = "fulfilling"
    completed = "completed"
    refused = "refused"
    rejected = "rejected"
    withdrawn = "withdrawn"
    merged = "merged"  # a duplicate closed into the earlier request that stands


class Action(StrEnum):
    verify = "verify"  # the code was right, or staff confirmed identity / authority
    reject = "reject"  # never verified, or a proxy without authority (Decree 46)
    assign = "assign"  # a handler takes the request
    grant = "grant"  # decision: granted or partially granted
    refuse = "refuse"  # decision: refused, with grounds (Art. 35(4), 36(1), 37(2), 38)
    complete = "complete"  # everything granted has been carried out
    object = "object"  # the subject objects to a refusal or rejection (이의제기, Art. 38(5))
    withdraw = "withdraw"  # the filer withdraws
    # A self-service consent withdrawal (the profile's `self_service`): once verified, the
    # system decides as the plan says and hands the work to the integration, no staff decision.
    carry_out = "carry_out"
    # A later filing by the same subject for the same right, closed into the earlier one that
    # is being handled (Request.duplicate_of); the subject is told which reference stands.
    merge = "merge"


S, A = Status, Action

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (S.pending_verification, A.verify): S.open,
    (S.pending_verification, A.reject): S.rejected,
    (S.open, A.assign): S.in_progress,
    (S.open, A.carry_out): S.fulfilling,
    (S.in_progress, A.grant): S.fulfilling,
    (S.in_progress, A.refuse): S.refused,
    (S.fulfilling, A.complete): S.completed,
    (S.refused, A.object): S.in_progress,
    # A partial grant can be objected to while or after it is carried out (the service checks
    # that the decision in force was a partial grant).
    (S.fulfilling, A.object): S.in_progress,
    (S.completed, A.object): S.in_progress,
    # A rejection for unconfirmed identity or authority is a restriction too (Art. 38(5);
    # Decree 46): the objection sends the request back to verification for a person to review.
    (S.rejected, A.object): S.pending_verification,
    **{
        (s, A.withdraw): S.withdrawn
        for s in (S.pending_verification, S.open, S.in_progress, S.fulfilling)
    },
    # Before a decision only: a request being carried out is finished, not merged away.
    **{(s, A.merge): S.merged for s in (S.pending_verification, S.open, S.in_progress)},
}

# A closed request waits for nothing more from us (closed_at is stamped on entry).
CLOSED = frozenset({S.completed, S.refused, S.rejected, S.withdrawn, S.merged})

INITIAL = S.pending_verification

# An extension (연기) is an event, not a status: the filer may object to it (Art. 38(5)) while
# the request still waits for us. The objection opens a review task and changes no status.
EXTENSION_OBJECTABLE = frozenset({S.pending_verification, S.open, S.in_progress, S.fulfilling})

_INSERT_EVENT = insert(TimelineEvent.__table__)


class IllegalTransition(Problem):
    """409: the request's status does not allow this (a transition, or a change like an
    extension that only some statuses take); names the actions that are allowed now."""

    def __init__(
        self, current: Status, action: Action | None = None, *, detail: str | None = None
    ) -> None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == current)
        super().__init__(
            409,
            "illegal-transition",
            detail or f"A request that is {current.value} cannot be asked to {action.value}.",
            status_now=current.value,
            allowed_actions=allowed,
        )


def refuse_purged(request: Request) -> None:
    """409 for any change to a request whose personal data was destroyed (retention/purge.py):
    what is left is its record, which nothing may add to."""
    if request.purged_at is not None:
        raise Problem(
            409,
            "request-purged",
            "The personal data of this request was destroyed on "
            f"{seoul_date(request.purged_at).isoformat()}, its retention period having run out; "
            "it takes no more changes.",
            purged_at=request.purged_at.isoformat(),
        )


def next_status(current: Status | str, action: Action | str) -> Status:
    """The state after `action`, or IllegalTransition. Pure: no database."""
    current, action = Status(current), Action(action)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise IllegalTransition(current, action) from None


def allowed_actions(current: Status | str) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == Status(current)]


def transition(
    session: Session,
    request: Request,
    action: Action,
    *,
    actor: Actor,
    at: datetime,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Status:
    """Perform `action` on `request`: check, stamp, bump version, timeline, access record."""
    refuse_purged(request)
    before = Status(request.status)
    after = next_status(before, action)
    request.status = after.value
    request.updated_at = at
    request.version += 1
    if action is Action.verify:
        request.verified_at = at
    if after in CLOSED:
        request.closed_at = at
    elif before in CLOSED:
        request.closed_at = None  # reopened by an objection
    session.add(request)
    session.flush()
    _write_event(
        session,
        request.id,
        kind=f"status.{after.value}",
        at=at,
        actor=actor,
        note=note,
        from_status=before.value,
        to_status=after.value,
        detail=detail,
    )
    event = events.EVENT_OF_ACTION.get(action.value)
    if event is not None:  # in the same transaction: the event exists iff the change does
        events.emit(session, event, request, at=at)
    return after


def changed(
    session: Session,
    request: Request,
    kind: str,
    *,
    actor: Actor,
    at: datetime,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A change to a request that keeps its status (assignee, deadline): bump the version and
    write the timeline event and access record."""
    refuse_purged(request)
    request.updated_at = at
    request.version += 1
    session.add(request)
    session.flush()
    record(
        session,
        request.id,
        kind,
        actor=actor,
        at=at,
        note=note,
        status=request.status,
        detail=detail,
    )


def record(
    session: Session,
    request_id: str,
    kind: str,
    *,
    actor: Actor,
    at: datetime,
    note: str | None = None,
    status: str | None = None,
    audit_action: str = "change",
    detail: dict[str, Any] | None = None,
) -> None:
    """An event that changes no status (received, code sent, extended …): timeline + record."""
    _write_event(
        session,
        request_id,
        kind=kind,
        at=at,
        actor=actor,
        note=note,
        from_status=None,
        to_status=status,
        detail=detail,
        audit_action=audit_action,
    )


def _write_event(
    session: Session,
    request_id: str,
    *,
    kind: str,
    at: datetime,
    actor: Actor,
    note: str | None,
    from_status: str | None,
    to_status: str | None,
    detail: dict[str, Any] | None,
    audit_action: str = "change",
) -> None:
    session.connection().execute(
        _INSERT_EVENT,
        {
            "id": new_id("evt"),
            "request_id": request_id,
            "at": at,
            "kind": kind,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor.label,
            "note": note,
        },
    )
    audit.append(
        session,
        at=at,
        actor=actor.label,
        action=audit_action,
        request_id=request_id,
        ip=actor.ip,
        detail={
            "event": kind,
            **({"from": from_status, "to": to_status} if from_status else {}),
            **(detail or {}),
        },
    )

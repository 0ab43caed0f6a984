"""Bulk work (POST /v1/staff/requests/bulk): one action on up to 500 requests, as a surge
needs, each request changed exactly as its single action would change it.

Each request is its own unit of work: its own session and transaction, committed before the
next one starts (not the HTTP request's one transaction, which would hold the access record's
head while locking the next request row and deadlock against any other writer: the one lock
order is request row first, then the head, requests/locks.py). Each is locked and checked as
the single route's `ToChange.lock()` does (404; 412 against a version given in `versions`),
then handed to the very service the single route calls (workflow/service.py), which writes
its timeline event, access-record entry and notice. A refusal of one request rolls back that
request alone and is answered in its outcome; the others go on.

What bulk adds, and only to bulk:
- `verify` takes only requests staff entered (letter, phone, fax, e-mail, in person): a
  portal or API filing proves its subject by the code, one by one, never by a batch;
- `decision` decides each request as its own plan says (`retention/plan.py`, the body the
  plan proposes), and only when the plan keeps no category (a retention rule or a hold): a
  request the law partly keeps needs a person to read its plan.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from app.core.context import AppContext
from app.core.db import commit
from app.core.deps import StaffPrincipal, resolve_request_ids
from app.core.errors import NotFound, Problem, ValidationProblem
from app.models import Request
from app.requests import lifecycle
from app.requests.lifecycle import Action
from app.requests.locks import lock_checked, lock_request
from app.retention.plan import build_plan
from app.workflow import service
from app.workflow.schemas import (
    AssignIn,
    BulkAssignIn,
    BulkDecisionIn,
    BulkExtendIn,
    BulkOutcome,
    BulkResult,
    BulkVerifyIn,
    DecisionIn,
    ExtendIn,
    Outcome,
    VerifyIn,
)

Apply = Callable[[Session, AppContext, Request, StaffPrincipal], object]
OUTCOMES = ("done", "conflict", "refused", "not_found")
# A lost race the database itself reports (serialization failure, deadlock): retry-able.
_LOST_RACE_STATES = frozenset({"40001", "40P01"})


def _action(body) -> Apply:
    """The single action's service, with the one body every request of the batch gets."""
    if isinstance(body, BulkAssignIn):
        one = AssignIn(assignee=body.assignee)
        return lambda s, ctx, r, p: service.assign(s, ctx, r, one, p)
    if isinstance(body, BulkExtendIn):
        one = ExtendIn(reason=body.reason, due_at=body.due_at)
        return lambda s, ctx, r, p: service.extend(s, ctx, r, one, p)
    if isinstance(body, BulkVerifyIn):
        one = VerifyIn(outcome=body.outcome, method=body.method, note=body.note)
        return lambda s, ctx, r, p: _verify(s, ctx, r, one, p)
    assert isinstance(body, BulkDecisionIn)
    return _decide_by_plan


def _verify(
    session: Session, ctx: AppContext, request: Request, body: VerifyIn, principal: StaffPrincipal
) -> Request:
    service.may_work_on(principal, request)
    if request.channel in service.PUBLIC_CHANNELS:
        raise ValidationProblem(
            "ids",
            "not_staff_entered",
            f"{request.reference} was filed through the {request.channel}",
            detail="Only requests entered by staff are verified in bulk: a portal or API "
            "filing is verified by its own code, or by a person one at a time.",
        )
    return service.verify(session, ctx, request, body, principal)


def _decide_by_plan(
    session: Session, ctx: AppContext, request: Request, principal: StaffPrincipal
) -> object:
    service.may_work_on(principal, request)
    plan = build_plan(session, ctx, request)
    try:
        body = DecisionIn.model_validate(plan.decision)
    except ValidationError:
        # What the plan proposes does not make a decision body (say, an explanation past
        # its length): a person words this one.
        raise ValidationProblem(
            "ids",
            "plan_not_a_decision",
            f"{request.reference}: the plan's proposed decision is not a valid decision body",
            detail="Decide this request on its own.",
        ) from None
    # 409 before 422, as the single decision answers a wrong status first.
    lifecycle.next_status(
        request.status, Action.refuse if body.outcome is Outcome.refused else Action.grant
    )
    kept = sorted(plan.kept())
    if kept:
        raise ValidationProblem(
            "ids",
            "plan_keeps",
            f"{request.reference}: the plan keeps {', '.join(kept)}",
            detail="The plan keeps some of this request's data (a retention rule or a hold): "
            "decide it on its own, after reading the plan.",
            kept=kept,
        )
    return service.decide(session, ctx, request, body, principal)


def _outcome(key: str, request_id: str | None, problem: Problem) -> BulkOutcome:
    if problem.status == 404:
        kind = "not_found"
    elif problem.status in (409, 412):
        kind = "conflict"
    else:
        kind = "refused"
    return BulkOutcome(id=key, request_id=request_id, outcome=kind, problem=problem.body())


def _one(
    ctx: AppContext,
    key: str,
    request_id: str,
    version: int | None,
    apply: Apply,
    principal: StaffPrincipal,
) -> BulkOutcome:
    """One request, in a transaction of its own: locked (request row first), version-checked
    when a version was given, changed by the single action's service, committed."""
    try:
        with ctx.db.session() as session:  # closing it rolls back whatever was not committed
            if version is None:
                request = lock_request(session, request_id)
            else:
                request = lock_checked(session, request_id, version)
            apply(session, ctx, request, principal)
            commit(session)
            return BulkOutcome(
                id=key, request_id=request_id, outcome="done", version=request.version
            )
    except Problem as problem:
        return _outcome(key, request_id, problem)
    except StaleDataError:
        # The ORM's version check matched no row: someone changed it between lock and write.
        return _outcome(
            key,
            request_id,
            Problem(409, "conflict", "The request changed at the same moment: reload it."),
        )
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) not in _LOST_RACE_STATES:
            raise
        return _outcome(
            key,
            request_id,
            Problem(409, "conflict", "The request changed at the same moment: reload it."),
        )


def run(ctx: AppContext, body, principal: StaffPrincipal) -> BulkResult:
    """Apply `body.action` to each request of `body.ids`, one transaction each, in order."""
    with ctx.db.transaction(write=False) as session:
        found = resolve_request_ids(session, body.ids)
    # An id and a reference naming the same request: refused whole, before anything changes.
    named: dict[str, str] = {}
    for key in body.ids:
        request_id = found.get(key)
        if request_id is None:
            continue
        if request_id in named:
            raise ValidationProblem(
                "ids",
                "duplicate",
                f"{named[request_id]} and {key} name the same request",
                detail="Each request may be listed once.",
            )
        named[request_id] = key
    apply = _action(body)
    # Keyed as in `ids`; a reference's case does not matter, as in `ids`.
    versions = {k.upper(): v for k, v in (body.versions or {}).items()}
    results: list[BulkOutcome] = []
    for key in body.ids:
        request_id = found.get(key)
        if request_id is None:
            results.append(_outcome(key, None, NotFound("No such request.")))
            continue
        results.append(_one(ctx, key, request_id, versions.get(key.upper()), apply, principal))
    counts = dict.fromkeys(OUTCOMES, 0)
    for result in results:
        counts[result.outcome] += 1
    return BulkResult(action=body.action, counts=counts, results=results)

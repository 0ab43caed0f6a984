"""Staff on duplicates: merge a later filing into the earlier request that stands (it closes
as `merged`, its clock stops, the subject is told which reference carries on), or unlink it
(it becomes a request of its own again). Linking happens at filing (requests/duplicates.py).
"""

from __future__ import annotations

from sqlmodel import Session

from app.core.context import AppContext
from app.core.deps import StaffPrincipal, resolve_request_id
from app.core.errors import Conflict, NotFound, ValidationProblem
from app.models import Request
from app.requests import lifecycle
from app.requests.lifecycle import CLOSED, Action, Status
from app.requests.locks import check_version, lock_request, lock_requests
from app.requests.notices import day, moment, notify
from app.workflow import tasks
from app.workflow.service import may_work_on


def mergeable(request: Request, into: Request) -> str | None:
    """Why `request` may not be merged into `into` (a sentence), or None when it may: it is
    marked a duplicate of it, or both are the same subject's (blind index) for the same right,
    and neither was filed by a proxy."""
    if request.id == into.id:
        return "A request cannot be merged into itself."
    if request.type != into.type:
        return (
            f"A {request.type} request cannot be merged into a {into.type} request: "
            "each right is a request of its own."
        )
    if request.duplicate_of == into.id:
        return None
    if request.requester_kind != "self" or into.requester_kind != "self":
        return "A request filed by a proxy is merged only when it was linked at filing."
    if request.subject_email_bidx is None or request.subject_email_bidx != into.subject_email_bidx:
        return "The two requests are not the same subject's (their e-mail addresses differ)."
    return None


def merge(
    session: Session,
    ctx: AppContext,
    request_key: str,
    version: int,
    into_key: str,
    principal: StaffPrincipal,
) -> Request:
    """Close `request_key` (at If-Match `version`) as merged into `into_key`.

    Both rows are locked first, in one statement. A request already closed answers 409 before
    its version is compared, so of two racing merges one succeeds and the other is told the
    request is merged (409), whatever version both read."""
    request_id = resolve_request_id(session, request_key)
    try:
        into_id = resolve_request_id(session, into_key)
    except NotFound:
        raise ValidationProblem(
            "into", "unknown_request", "no request with this id or reference"
        ) from None
    if into_id == request_id:
        raise ValidationProblem("into", "same_request", "A request cannot be merged into itself.")
    rows = lock_requests(session, [request_id, into_id])
    request, into = rows[request_id], rows[into_id]
    may_work_on(principal, request)
    status = Status(request.status)
    if status in CLOSED:
        raise lifecycle.IllegalTransition(
            status,
            Action.merge,
            detail=f"The request is {status.value} already"
            + (
                f" (into {_reference(session, request.duplicate_of)})."
                if request.duplicate_of
                else "."
            ),
        )
    check_version(request, version)
    lifecycle.refuse_purged(request)
    lifecycle.next_status(status, Action.merge)  # 409 for a request being carried out
    why = mergeable(request, into)
    if why is not None:
        raise ValidationProblem("into", "not_a_duplicate", why)
    if Status(into.status) in CLOSED:
        raise Conflict(
            f"{into.reference} is {into.status}: a request is merged only into one that stands.",
            "merge-target-closed",
            into_status=into.status,
        )
    now, actor = ctx.clock.now(), principal.actor
    request.duplicate_of = into.id
    lifecycle.transition(
        session,
        request,
        Action.merge,
        actor=actor,
        at=now,
        detail={"into": into.id, "into_reference": into.reference},
    )
    # The surviving request's own history says what was merged into it (no version change:
    # nothing of it changed).
    lifecycle.record(
        session,
        into.id,
        "duplicate.merged_in",
        actor=actor,
        at=now,
        status=into.status,
        detail={"merged": request.id, "merged_reference": request.reference},
    )
    # Nothing is left to do for it: its open tasks leave the queue as cancelled.
    tasks.close(session, request.id, tasks.ALL_KINDS, now=now, actor=actor, status="cancelled")
    notify(
        session,
        ctx,
        request,
        "merged",
        now=now,
        into_reference=into.reference,
        into_portal_url=f"{ctx.settings.resolved_portal_url}/requests/{into.reference}",
        **day("into_due", into.due_at),
        **moment("at", now),
    )
    return request


def unlink(
    session: Session, ctx: AppContext, request_key: str, version: int, principal: StaffPrincipal
) -> Request:
    """Clear `duplicate_of` on a request that is not closed: it is handled on its own."""
    request = lock_request(session, resolve_request_id(session, request_key))
    may_work_on(principal, request)
    check_version(request, version)
    status = Status(request.status)
    if status in CLOSED:
        raise lifecycle.IllegalTransition(
            status, detail=f"A {status.value} request keeps its link; it takes no more changes."
        )
    if request.duplicate_of is None:
        raise Conflict("The request is not marked as a duplicate.", "not-a-duplicate")
    was = request.duplicate_of
    request.duplicate_of = None
    lifecycle.changed(
        session,
        request,
        "duplicate.unlinked",
        actor=principal.actor,
        at=ctx.clock.now(),
        detail={"was_duplicate_of": was},
    )
    return request


def _reference(session: Session, request_id: str) -> str:
    other = session.get(Request, request_id)
    return other.reference if other is not None else request_id

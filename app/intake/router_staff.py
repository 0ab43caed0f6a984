"""Staff routes on requests: the queue, offline intake, and the full view of one request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi import Request as HttpRequest
from fastapi.concurrency import run_in_threadpool

from app.core.deps import (
    AnyStaff,
    ContextDep,
    Operator,
    SessionDep,
    WriteSessionDep,
    read_in_thread,
)
from app.core.errors import ValidationProblem
from app.core.responses import NO_TOKEN
from app.core.validation import Moment
from app.intake import flows
from app.law.rights import RequestType
from app.requests import queue, service
from app.requests.lifecycle import Status
from app.requests.schemas import (
    QueuePage,
    StaffRequestCreate,
    StaffRequestCreated,
)
from app.requests.views import created_view
from app.workflow.schemas import RequestStaffView
from app.workflow.views import read_for_staff

router = APIRouter(prefix="/v1/staff/requests", tags=["staff: requests"])

AUTH = {**NO_TOKEN, 403: {"description": "Role may not do this"}}


@router.get("", response_model=QueuePage, responses=AUTH)
async def list_queue(
    principal: AnyStaff,
    ctx: ContextDep,
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="Repeat for several.")
    ] = None,
    type_: Annotated[list[RequestType] | None, Query(alias="type")] = None,
    assignee: Annotated[
        str | None, Query(description="A staff id or e-mail, `me`, or `none`.", max_length=254)
    ] = None,
    overdue: bool | None = None,
    due_before: Annotated[
        Moment | None, Query(description="Due strictly before this instant (with an offset).")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            description="A reference (RD-2026-000042), a request id, or an exact e-mail (blind index).",
            max_length=254,
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The queue, sorted by deadline (then id), with days left; no personal data. By default
    the open work (every status not closed); ask for closed ones with `status=` (repeatable).
    A search (`q`) looks through every status."""
    if due_before is not None and due_before.tzinfo is None:
        raise ValidationProblem(
            "due_before", "naive", "add an offset", detail="due_before needs a time-zone offset."
        )
    f = queue.make_filter(
        principal,
        status=[s.value for s in status_] if status_ else None,
        type=[t.value for t in type_] if type_ else None,
        overdue=overdue,
        due_before=due_before,
        q=q,
    )
    # async, with all of the database work (and the page's JSON) in one trip to a worker
    # thread, through the small limiter of reads: a `def` route with a session dependency made
    # four trips on the 40-thread default, and at 32 connections the trips and the threads
    # queueing for the GIL cost more than the work (bench/staff_queue.py, HTTP phase).
    body, found, now = await read_in_thread(
        ctx, queue.read_page, ctx, principal, f, assignee, limit, cursor
    )
    if q:  # a write (the access record), so on the default threadpool, not the readers'
        await run_in_threadpool(
            queue.record_search, ctx, principal, queue.search_kind(q), found, now
        )
    return Response(body, media_type="application/json")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffRequestCreated,
    responses={**AUTH, 422: {"description": "Invalid body"}},
)
def enter_offline_request(
    body: StaffRequestCreate,
    principal: Operator,
    session: SessionDep,
    ctx: ContextDep,
    response: Response,
) -> StaffRequestCreated:
    """Enter a request received by letter, phone, fax, e-mail or in person.

    The deadline runs from `received_at` (not in the future). With an e-mail address the
    subject gets the receipt notice and, unless staff already confirmed identity, a code.
    With `identity_verified` the request opens at once; otherwise it waits for verification
    (by code, or by a person through `/verify` when there is no e-mail).
    """
    now = ctx.clock.now()
    filed = flows.enter_offline(session, ctx, body, actor=principal.actor)
    response.headers["Location"] = f"/v1/staff/requests/{filed.id}"
    version = service.get(session, filed.id).version
    response.headers["ETag"] = f'"{version}"'
    return StaffRequestCreated(
        **created_view(filed, now, ctx.settings.code_ttl_seconds).model_dump(), version=version
    )


@router.get(
    "/{request_id}",
    response_model=RequestStaffView,
    responses={**AUTH, 404: {"description": "No such request"}},
)
def read_request(
    request_id: str,
    principal: AnyStaff,
    session: WriteSessionDep,
    ctx: ContextDep,
    response: Response,
    http: HttpRequest,
) -> RequestStaffView:
    """Everything about one request, personal data decrypted. Each read is written to the
    access record (who, when, from where, whose data, what)."""
    view = read_for_staff(session, ctx, request_id, principal)
    response.headers["ETag"] = f'"{view.version}"'
    return view

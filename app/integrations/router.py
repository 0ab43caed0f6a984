"""Integration routes (`/v1/integrations`): the company's systems and its processors (수탁자)
file requests, read back their own, and see and confirm the tasks of their systems."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse

from app.core import rate_limit
from app.core.deps import ContextDep, SessionDep, WriteSessionDep
from app.integrations import idempotency, service
from app.integrations.auth import Filer, Reader, TaskReader, TaskWriter
from app.integrations.schemas import (
    IntegrationCreated,
    IntegrationRequestCreate,
    IntegrationRequestView,
    IntegrationTask,
    IntegrationTaskDetail,
    IntegrationTaskList,
    TaskConfirmIn,
)

router = APIRouter(prefix="/v1/integrations", tags=["integrations"])

_AUTH = {
    401: {"description": "No token, a bad one, or the client was revoked or rotated"},
    403: {"description": "A token without the scope this needs, or not a client's token"},
}


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    response_model=IntegrationCreated,
    responses={
        **_AUTH,
        400: {"description": "No Idempotency-Key, or a malformed one"},
        409: {"description": "The first call with this Idempotency-Key is still running"},
        422: {"description": "Invalid body, or the key was used with another body"},
        429: {"description": "Too many filings for this e-mail address or by this client"},
    },
)
def file_request(
    body: IntegrationRequestCreate,
    client: Filer,
    ctx: ContextDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            description='A unique string per operation (e.g. a UUID, sent as "…"); send the '
            "same key to retry the same request. Kept 24 hours."
        ),
    ] = None,
):
    """File a request on a data subject's behalf (scope `requests:write`).

    The body is the public one plus `external_ref` (your id for it) and `identity_verified`
    (scope `requests:verified`: your user is logged in, so no code is sent and the request is
    open at once). Without `identity_verified` the filer gets a one-time code by e-mail, as
    in the portal.

    `Idempotency-Key` is required. The same key with the same body again returns the first
    answer (same status and body) with `Idempotent-Replayed: true`; with another body 422;
    while the first call is still running 409.
    """
    key = idempotency.parse_key(idempotency_key)
    rate_limit.guard(ctx, "integration_filing", ip=None, identifier=client.id)
    answer = service.file(ctx, client, body, key=key)
    headers = {"Location": f"/v1/integrations/requests/{answer.body['id']}"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get(
    "/requests/{request_id}",
    response_model=IntegrationRequestView,
    responses={**_AUTH, 404: {"description": "No such request filed by this client"}},
)
def read_request(
    request_id: str, client: Reader, session: SessionDep, ctx: ContextDep
) -> IntegrationRequestView:
    """Status, deadline and decision of a request this client filed (scope `requests:read`),
    by id or reference. Any other request is 404."""
    return service.read(session, ctx, client, request_id)


@router.get("/tasks", response_model=IntegrationTaskList, responses={**_AUTH, 422: {}})
def list_tasks(
    client: TaskReader,
    session: SessionDep,
    ctx: ContextDep,
    status: Annotated[
        str, Query(pattern="^(open|done|failed|waived|cancelled|all)$", description="Default open.")
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> IntegrationTaskList:
    """The fulfil and collect tasks of this client's systems (scope `tasks:read`), by due
    date. No personal data: fetch a task to see whose data it concerns."""
    items, next_cursor = service.list_tasks(
        session, ctx, client, status=status, limit=limit, cursor=cursor
    )
    return IntegrationTaskList(items=items, next_cursor=next_cursor)


@router.get(
    "/tasks/{task_id}",
    response_model=IntegrationTaskDetail,
    responses={**_AUTH, 404: {"description": "No such task of this client's systems"}},
)
def read_task(
    task_id: str, client: TaskReader, session: WriteSessionDep, ctx: ContextDep
) -> IntegrationTaskDetail:
    """One task with the subject's identifiers (and for a correction the requested values):
    what the system needs to find the data, shown only while the task is `open` or `failed`;
    once it is done, waived or cancelled, its outcome and no identifiers (each null). Each
    read of identifiers is in the access record."""
    return service.task_detail(session, ctx, client, task_id)


@router.post(
    "/tasks/{task_id}/confirm",
    response_model=IntegrationTask,
    responses={
        **_AUTH,
        404: {"description": "No such task of this client's systems"},
        409: {"description": "Done already, waived or cancelled"},
        422: {"description": "Bad outcome or data (a collect task that is done needs data)"},
    },
)
def confirm_task(
    task_id: str,
    client: TaskWriter,
    session: SessionDep,
    ctx: ContextDep,
    body: TaskConfirmIn | None = None,
) -> IntegrationTask:
    """Report how a task went (scope `tasks:write`): `{outcome: done|not_found|failed, note?,
    data?}` (no body: done). A collect task that is done returns the data the system holds,
    `{item: value}` or a list of such records, for the subject's access result. A failed task
    can be confirmed again once redone."""
    body = body or TaskConfirmIn()
    return service.confirm(
        session, ctx, client, task_id, outcome=body.outcome, note=body.note, data=body.data
    )

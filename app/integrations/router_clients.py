"""(cpo) Integration clients: grant, list, rotate and revoke (`/v1/staff/clients`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CPO, ContextDep, SessionDep
from app.integrations import clients
from app.integrations.schemas import ClientCreate, ClientCredentials, ClientList, ClientPublic
from app.models import ApiClient

router = APIRouter(prefix="/v1/staff/clients", tags=["staff: clients and webhooks"])

_AUTH = {401: {"description": "No or bad token"}, 403: {"description": "Only the CPO"}}


def public(client: ApiClient) -> ClientPublic:
    return ClientPublic(
        client_id=client.id,
        name=client.name,
        scopes=client.scopes,
        systems=client.systems,
        active=client.active,
        created_at=client.created_at,
        created_by=client.created_by,
        rotated_at=client.rotated_at,
        revoked_at=client.revoked_at,
    )


def credentials(issued: clients.Issued) -> ClientCredentials:
    return ClientCredentials(**public(issued.client).model_dump(), client_secret=issued.secret)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientCredentials,
    responses={**_AUTH, 422: {"description": "Unknown scope or system"}},
)
def create_client(
    body: ClientCreate, principal: CPO, session: SessionDep, ctx: ContextDep
) -> ClientCredentials:
    """Grant an integration client `{name, scopes, systems?}`. The answer carries the
    `client_secret` once: store it then. Scopes: `requests:write`, `requests:read`,
    `requests:verified`, `tasks:read`, `tasks:write`; task scopes need `systems` (the profile's
    systems or processors whose tasks the client sees). The grant is in the access record."""
    issued = clients.create(
        session,
        ctx,
        name=body.name,
        scopes=list(body.scopes),
        systems=list(body.systems),
        actor=principal.actor,
    )
    return credentials(issued)


@router.get("", response_model=ClientList, responses={**_AUTH, 422: {}})
def list_clients(
    principal: CPO,
    session: SessionDep,
    active: Annotated[bool | None, Query(description="Only active (or revoked) clients.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> ClientList:
    """The integration clients, oldest first (never their secrets)."""
    rows = clients.listing(session, limit=limit + 1, after=cursor, active=active)
    more = len(rows) > limit
    rows = rows[:limit]
    return ClientList(
        items=[public(c) for c in rows], next_cursor=rows[-1].id if more and rows else None
    )


@router.post(
    "/{client_id}/rotate",
    response_model=ClientCredentials,
    responses={**_AUTH, 404: {"description": "No such client"}, 409: {"description": "Revoked"}},
)
def rotate_client(
    client_id: str, principal: CPO, session: SessionDep, ctx: ContextDep
) -> ClientCredentials:
    """A new secret for the client (shown once); the old secret and every token issued with it
    stop working at once."""
    return credentials(clients.rotate(session, ctx, client_id, actor=principal.actor))


@router.delete(
    "/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**_AUTH, 404: {"description": "No such client"}},
)
def revoke_client(client_id: str, principal: CPO, session: SessionDep, ctx: ContextDep) -> Response:
    """Revoke the client: its secret and tokens stop working at once. The record stays (the
    requests it filed keep naming it); revoking twice changes nothing."""
    clients.revoke(session, ctx, client_id, actor=principal.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

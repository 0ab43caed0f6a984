"""(cpo) Integration clients: grant, list, rotate and revoke (`/v1/staff/clients`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.accounts import clients
from app.core.deps import CPO, ContextDep, SessionDep
from app.core.paging import page
from app.core.responses import CPO_ONLY
from app.integrations.schemas import ClientCreate, ClientCredentials, ClientList
from app.integrations.views import client_credentials, client_public

router = APIRouter(prefix="/v1/staff/clients", tags=["staff: clients and webhooks"])

_AUTH = CPO_ONLY


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
    return client_credentials(issued)


@router.get("", response_model=ClientList, responses={**_AUTH, 422: {}})
def list_clients(
    principal: CPO,
    session: SessionDep,
    active: Annotated[bool | None, Query(description="Only active (or revoked) clients.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> ClientList:
    """The integration clients, oldest first (never their secrets)."""
    rows, more = page(clients.listing(session, limit=limit + 1, after=cursor, active=active), limit)
    return ClientList(
        items=[client_public(c) for c in rows], next_cursor=rows[-1].id if more and rows else None
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
    return client_credentials(clients.rotate(session, ctx, client_id, actor=principal.actor))


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

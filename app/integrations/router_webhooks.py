"""Webhook endpoints and their deliveries (CPO only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.core.deps import CPO, ContextDep, SessionDep
from app.core.responses import NO_TOKEN
from app.integrations import webhooks as service
from app.integrations.schemas_webhooks import (
    DeliveryList,
    DeliveryPublic,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
)
from app.integrations.views import delivery_public, webhook_public

router = APIRouter(prefix="/v1/staff/webhooks", tags=["staff: webhooks"])

AUTH = {**NO_TOKEN, 403: {"description": "Only the CPO manages webhooks"}}
FOUND = {**AUTH, 404: {"description": "No such webhook"}}
PAGE = {422: {"description": "Bad limit or cursor"}}

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_\-=]+$")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    responses={**AUTH, 422: {"description": "Bad URL (or an address refused), event or system"}},
)
def register(body: WebhookCreate, principal: CPO, session: SessionDep, ctx: ContextDep):
    """Register a receiver for events about requests and tasks. The answer holds the signing
    secret (`whsec_…`), shown only here: every delivery is signed per Standard Webhooks
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`), verifiable with the
    `standardwebhooks` library. Bodies are `{type, timestamp, data}` with ids, the reference,
    types and statuses only, never personal data. A URL on a loopback, private, link-local,
    shared or reserved address, or plain `http://` in production, is refused (422 on `url`)
    unless RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE is set; the check is repeated at each delivery."""
    issued = service.register(session, ctx, body, actor=principal.actor)
    return WebhookCreated(**webhook_public(issued.endpoint).model_dump(), secret=issued.secret)


@router.get("", response_model=WebhookList, responses={**AUTH, **PAGE})
def list_webhooks(
    principal: CPO, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> WebhookList:
    """The registered endpoints, oldest first (never their secrets)."""
    rows, next_cursor = service.listing(session, limit=limit, cursor=cursor)
    return WebhookList(items=[webhook_public(r) for r in rows], next_cursor=next_cursor)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=FOUND)
def delete_webhook(
    webhook_id: str, principal: CPO, session: SessionDep, ctx: ContextDep
) -> Response:
    """Remove an endpoint: nothing more is sent to it, and its deliveries go with it."""
    service.delete(session, ctx, webhook_id, actor=principal.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", response_model=SecretRotated, responses=FOUND)
def rotate_secret(
    webhook_id: str, principal: CPO, session: SessionDep, ctx: ContextDep
) -> SecretRotated:
    """A new signing secret, shown only here. The old one keeps signing beside it for
    RIGHTSDESK_WEBHOOK_SECRET_OVERLAP_HOURS (24 h): meanwhile `webhook-signature` carries
    both (`v1,<new> v1,<old>`), so the receiver can switch to the new secret at leisure."""
    issued = service.rotate_secret(session, ctx, webhook_id, actor=principal.actor)
    return SecretRotated(
        id=issued.endpoint.id,
        secret=issued.secret,
        previous_secret_until=issued.endpoint.previous_secret_until,
    )


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses={**FOUND, **PAGE})
def list_deliveries(
    webhook_id: str,
    principal: CPO,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryList:
    """The endpoint's deliveries, newest first: `pending` (tried again at `next_attempt_at`,
    with exponential backoff for about a day), `delivered` (answered 2xx) or `failed` (out of
    attempts, or the receiver answered 410 Gone, which disables the endpoint)."""
    rows, next_cursor = service.deliveries(session, webhook_id, limit=limit, cursor=cursor)
    return DeliveryList(items=[delivery_public(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryPublic,
    responses={
        **AUTH,
        404: {"description": "No such delivery"},
        409: {"description": "The delivery is not failed, or its endpoint is disabled"},
    },
)
def retry_delivery(
    delivery_id: str, principal: CPO, session: SessionDep, ctx: ContextDep
) -> DeliveryPublic:
    """Send a failed delivery once more, now (same `webhook-id`, freshly signed). If that
    attempt fails too, it is failed again."""
    return delivery_public(service.retry(session, ctx, delivery_id, actor=principal.actor))

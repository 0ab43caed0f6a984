"""What the staff routes of integrations show of a client, a webhook endpoint and a delivery."""

from __future__ import annotations

from app.accounts import clients
from app.integrations.schemas import ClientCredentials, ClientPublic
from app.integrations.schemas_webhooks import DeliveryPublic, WebhookPublic
from app.models import ApiClient, WebhookDelivery, WebhookEndpoint


def client_public(client: ApiClient) -> ClientPublic:
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


def client_credentials(issued: clients.Issued) -> ClientCredentials:
    return ClientCredentials(
        **client_public(issued.client).model_dump(), client_secret=issued.secret
    )


def webhook_public(endpoint: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic.model_validate(endpoint, from_attributes=True)


def delivery_public(row: WebhookDelivery) -> DeliveryPublic:
    view = DeliveryPublic.model_validate(row, from_attributes=True)
    if row.status != "pending":
        view.next_attempt_at = None
    return view

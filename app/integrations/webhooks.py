"""Webhook endpoints (registered by the CPO) and their deliveries: register, list, delete,
rotate the secret, list deliveries, retry a failed one. No HTTP here; the caller commits.

A signing secret is `whsec_` and the base64 of 32 random bytes (the Standard Webhooks form,
which the `standardwebhooks` library reads). It must be read to sign, so it is kept encrypted
under the key ring, never hashed, and shown once: at registration and at rotation. Every
registration, deletion, rotation and retry is an entry in the access record (without the
secret, and with the URL's host only: a URL's path or query may carry a receiver's token).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import delete as sql_delete
from sqlalchemy import or_, tuple_, update
from sqlmodel import Session, select

from app.audit import service as audit
from app.core.actors import Actor
from app.core.context import AppContext
from app.core.db import after_commit, locked
from app.core.errors import Conflict, NotFound, Problem, ValidationProblem
from app.core.ids import new_id
from app.core.paging import decode_cursor, encode_cursor, page
from app.integrations.schemas_webhooks import WebhookCreate
from app.integrations.ssrf import Policy, Refused
from app.models import WebhookDelivery, WebhookEndpoint

SECRET_PREFIX = "whsec_"

_endpoint = WebhookEndpoint.__table__
_delivery = WebhookDelivery.__table__


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _aad(endpoint_id: str, which: str = "secret") -> str:
    return f"webhook_endpoint.{which}:{endpoint_id}"


def signing_secrets(ctx: AppContext, endpoint, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one while its
    overlap after a rotation lasts."""
    out = [ctx.keys.decrypt(endpoint.secret_enc, _aad(endpoint.id))]
    if (
        endpoint.previous_secret_enc is not None
        and endpoint.previous_secret_until is not None
        and endpoint.previous_secret_until > now
    ):
        out.append(ctx.keys.decrypt(endpoint.previous_secret_enc, _aad(endpoint.id, "previous")))
    return out


def _field_problem(field: str, code: str, message: str) -> Problem:
    return ValidationProblem(
        field, code, message, detail=f"The webhook's {field} is not accepted: {message}."
    )


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""


@dataclass
class Issued:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def register(session: Session, ctx: AppContext, body: WebhookCreate, *, actor: Actor) -> Issued:
    """Check the URL (shape and, unless private addresses are allowed, where it resolves to
    now) and the system, then keep the endpoint with a new secret."""
    if body.system is not None:
        known = set(ctx.profile.systems) | set(ctx.profile.processors)
        if body.system not in known:
            raise _field_problem(
                "system", "unknown_system", f"known systems: {', '.join(sorted(known))}"
            )
    try:
        Policy.from_settings(ctx.settings).check_destination(body.url)
    except Refused as exc:
        raise _field_problem("url", exc.code, exc.reason) from None
    now = ctx.clock.now()
    endpoint_id = new_id("whk")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=body.url,
        events=list(dict.fromkeys(body.events)),
        system=body.system,
        description=body.description,
        secret_enc=ctx.keys.encrypt(secret, _aad(endpoint_id)),
        created_at=now,
        created_by=actor.label,
    )
    session.add(endpoint)
    session.flush()
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="webhook_registered",
        ip=actor.ip,
        detail={
            "webhook": endpoint_id,
            "host": _host(body.url),
            "events": endpoint.events,
            "system": body.system,
        },
    )
    return Issued(endpoint, secret)


def _locked(session: Session, endpoint_id: str) -> WebhookEndpoint:
    return locked(session, WebhookEndpoint, endpoint_id, missing="No such webhook.")


def listing(
    session: Session, *, limit: int, cursor: str | None
) -> tuple[list[WebhookEndpoint], str | None]:
    """Oldest first; the cursor is the last id seen (ids are time-ordered)."""
    query = select(WebhookEndpoint)
    if cursor:
        query = query.where(WebhookEndpoint.id > cursor)
    rows, more = page(
        list(session.exec(query.order_by(WebhookEndpoint.id).limit(limit + 1))), limit
    )
    return rows, rows[-1].id if more else None


def delete(session: Session, ctx: AppContext, endpoint_id: str, *, actor: Actor) -> None:
    """Remove the endpoint and its deliveries (nothing more is sent to it; a delivery in
    flight finds its row gone and records nothing)."""
    endpoint = _locked(session, endpoint_id)
    host = _host(endpoint.url)
    conn = session.connection()
    conn.execute(sql_delete(_delivery).where(_delivery.c.endpoint_id == endpoint_id))
    conn.execute(sql_delete(_endpoint).where(_endpoint.c.id == endpoint_id))
    session.expunge(endpoint)
    audit.append(
        session,
        at=ctx.clock.now(),
        actor=actor.label,
        action="webhook_deleted",
        ip=actor.ip,
        detail={"webhook": endpoint_id, "host": host},
    )


def rotate_secret(session: Session, ctx: AppContext, endpoint_id: str, *, actor: Actor) -> Issued:
    """A new secret; the current one becomes the previous and keeps signing beside it for
    RIGHTSDESK_WEBHOOK_SECRET_OVERLAP_HOURS (a secret older than that is dropped)."""
    endpoint = _locked(session, endpoint_id)
    now = ctx.clock.now()
    overlap = timedelta(hours=ctx.settings.webhook_secret_overlap_hours)
    current = ctx.keys.decrypt(endpoint.secret_enc, _aad(endpoint.id))
    secret = new_secret()
    endpoint.secret_enc = ctx.keys.encrypt(secret, _aad(endpoint.id))
    if overlap:
        endpoint.previous_secret_enc = ctx.keys.encrypt(current, _aad(endpoint.id, "previous"))
        endpoint.previous_secret_until = now + overlap
    else:
        endpoint.previous_secret_enc = None
        endpoint.previous_secret_until = None
    session.add(endpoint)
    session.flush()
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="webhook_secret_rotated",
        ip=actor.ip,
        detail={"webhook": endpoint.id, "previous_until": _iso(endpoint.previous_secret_until)},
    )
    return Issued(endpoint, secret)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def get(session: Session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook.")
    return endpoint


def _encode_cursor(row: WebhookDelivery) -> str:
    return encode_cursor(row.created_at, row.id)


def deliveries(
    session: Session, endpoint_id: str, *, limit: int, cursor: str | None
) -> tuple[list[WebhookDelivery], str | None]:
    """The endpoint's deliveries, newest first (keyset on created_at, id)."""
    get(session, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if cursor:
        at, delivery_id = decode_cursor(cursor, aware=True)
        query = query.where(
            or_(
                WebhookDelivery.created_at < at,
                tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < tuple_(at, delivery_id),
            )
        )
    rows = list(
        session.exec(
            query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
                limit + 1
            )
        )
    )
    rows, more = page(rows, limit)
    return rows, _encode_cursor(rows[-1]) if more else None


def retry(session: Session, ctx: AppContext, delivery_id: str, *, actor: Actor) -> WebhookDelivery:
    """A failed delivery goes back to pending, due now, for one more attempt (if that fails
    too, it is failed again). 409 unless it is failed, or when its endpoint is disabled."""
    found = session.get(WebhookDelivery, delivery_id)
    if found is None:
        raise NotFound("No such delivery.")
    endpoint = _locked(session, found.endpoint_id)
    if not endpoint.active:
        raise Conflict(
            f"The webhook is disabled ({endpoint.disabled_reason or 'inactive'}); "
            "register the receiver again to send to it."
        )
    now = ctx.clock.now()
    # One statement decides: of two retries at once (or a retry racing a worker), one wins.
    result = session.connection().execute(
        update(_delivery)
        .where(_delivery.c.id == delivery_id, _delivery.c.status == "failed")
        .values(status="pending", next_attempt_at=now, claim_token=None)
    )
    if result.rowcount != 1:
        raise Conflict("Only a failed delivery can be retried.")
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="webhook_delivery_retried",
        ip=actor.ip,
        detail={"webhook": endpoint.id, "delivery": delivery_id},
    )
    wake = session.info.get("wake_outbox")
    if wake is not None:
        after_commit(session, wake)
    session.expire(found)
    return session.get(WebhookDelivery, delivery_id)

"""Webhook delivery: claim due rows of the webhook outbox, sign them (Standard Webhooks, with
the `standardwebhooks` library), POST them through the SSRF guard, record each outcome.

The claim rules are the notices' (app/notifications/outbox.py, shared through `Queue` and
`Claim`): a batch is claimed under a random token and a lease with FOR UPDATE SKIP LOCKED;
each outcome is recorded as soon as it is known and only under the claim's token; a delivery
is only started with at least half a lease left, the lease being renewed for the rest of the
batch; a stopping worker hands back what it has not started. So while a worker lives, no
delivery is sent by two workers. A worker killed mid-delivery leaves its rows claimed until
the lease runs out; another worker then sends them, and the one it had in flight (sent, the
answer not yet recorded) goes out again — with the same `webhook-id` (the row's id), which
is how receivers drop the repeat (the Standard asks them to). A delivery whose outcome was
recorded is never sent again, unless a person retries it.

Outcomes: 2xx is delivered. 410 Gone disables the endpoint (`active` false) and fails this
delivery and every other pending one of that endpoint. Anything else — another status, a 3xx
(redirects are not followed), a timeout, a connection or TLS error, an address the guard
refuses — is retried with exponential backoff and jitter: about 5 s after the first attempt,
then 20 s, 80 s … up to 8 h apart, the last about a day after the first; then failed.
`last_error` is a short reason: never a response body, never personal data.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from app.audit import service as audit
from app.core.context import AppContext
from app.core.db import Database
from app.events.claims import Claim, DeliveryReport, Queue, claim
from app.integrations import ssrf
from app.integrations.webhooks import signing_secrets
from app.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger("rightsdesk.webhooks")

_delivery = WebhookDelivery.__table__
_endpoint = WebhookEndpoint.__table__

WEBHOOKS = Queue(
    _delivery,
    "status",
    (
        _delivery.c.id,
        _delivery.c.endpoint_id,
        _delivery.c.event_type,
        _delivery.c.payload,
        _delivery.c.attempts,
    ),
)

# Seconds from a failed attempt to the next: ×4 each time from 5 s, capped at 8 h. Nine
# retries after the first attempt; the last comes about 23.6 h after it (±20 % jitter).
RETRY_DELAYS = (5, 20, 80, 320, 1280, 5120, 20480, 28800, 28800)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.2

GONE = "410 Gone"
USER_AGENT = "RightsDesk-Webhooks/1"


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """How long after failed attempt number `attempts` (1-based) the next one is due: the
    schedule's step times a random factor in [0.8, 1.2], so that deliveries failed by one
    outage do not all come back at the same second."""
    step = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    factor = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return timedelta(seconds=step * factor)


def sign(secrets: list[str], msg_id: str, timestamp: int, payload: str) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, space-separated (the
    new secret's first; during a rotation's overlap the previous one's too)."""
    at = datetime.fromtimestamp(timestamp, UTC)
    return " ".join(Webhook(secret).sign(msg_id, at, payload) for secret in secrets)


@dataclass
class WebhookReport(DeliveryReport):
    """`sent` counts deliveries answered 2xx; `disabled`, endpoints disabled by a 410."""

    disabled: int = 0

    @property
    def delivered(self) -> int:
        return self.sent

    def add(self, other: DeliveryReport) -> None:
        super().add(other)
        if isinstance(other, WebhookReport):
            self.disabled += other.disabled


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None  # None: delivered

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def _post(http: httpx.Client, policy: ssrf.Policy, url: str, headers: dict, body: bytes) -> Attempt:
    try:
        policy.check_url(url)  # the rules may have changed since registration (production)
        # Streamed and closed unread: we need the status only, never a (maybe huge) body.
        with http.stream("POST", url, content=body, headers=headers) as response:
            code = response.status_code
    except ssrf.Refused as exc:
        return Attempt(None, f"refused: {exc.reason}")
    except httpx.TimeoutException as exc:
        return Attempt(None, f"timeout ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Attempt(None, f"connection error ({type(exc).__name__})")
    except Exception as exc:  # the type only: a message could carry anything
        return Attempt(None, f"error ({type(exc).__name__})")
    if 200 <= code < 300:
        return Attempt(code, None)
    if code == 410:
        return Attempt(code, f"{GONE}: endpoint disabled")
    if 300 <= code < 400:
        return Attempt(code, f"HTTP {code}: redirects are not followed")
    return Attempt(code, f"HTTP {code}")


def send(http: httpx.Client, policy: ssrf.Policy, url: str, secrets: list[str], row) -> Attempt:
    """One signed POST of a delivery's payload."""
    # The signed timestamp is the real wall clock at sending, never the injectable clock nor
    # the event's time: the receiver checks it against its own clock (the standardwebhooks
    # library allows 5 minutes either way) to refuse replayed requests, so a retry an hour
    # later must carry the time it is really sent.
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": row.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, row.id, timestamp, row.payload),
    }
    return _post(http, policy, url, headers, row.payload.encode())


def _values(ctx: AppContext, attempts: int, outcome: Attempt) -> dict:
    now = ctx.clock.now()
    common = {"attempts": attempts, "last_status_code": outcome.status_code}
    if outcome.error is None:
        return {**common, "status": "delivered", "delivered_at": now, "last_error": None}
    if outcome.gone or attempts >= MAX_ATTEMPTS:
        return {**common, "status": "failed", "last_error": outcome.error[:200]}
    return {
        **common,
        "last_error": outcome.error[:200],
        "next_attempt_at": now + retry_delay(attempts),
    }


def _disable(session, ctx: AppContext, endpoint_id: str) -> bool:
    """410 Gone: the receiver says it is gone for good. Disable the endpoint and fail its
    other pending deliveries (whoever holds them: a worker sending one now records nothing)."""
    conn = session.connection()
    now = ctx.clock.now()
    changed = conn.execute(
        update(_endpoint)
        .where(_endpoint.c.id == endpoint_id, _endpoint.c.active.is_(True))
        .values(active=False, disabled_reason=GONE)
    ).rowcount
    conn.execute(
        update(_delivery)
        .where(_delivery.c.endpoint_id == endpoint_id, _delivery.c.status == "pending")
        .values(status="failed", claim_token=None, last_error=f"endpoint disabled ({GONE})")
    )
    if changed:
        audit.append(
            session,
            at=now,
            actor="system",
            action="webhook_disabled",
            detail={"webhook": endpoint_id, "reason": GONE},
        )
    return bool(changed)


def _anything_due(db: Database, now: datetime) -> bool:
    """A read first, so an idle deliverer does not take SQLite's write lock for nothing."""
    with db.session(write=False) as session:
        found = (
            session.connection()
            .execute(
                select(_delivery.c.id)
                .where(_delivery.c.status == "pending", _delivery.c.next_attempt_at <= now)
                .limit(1)
            )
            .first()
        )
        session.rollback()
    return found is not None


def _endpoints(db: Database, ids: set[str]) -> dict:
    with db.session(write=False) as session:
        rows = session.connection().execute(select(_endpoint).where(_endpoint.c.id.in_(ids))).all()
        session.rollback()
    return {row.id: row for row in rows}


def deliver_due(
    db: Database,
    ctx: AppContext,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    stop: Callable[[], bool] | None = None,
    http: httpx.Client | None = None,
) -> WebhookReport:
    """Claim up to `limit` due deliveries (default RIGHTSDESK_WEBHOOK_BATCH_SIZE), send them
    one by one, record each outcome under the claim as soon as it is known; `stop()` hands
    back the rest. A database error propagates (the caller backs off): what was sent is
    recorded by then, except the delivery in hand, which its lease brings back."""
    now = now or ctx.clock.now()
    report = WebhookReport()
    if not _anything_due(db, now):
        return report
    batch = claim(db, ctx, WEBHOOKS, now, limit or ctx.settings.webhook_batch_size)
    report.claimed = len(batch.rows)
    if not batch.rows:
        return report
    endpoints = _endpoints(db, {row.endpoint_id for row in batch.rows})
    policy = ssrf.Policy.from_settings(ctx.settings)
    own = http is None
    if own:
        http = ssrf.client(policy, timeout=ctx.settings.webhook_timeout_seconds)
    try:
        ids = [row.id for row in batch.rows]
        for i, row in enumerate(batch.rows):
            if stop is not None and stop():
                report.released += batch.release(ids[i:])
                break
            _deliver_one(db, ctx, batch, http, policy, endpoints, row, ids[i:], report)
    finally:
        if own:
            http.close()
    return report


def _deliver_one(
    db: Database,
    ctx: AppContext,
    batch: Claim,
    http: httpx.Client,
    policy: ssrf.Policy,
    endpoints: dict,
    row,
    rest: list[str],
    report: WebhookReport,
) -> None:
    if row.endpoint_id in endpoints and endpoints[row.endpoint_id] is None:
        report.failed += 1  # its endpoint was disabled by a 410 earlier in this batch
        return
    endpoint = endpoints.get(row.endpoint_id)
    if endpoint is None or not endpoint.active:
        # Disabled meanwhile (a 410 seen by another worker) or deleted: not sent.
        if not batch.record(row.id, {"status": "failed", "last_error": "endpoint disabled"}):
            report.lost += 1
        else:
            report.failed += 1
        return
    try:
        secrets = signing_secrets(ctx, endpoint, ctx.clock.now())
    except Exception as exc:  # a key missing from the ring: retried, the type kept
        outcome = Attempt(None, f"secret unreadable ({type(exc).__name__})")
    else:
        batch.ensure_lease(rest)
        if row.id not in batch.held:  # the lease ran out and another worker has it
            report.lost += 1
            return
        outcome = send(http, policy, endpoint.url, secrets, row)
    values = _values(ctx, row.attempts + 1, outcome)
    with db.transaction() as session:
        recorded = batch.record(row.id, values, session=session)
        if outcome.gone:
            if _disable(session, ctx, row.endpoint_id):
                report.disabled += 1
            endpoints[row.endpoint_id] = None  # the rest of this batch for it failed with it
    if not recorded:
        report.lost += 1
        log.warning("the claim on webhook delivery %s ran out before its result", row.id)
    elif outcome.error is None:
        report.sent += 1
    else:
        report.errors.append(outcome.error)
        log.warning(
            "webhook delivery %s (%s) to %s failed: status %s, %s",
            row.id,
            row.event_type,
            row.endpoint_id,
            outcome.status_code,
            outcome.error,
        )
        if values.get("status") == "failed":
            report.failed += 1
        else:
            report.retried += 1


def drain(
    db: Database,
    ctx: AppContext,
    *,
    max_batches: int = 100,
    limit: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> WebhookReport:
    """Deliver until nothing is due (bounded), or until `stop()`."""
    limit = limit or ctx.settings.webhook_batch_size
    total = WebhookReport()
    for _ in range(max_batches):
        if stop is not None and stop():
            break
        report = deliver_due(db, ctx, limit=limit, stop=stop)
        total.add(report)
        if report.claimed < limit or report.sent == 0:
            break  # a short batch means nothing more is due
    return total

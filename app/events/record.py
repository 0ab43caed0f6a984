"""Webhook events: written to the webhook outbox (`webhook_delivery`) in the business
transaction, one row per subscribed endpoint, so an event is never lost to a crash and never
sent for work that was rolled back.

Bodies are thin (Standard Webhooks' `{type, timestamp, data}`): ids, the reference, the
request's type and status, and for task events the task, its system and data category. Never
personal data: receivers fetch what they may see through the API.

Who gets what: an endpoint without a `system` gets every event it subscribed to; a processor's
endpoint (`system` set) gets the task events of its system, and the request events of requests
in which its system has a task.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlmodel import Session

from app.core.db import BATCH, after_commit
from app.core.ids import new_id
from app.models import Request, Task, WebhookDelivery, WebhookEndpoint

REQUEST_CREATED = "request.created"
REQUEST_VERIFIED = "request.verified"
REQUEST_DECIDED = "request.decided"
REQUEST_COMPLETED = "request.completed"
REQUEST_WITHDRAWN = "request.withdrawn"
TASK_CREATED = "task.created"
REQUEST_DEADLINE_APPROACHING = "request.deadline_approaching"

EVENT_TYPES = (
    REQUEST_CREATED,
    REQUEST_VERIFIED,
    REQUEST_DECIDED,
    REQUEST_COMPLETED,
    REQUEST_WITHDRAWN,
    TASK_CREATED,
    REQUEST_DEADLINE_APPROACHING,
)

# The status change that each lifecycle action announces (requests/lifecycle.py).
EVENT_OF_ACTION = {
    "verify": REQUEST_VERIFIED,
    "grant": REQUEST_DECIDED,
    "refuse": REQUEST_DECIDED,
    "carry_out": REQUEST_DECIDED,  # a self-service withdrawal, decided by the plan
    "reject": REQUEST_DECIDED,  # identity or authority not confirmed: a decision too
    "complete": REQUEST_COMPLETED,
    "withdraw": REQUEST_WITHDRAWN,
}

_endpoint = WebhookEndpoint.__table__
_task = Task.__table__
_ACTIVE_ENDPOINTS = select(_endpoint.c.id, _endpoint.c.events, _endpoint.c.system).where(
    _endpoint.c.active.is_(True)
)
_INSERT_DELIVERY = insert(WebhookDelivery.__table__)


def _active_endpoints(session: Session) -> list:
    """The active endpoints; read once per transaction in a group writer's batch of filings
    (core/db.py `BATCH`: as if the batch's filings had all been made when it read them)."""
    if not session.info.get(BATCH):
        return list(session.connection().execute(_ACTIVE_ENDPOINTS))
    transaction = session.get_transaction()
    cached = session.info.get("active_endpoints")
    if cached is None or cached[0] is not transaction:
        rows = list(session.connection().execute(_ACTIVE_ENDPOINTS))
        cached = session.info["active_endpoints"] = (transaction, rows)
    return cached[1]


def body(
    event_type: str,
    request: Request,
    *,
    at: datetime,
    task: Task | None = None,
) -> dict:
    data = {
        "request_id": request.id,
        "reference": request.reference,
        "request_type": request.type,
        "status": request.status,
    }
    # What the newer rights name (consents, an automated decision): ids, no personal data.
    # (Reminders pass a row of a few columns: it may not carry it.)
    scope_detail = getattr(request, "scope_detail", None)
    if scope_detail:
        data.update(scope_detail)
    if task is not None:
        data.update(task_id=task.id, task_kind=task.kind, system=task.system)
        data["category"] = task.category
        if task.action:
            data["action"] = task.action
    return {
        "type": event_type,
        "timestamp": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def emit(
    session: Session,
    event_type: str,
    request: Request,
    *,
    at: datetime,
    task: Task | None = None,
) -> int:
    """Queue `event_type` for every endpoint that should get it; returns how many rows."""
    endpoints = [row for row in _active_endpoints(session) if event_type in row.events]
    conn = session.connection()
    if not endpoints:
        return 0
    systems: set[str] | None = None
    targets = []
    for row in endpoints:
        if row.system is None:
            targets.append(row.id)
        elif task is not None:
            if task.system == row.system:
                targets.append(row.id)
        else:
            if systems is None:
                session.flush()  # tasks added in this unit count too
                systems = set(
                    conn.execute(
                        select(_task.c.system)
                        .where(_task.c.request_id == request.id, _task.c.system.is_not(None))
                        .distinct()
                    ).scalars()
                )
            if row.system in systems:
                targets.append(row.id)
    if not targets:
        return 0
    payload = json.dumps(body(event_type, request, at=at, task=task), ensure_ascii=False)
    conn.execute(
        _INSERT_DELIVERY,
        [
            {
                "id": new_id("msg"),
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "request_id": request.id,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for endpoint_id in targets
        ],
    )
    wake = session.info.get("wake_outbox")
    if wake is not None:
        after_commit(session, wake)
    return len(targets)

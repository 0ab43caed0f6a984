"""Liveness, readiness and the problem-type catalogue."""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from fastapi import Request as HttpRequest
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from app.core.context import AppContext
from app.core.errors import CATALOGUE, NotFound, Problem, Unauthorized, problem_type
from app.core.migrations import current_revision, head_revision
from app.ops.metrics import render

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {"description": "Database unreachable or not migrated, or the intake writer stopped"}
    },
)
def readyz(http: HttpRequest) -> dict[str, str]:
    """The database answers, its schema is at the newest migration, and the writer that
    commits filings runs."""
    ctx: AppContext = http.app.state.ctx
    try:
        ctx.db.ping()
        current = current_revision(ctx.db.engine)
    except Exception as exc:
        raise Problem(503, "service-unavailable", "The database is not reachable.") from exc
    head = head_revision()
    if current != head:
        raise Problem(
            503,
            "service-unavailable",
            f"The database is at migration {current}, not {head}: run `rightsdesk migrate`.",
        )
    if not ctx.intake_writer.alive:
        # Filings would be refused: take this process out of rotation (and restart it).
        raise Problem(503, "service-unavailable", "The intake writer has stopped.")
    return {"status": "ready", "migration": head or ""}


@router.get("/problems/{slug}")
async def problem_doc(slug: str) -> dict[str, str]:
    """What a problem `type` means."""
    if slug not in CATALOGUE:
        raise NotFound("No such problem type.")
    title, meaning = CATALOGUE[slug]
    return {"type": problem_type(slug), "title": title, "description": meaning}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"description": "RIGHTSDESK_METRICS_TOKEN is set and the bearer token is not it"},
    },
)
def metrics(http: HttpRequest) -> PlainTextResponse:
    """Prometheus metrics: HTTP requests by method, route template and status, and their
    latency; requests by status and type; overdue requests; notices pending and failed and the
    oldest pending notice's age; webhook deliveries pending and failed. With
    RIGHTSDESK_METRICS_TOKEN set, send it as a bearer token."""
    ctx: AppContext = http.app.state.ctx
    expected = ctx.settings.metrics_token
    if expected:
        sent = http.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
            raise Unauthorized(
                "Send the metrics token (RIGHTSDESK_METRICS_TOKEN) as a bearer token."
            )
    return PlainTextResponse(render(ctx), media_type=CONTENT_TYPE_LATEST)

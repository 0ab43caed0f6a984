"""The application: routers, middleware, problem handlers, and outbox delivery."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.accounts.router import router as auth_router
from app.accounts.router_users import router as users_router
from app.audit.router import router as audit_router
from app.core.body_limit import BodyLimitMiddleware
from app.core.clock import Clock
from app.core.config import DeliveryMode, Environment, Settings, get_settings
from app.core.context import AppContext
from app.core.db import refresh_statistics
from app.core.errors import UnexpectedErrorMiddleware, install_problem_handlers
from app.core.nul_guard import NulGuardMiddleware
from app.core.openapi import install_openapi
from app.integrations.router import router as integrations_router
from app.integrations.router_clients import router as clients_router
from app.integrations.router_webhooks import router as webhooks_router
from app.law import deadlines
from app.notifications.outbox import OutboxPump, drain
from app.notifications.senders import make_sender
from app.ops.browser import BrowserSafetyMiddleware
from app.ops.docs import ASSETS as DOCS_ASSETS
from app.ops.docs import install_docs
from app.ops.observe import ObserveMiddleware
from app.ops.router import router as ops_router
from app.portal import router as portal
from app.requests.deadline_sync import recompute_deadlines
from app.requests.router_public import router as requests_router
from app.requests.router_staff import router as staff_requests_router
from app.results.router import router as results_router
from app.results.service import destroy_expired as destroy_expired_results
from app.retention.router import router as retention_router
from app.verification.documents import destroy_expired
from app.verification.router import router as verification_router
from app.verification.router_documents import router as documents_router
from app.verification.router_documents import staff_router as staff_documents_router
from app.web.router import router as web_router
from app.workflow.reminders import send_reminders
from app.workflow.router import router as workflow_router
from app.workflow.router_public import router as objections_router
from app.workflow.service import reject_unverified

DESCRIPTION = """
Rights Desk receives, verifies, decides and carries out data subjects' requests under Korea's
Personal Information Protection Act (개인정보 보호법): access (열람), correction (정정),
deletion (삭제) and suspension of processing (처리정지), on the statutory 10-day clock.

Errors are RFC 9457 problem documents (`application/problem+json`); each `type` is a path on
this service that explains it.
"""


def _version() -> str:
    try:
        return metadata.version("rightsdesk")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


def _started(settings: Settings, ctx: AppContext, mode: DeliveryMode) -> None:
    """One line at start: what runs, on what, and where notices go (no secrets, no URL)."""
    if settings.notify_backend == "smtp":
        notices_to = f"smtp {settings.smtp_host}:{settings.smtp_port or ('465' if settings.smtp_tls else '25')}"
    else:
        notices_to = f"files in {settings.resolved_notify_dir}"
    logging.getLogger("rightsdesk").info(
        "Rights Desk %s started (%s, delivery %s, notices to %s)",
        _version(),
        ctx.db.engine.dialect.name,
        mode.value,
        notices_to,
        extra={
            "version": _version(),
            "database": ctx.db.engine.dialect.name,
            "delivery": mode.value,
            "notices_to": notices_to,
        },
    )


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The deadline calendar for this process: the package's holidays plus the operator's
    # temporary ones (RIGHTSDESK_EXTRA_HOLIDAYS), before any request is counted.
    deadlines.configure(settings.extra_holiday_dates)
    ctx = AppContext.build(settings, clock)
    sender = make_sender(settings)
    mode = settings.resolved_delivery
    pump: OutboxPump | None = None

    def deliver() -> None:
        from app.integrations.delivery import drain as drain_webhooks

        try:
            drain(ctx.db, ctx, sender)
        finally:  # webhooks go out even when notices cannot (the relay away, say)
            drain_webhooks(ctx.db, ctx)

    analyzed_at = [time.monotonic()]
    housekeeping_due = [0.0]  # at the first wake-up, then at most every outbox_poll_seconds

    def background() -> None:
        deliver()  # on every wake-up: a verification code is waited for
        # The clock's work runs at the worker's pace (`rightsdesk worker`: a round every
        # outbox_poll_seconds, 2 s by default), not after every commit that wakes the pump:
        # under load that was ~20 rounds a second, each taking the write lock a filing needs.
        # Nothing here is finer than days (expiry after unverified_expiry_days, reminders N
        # days before and once overdue, retention periods), so a step is at most one
        # interval late. The idle pump wakes every outbox_poll_seconds anyway.
        now = time.monotonic()
        if now < housekeeping_due[0]:
            return
        housekeeping_due[0] = now + settings.outbox_poll_seconds
        destroy_expired(ctx.db, ctx)
        destroy_expired_results(ctx.db, ctx)
        reject_unverified(ctx.db, ctx)
        send_reminders(ctx.db, ctx)
        if now - analyzed_at[0] > 3600:  # keep SQLite's planner statistics fresh
            refresh_statistics(ctx.db)
            analyzed_at[0] = time.monotonic()

    if mode is DeliveryMode.background:
        pump = OutboxPump(background, settings.outbox_poll_seconds)
        ctx.outbox_kick = pump.kick
    elif mode is DeliveryMode.sync:
        ctx.outbox_kick = deliver
    ctx.db.wake = ctx.outbox_kick  # units that queue only webhooks wake the deliverer too

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:  # once per start, not per request: the calendar may have gained a holiday
            recompute_deadlines(ctx.db, ctx)
        except Exception as exc:  # the worker recomputes at its start too
            logging.getLogger("rightsdesk.deadlines").error(
                "recomputing deadlines failed: %s", type(exc).__name__
            )
        if pump:
            pump.start()
        _started(settings, ctx, mode)
        try:
            yield
        finally:
            if pump:
                pump.stop()
            ctx.intake_writer.stop()
            ctx.db.dispose()

    app = FastAPI(
        title="Rights Desk",
        version="1.0.0",
        summary="PIPA data-subject rights requests, on the statutory clock.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from packaged assets below, not a CDN
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.sender = sender
    install_problem_handlers(app)
    install_openapi(app)
    install_docs(app)

    def body_limit(path: str) -> int:
        # Uploads may carry a document plus the multipart envelope; everything else is JSON.
        if path.endswith("/documents"):
            return settings.max_document_bytes + 64 * 1024
        return settings.max_body_bytes

    app.add_middleware(NulGuardMiddleware)  # inside the body limit: forms come bounded
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    app.add_middleware(UnexpectedErrorMiddleware)  # see its docstring
    if settings.cors_origin_list:  # the portal's own origins; bearer tokens, no cookies
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=[
                "ETag",
                "Location",
                "Retry-After",
                "X-Request-ID",
                "Idempotent-Replayed",
            ],
            max_age=600,
        )
    app.add_middleware(
        BrowserSafetyMiddleware,
        hsts=settings.env is Environment.production,
        cacheable_prefix=DOCS_ASSETS,
    )
    # Outermost: the request id, the log line and the metrics see every answer, 500s included.
    app.add_middleware(ObserveMiddleware, log_client_ip=settings.log_client_ip)
    app.include_router(ops_router)
    app.include_router(requests_router)
    app.include_router(verification_router)
    app.include_router(objections_router)
    app.include_router(documents_router)
    app.include_router(auth_router)
    app.include_router(staff_requests_router)
    app.include_router(staff_documents_router)
    app.include_router(workflow_router)
    app.include_router(results_router)
    app.include_router(retention_router)
    app.include_router(audit_router)
    app.include_router(users_router)
    app.include_router(clients_router)
    app.include_router(webhooks_router)
    app.include_router(integrations_router)
    app.include_router(web_router)
    if settings.portal:
        portal.install(app, ctx)
    return app

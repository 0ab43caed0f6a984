"""The application: routers, middleware, problem handlers, and outbox delivery."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.accounts.router import router as auth_router
from app.accounts.router_users import router as users_router
from app.audit.router import router as audit_router
from app.console import router as console
from app.core.body_limit import BodyLimitMiddleware
from app.core.clock import Clock
from app.core.config import DeliveryMode, Environment, Settings, get_settings
from app.core.context import AppContext
from app.core.errors import UnexpectedErrorMiddleware, install_problem_handlers
from app.core.etag import WriteETagMiddleware
from app.core.nul_guard import NulGuardMiddleware
from app.core.openapi import install_openapi
from app.evidence.router import router as evidence_router
from app.intake.router_public import router as requests_router
from app.intake.router_staff import router as staff_requests_router
from app.integrations.router import router as integrations_router
from app.integrations.router_clients import router as clients_router
from app.integrations.router_webhooks import router as webhooks_router
from app.jobs import Jobs
from app.law import deadlines
from app.notifications.outbox import OutboxPump
from app.notifications.senders import make_sender
from app.ops.browser import BrowserSafetyMiddleware
from app.ops.docs import ASSETS as DOCS_ASSETS
from app.ops.docs import install_docs
from app.ops.observe import ObserveMiddleware
from app.ops.router import router as ops_router
from app.portal import router as portal
from app.profile.router import router as profile_router
from app.results.router import router as results_router
from app.retention.router import router as retention_router
from app.verification.router import router as verification_router
from app.verification.router_documents import router as documents_router
from app.verification.router_documents import staff_router as staff_documents_router
from app.web.router import router as web_router
from app.workflow.deadline_sync import recompute_deadlines
from app.workflow.router import router as workflow_router
from app.workflow.router_duplicates import router as duplicates_router
from app.workflow.router_public import router as objections_router

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


def serve_app() -> FastAPI:
    """The app as `rightsdesk serve` runs it, in each of its worker processes: with `--workers
    N` uvicorn starts new processes that never ran the command's own set-up, so each
    configures the logs as RIGHTSDESK_LOG_FORMAT says before building the app."""
    from app.core.logs import configure

    settings = get_settings()
    configure(settings.resolved_log_format)
    return create_app(settings)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The deadline calendar for this process: the package's holidays plus the operator's
    # temporary ones (RIGHTSDESK_EXTRA_HOLIDAYS), before any request is counted.
    deadlines.configure(settings.extra_holiday_dates)
    ctx = AppContext.build(settings, clock)
    sender = make_sender(settings)
    mode = settings.resolved_delivery
    pump: OutboxPump | None = None
    jobs = Jobs(ctx, sender)  # app/jobs.py: the same list `rightsdesk worker` runs

    if mode is DeliveryMode.background:
        pump = OutboxPump(jobs.run_due, settings.outbox_poll_seconds)
        ctx.outbox_kick = pump.kick
    elif mode is DeliveryMode.sync:
        ctx.outbox_kick = jobs.deliver
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
        version=__version__,  # one version: the package's (pyproject.toml)
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

    _add_middleware(app, settings)
    _include_routers(app)
    # The pages (outside the OpenAPI document): what they share, the subject's portal, the
    # staff's console.
    app.include_router(web_router)
    if settings.portal:
        portal.install(app, ctx)
    if settings.console:
        console.install(app, ctx)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Innermost first: each `add_middleware` wraps what was added before it."""

    def body_limit(path: str) -> int:
        # Uploads may carry a document plus the multipart envelope; everything else is JSON.
        if path.endswith("/documents"):
            return settings.max_document_bytes + 64 * 1024
        return settings.max_body_bytes

    app.add_middleware(WriteETagMiddleware)  # staff writes: the new version as ETag
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


def _include_routers(app: FastAPI) -> None:
    """In the order the OpenAPI document lists their paths."""
    app.include_router(ops_router)
    app.include_router(profile_router)
    app.include_router(requests_router)
    app.include_router(verification_router)
    app.include_router(objections_router)
    app.include_router(documents_router)
    app.include_router(auth_router)
    app.include_router(staff_requests_router)
    app.include_router(staff_documents_router)
    app.include_router(workflow_router)
    app.include_router(duplicates_router)
    app.include_router(results_router)
    app.include_router(retention_router)
    app.include_router(evidence_router)
    app.include_router(audit_router)
    app.include_router(users_router)
    app.include_router(clients_router)
    app.include_router(webhooks_router)
    app.include_router(integrations_router)

"""Per request, at the edge: the request id (X-Request-ID), one log line, and the HTTP
metrics, measured around everything else (a pure ASGI middleware: no body is touched)."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import request_id
from app.core.deps import client_ip
from app.ops.metrics import observe_http

log = logging.getLogger("rightsdesk.access")


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, *, log_client_ip: bool = False) -> None:
        self.app = app
        self.log_client_ip = log_client_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = request_id.accept(raw)
        token = request_id.current.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            # The template (`/v1/requests/{request_id}`), never the path itself: paths hold ids.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            observe_http(method, route, status, elapsed)
            extra = {
                "request_id": rid,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            if self.log_client_ip and scope.get("client"):
                # The caller, not the proxy: the same rule as rate limits (trusted proxies).
                extra["client_ip"] = client_ip(Request(scope))
            log.info("%s %s %s", method, route, status, extra=extra)
            request_id.current.reset(token)

"""What a browser needs to be told: on every response, the headers that keep a
page from sniffing, framing, leaking the URL or caching personal data; CORS for the portal's
own origins only.

- `Content-Security-Policy`: the API answers JSON, so nothing may load or run from it
  (`default-src 'none'`); `/docs` and `/redoc` set their own, allowing only this origin and
  the hashes of their inline scripts (app/ops/docs.py).
- `Cache-Control: no-store` on everything but the docs' static assets: any API answer may
  carry personal data, and a shared or browser cache must keep none of it.
- `Strict-Transport-Security` in production (served behind TLS).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"


class BrowserSafetyMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, cacheable_prefix: str) -> None:
        self.app = app
        self.hsts = hsts
        self.cacheable_prefix = cacheable_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(self.cacheable_prefix)

        async def send_safely(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                add = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if b"content-security-policy" not in present:
                    add.append((b"content-security-policy", API_CSP.encode()))
                if not cacheable and b"cache-control" not in present:
                    add.append((b"cache-control", b"no-store"))
                if self.hsts:
                    add.append((b"strict-transport-security", HSTS.encode()))
                message["headers"] = headers + [(k, v) for k, v in add if k not in present]
            await send(message)

        await self.app(scope, receive, send_safely)

"""Staff writes answer with the request's new version as an `ETag` (pure ASGI), as the staff
GET does: a dashboard sends it back as `If-Match` without reading the request again.

Every staff write that changes a request answers with the request's staff view (`id`
`req_…` and `version`); this reads that answer rather than threading the version through
each route by hand. Only successful staff writes under /v1/staff/requests are looked at.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1/staff/requests"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WriteETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITES
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                json_body = headers.get(b"content-type", b"").startswith(b"application/json")
                if 200 <= message["status"] < 300 and json_body and b"etag" not in headers:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            version = _version(body)
            if version is not None:
                headers.append((b"etag", f'"{version}"'.encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)


def _version(body: bytes) -> int | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if (
        isinstance(doc, dict)
        and str(doc.get("id", "")).startswith("req_")
        and isinstance(doc.get("version"), int)
    ):
        return doc["version"]
    return None

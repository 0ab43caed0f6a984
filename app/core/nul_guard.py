"""Refuse NUL characters at the edge (pure ASGI).

PostgreSQL text cannot hold NUL (0x00): a NUL in a path, a query parameter or a form field
that reached a query made the driver raise, a 500. No identifier, filter or credential this
service takes can contain one, so it is refused before any handler runs, on both databases
alike: 404 in the path (no such resource can exist), 422 naming the field elsewhere. JSON
bodies are validated field by field (core/validation.py refuses control characters). The
token endpoint's form is its own to check (accounts/router.py): a credential holding a NUL
is a failed attempt, recorded in the access record like any other.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.body_limit import replaying
from app.core.errors import NotFound, Problem, ValidationProblem, problem_response

FORM = b"application/x-www-form-urlencoded"
# Forms whose route checks NUL itself, to record the attempt (accounts/router.py).
OWN_CHECK = frozenset({"/v1/auth/token"})


def _field_with_nul(encoded: bytes) -> str | None:
    if b"\x00" not in encoded and b"%00" not in encoded:
        return None
    for key, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "?"
    return None


def _nul_problem(field: str, where: str) -> Problem:
    return ValidationProblem(
        field,
        "nul_character",
        "must not contain NUL",
        detail=f"The {where} carries a NUL character.",
    )


class NulGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if "\x00" in path:
            await problem_response(NotFound("No such path."), path.replace("\x00", ""))(
                scope, receive, send
            )
            return
        field = _field_with_nul(scope.get("query_string", b""))
        if field is not None:
            problem = _nul_problem(f"query.{field}", "query")  # named as FastAPI names it
            await problem_response(problem, path)(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if path in OWN_CHECK or not content_type.split(b";")[0].strip().lower() == FORM:
            await self.app(scope, receive, send)
            return
        # A form (the log-in): small, and already bounded by the body-limit middleware.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        field = _field_with_nul(body)
        if field is not None:
            await problem_response(_nul_problem(field, "form"), path)(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)

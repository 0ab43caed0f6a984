"""RFC 9457 problem details: every error the API returns is one of these.

A problem's `type` is a stable relative URI, `/problems/<slug>`, which the service itself
serves as documentation, so clients can switch on it and people can look it up.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import PydanticCustomError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import request_id

log = logging.getLogger("rightsdesk.errors")

PROBLEM_JSON = "application/problem+json"

# slug -> (title, what it means). The catalogue served at /problems/{slug}.
CATALOGUE: dict[str, tuple[str, str]] = {
    "validation-error": (
        "Invalid request",
        "A field is missing, of the wrong type, unknown, or out of range; see `errors`.",
    ),
    "malformed-json": ("Malformed JSON", "The body is not valid JSON."),
    "payload-too-large": ("Payload too large", "The body is larger than the service accepts."),
    "not-found": ("Not found", "No such resource, or it is not yours to see."),
    "method-not-allowed": ("Method not allowed", "The path exists but not with this method."),
    "unauthorized": ("Authentication required", "Send a valid bearer token."),
    "forbidden": ("Forbidden", "This principal may not do this."),
    "illegal-transition": (
        "Illegal transition",
        "The request's status does not allow this action now.",
    ),
    "code-invalid": ("Wrong code", "The one-time code does not match."),
    "code-expired": ("Code expired", "The one-time code is too old; ask for a new one."),
    "code-locked": ("Code locked", "Too many wrong tries; ask for a new code."),
    "code-used": (
        "Code already used",
        "This one-time code has already been used; ask for a new one.",
    ),
    "rate-limited": ("Too many requests", "Wait before trying again; see Retry-After."),
    "conflict": ("Conflict", "The change conflicts with the current state."),
    "extension-limit": (
        "No more extensions",
        "The law allows this request type only so many extensions (an automated-decision "
        "request: two of up to 30 days each, Enforcement Decree Art. 44-3); answer it now.",
    ),
    "transmission-not-covered": (
        "Transmission not offered",
        "The company does not meet the Enforcement Decree's criteria for the duty to transmit "
        "personal information (PIPA Art. 35-2), as its profile states; ask for access instead.",
    ),
    "result-destroyed": (
        "Result destroyed",
        "The access result was destroyed when its download period ended; ask the privacy "
        "officer if you still need it.",
    ),
    "request-purged": (
        "Request purged",
        "The request's personal data was destroyed when its retention period after closing "
        "ran out (RIGHTSDESK_REQUEST_RETENTION_DAYS): it can no longer be read by its subject "
        "(410) nor changed (409); staff still see its record.",
    ),
    "document-destroyed": (
        "Document destroyed",
        "The document was destroyed under the retention rule.",
    ),
    "account-locked": ("Account locked", "Too many failed log-ins; wait, see Retry-After."),
    "precondition-failed": (
        "Stale version",
        "Someone changed the request first: reload it and send its new version in If-Match.",
    ),
    "precondition-required": (
        "If-Match required",
        "Send the request's current version in If-Match.",
    ),
    "malformed-if-match": (
        "Malformed If-Match",
        "If-Match must be the request's version number, e.g. `If-Match: 3` (quotes allowed).",
    ),
    "invalid-grounds": (
        "Grounds do not fit",
        "A refusal or restriction must cite registered grounds that apply to this request type.",
    ),
    "unsupported-media-type": (
        "Unsupported media type",
        "Send the body in a type this endpoint accepts: JSON (`Content-Type: application/json`)"
        " everywhere except the log-in form and document uploads.",
    ),
    "internal-error": (
        "Internal error",
        "Something failed on our side; it has been logged without personal data.",
    ),
    "service-unavailable": ("Service unavailable", "A dependency is not ready."),
    "idempotency-key-missing": (
        "Idempotency-Key required",
        "Send an Idempotency-Key header (a unique string per operation, up to 255 characters)"
        " so that a retry cannot file the request twice.",
    ),
    "idempotency-key-reused": (
        "Idempotency-Key reused",
        "This Idempotency-Key was used with another body; use a new key for a new operation.",
    ),
    "idempotency-key-in-flight": (
        "Request in progress",
        "The first request with this Idempotency-Key is still being handled; retry shortly.",
    ),
    "invalid-client": ("Invalid client", "Unknown client, wrong secret, or a revoked client."),
    "unsupported-grant-type": (
        "Unsupported grant type",
        "Use grant_type=password (staff), refresh_token (staff) or client_credentials "
        "(integrations).",
    ),
    "invalid-grant": (
        "Invalid grant",
        "The refresh token is unknown, spent, or its session has ended: log in again.",
    ),
    "invalid-scope": ("Invalid scope", "A requested scope is not granted to this client."),
    "insufficient-scope": (
        "Insufficient scope",
        "The token's scopes do not include what this operation needs.",
    ),
}


def problem_type(slug: str) -> str:
    return f"/problems/{slug}"


class Problem(Exception):
    """Raise one of these anywhere; the handler renders it.

    `commit` asks the request's session scope to commit what was done before the error
    instead of rolling it back: a wrong verification code is refused *and* counted.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        commit: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(detail or slug)
        self.status = status
        self.slug = slug
        self.title = title or CATALOGUE.get(slug, (slug.replace("-", " ").capitalize(), ""))[0]
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.commit = commit
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        if self.errors is not None:
            doc["errors"] = self.errors
        doc.update(self.extra)
        rid = request_id.current.get()
        if rid is not None:  # the caller quotes it to support; the same id is in our log line
            doc["request_id"] = rid
        return doc


class NotFound(Problem):
    def __init__(self, detail: str = "No such resource.") -> None:
        super().__init__(404, "not-found", detail)


class Conflict(Problem):
    def __init__(self, detail: str, slug: str = "conflict", **extra: Any) -> None:
        super().__init__(409, slug, detail, **extra)


class ValidationProblem(Problem):
    """422 naming the field at fault: `errors` holds its one `{field, code, message}`;
    `detail` says it in a sentence (the message when not given)."""

    def __init__(
        self, field: str, code: str, message: str, *, detail: str | None = None, **extra: Any
    ) -> None:
        errors = [{"field": field, "code": code, "message": message}]
        super().__init__(422, "validation-error", detail or message, errors=errors, **extra)


class Unauthorized(Problem):
    """401 with the bearer challenge; `invalid_token`: a token was sent and refused."""

    def __init__(self, detail: str, *, invalid_token: bool = False, **extra: Any) -> None:
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(
            401, "unauthorized", detail, headers={"WWW-Authenticate": challenge}, **extra
        )


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_JSON,
    )


_HTTP_SLUGS = {
    400: "validation-error",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    410: "document-destroyed",
    412: "precondition-failed",
    423: "account-locked",
    428: "precondition-required",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
    503: "service-unavailable",
}


# How to tell a person that a value does not match a pattern, by the pattern: schemas register
# their patterns with `worded`, so a bad phone number is not answered with a regular expression.
_PATTERN_WORDS: dict[str, str] = {}


def worded(pattern: str, words: str) -> str:
    """Register what a value must look like, in words, for `pattern`; returns the pattern."""
    _PATTERN_WORDS[pattern] = words
    return pattern


def field_error(field: str, message: str, code: str = "value_error") -> PydanticCustomError:
    """An error a model-level rule raises about one of its fields (`field` dotted, relative to
    the model), so the problem names that field instead of the whole body."""
    # The message is a template to pydantic: braces in it would be read as placeholders.
    return PydanticCustomError(
        code, message.replace("{", "{{").replace("}", "}}"), {"field_path": field}
    )


_BODY_OBJECT = {"model_attributes_type", "model_type", "dict_type"}


def _dotted(err: dict[str, Any]) -> str:
    """FastAPI's loc as the dotted path of the field: `subject.email`, `query.limit`,
    `scope.corrections.0.item`. The `body` prefix goes; so do the names pydantic gives the
    members of a union (`function-after[...]`, `list[...]`), which are no field of the body."""
    parts = [
        str(p) for p in err.get("loc", ()) if p != "body" and not (isinstance(p, str) and "[" in p)
    ]
    extra = (err.get("ctx") or {}).get("field_path")
    if extra:
        parts.extend(str(extra).split("."))
    return ".".join(parts) or "body"


def _message(err: dict[str, Any], field: str) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    ctx = err.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return _PATTERN_WORDS.get(str(ctx.get("pattern")), "is not in the expected format")
    if field == "body" and kind in _BODY_OBJECT:
        return "The body must be a JSON object."
    if field == "body" and kind == "missing":
        return "A JSON body is required."
    if kind == "extra_forbidden":
        return "is not a field of this body (unknown fields are refused)"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg.removeprefix(prefix)
    return msg


def _position(doc: Any, pos: Any) -> str:
    """`line 3, column 14` for a character offset into the JSON text."""
    if not isinstance(doc, str) or not isinstance(pos, int):
        return f"character {pos}"
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column} (character {pos})"


def _validation_problem(request: Request, exc: RequestValidationError) -> Problem:
    """Pydantic's errors, each at the dotted path of its field and without the rejected
    input: it may be personal data."""
    raw = exc.errors()
    bad_json = next((e for e in raw if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        loc = bad_json.get("loc", ())
        pos = loc[1] if len(loc) > 1 else None
        why = str((bad_json.get("ctx") or {}).get("error", "invalid JSON"))
        where = _position(exc.body, pos)
        return Problem(
            422,
            "malformed-json",
            f"The body is not valid JSON: {why} at {where}.",
            errors=[{"field": "body", "code": "json_invalid", "message": f"{why} at {where}"}],
        )
    # FastAPI hands a JSON route's body over unparsed (bytes) when its Content-Type is not JSON.
    if any(
        e.get("loc", ())[:1] == ("body",) and isinstance(e.get("input"), bytes | bytearray)
        for e in raw
    ):
        sent = request.headers.get("content-type")
        what = f"`{sent[:100]}`" if sent else "no Content-Type"
        return Problem(
            415,
            "unsupported-media-type",
            f"This endpoint takes a JSON body: send it with `Content-Type: application/json` "
            f"(the request had {what}).",
            accept="application/json",
        )
    errors = []
    for err in raw:
        field = _dotted(err)
        errors.append(
            {
                "field": field,
                "code": str(err.get("type", "invalid")),
                "message": _message(err, field),
            }
        )
    return Problem(
        422, "validation-error", f"{len(errors)} field(s) failed validation.", errors=errors
    )


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(_validation_problem(request, exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = _HTTP_SLUGS.get(
            exc.status_code, "internal-error" if exc.status_code >= 500 else "validation-error"
        )
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 400 and detail and detail.startswith("There was an error parsing"):
            # FastAPI's word for a body its JSON parser gave up on (e.g. absurd nesting).
            slug, detail = "malformed-json", "The body could not be parsed as JSON."
        if exc.status_code == 404 and detail == "Not Found":
            detail = "No such path."
        problem = Problem(exc.status_code, slug, detail, headers=getattr(exc, "headers", None))
        return problem_response(problem, request.url.path)


# Seconds a caller is asked to wait when the database is busy or away.
BUSY_RETRY_AFTER = 2


# SQLSTATE classes of a database that cannot serve now but may in a moment: connection
# exceptions, insufficient resources (too many connections), operator intervention (a
# shutdown or restart), transaction rollbacks (deadlock, serialization).
_TRANSIENT_SQLSTATE = ("08", "53", "57P", "40")
_SQLITE_BUSY_OR_LOCKED = (5, 6)


def _transient(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:  # SQLite: only its busy and locked codes ("no such table" is not)
        return code & 0xFF in _SQLITE_BUSY_OR_LOCKED
    state = getattr(error, "sqlstate", None)
    if state is None:  # psycopg's own: the connection could not be made or was lost
        return type(error).__module__.startswith("psycopg")
    return state.startswith(_TRANSIENT_SQLSTATE)


def database_busy(exc: BaseException) -> Problem | None:
    """A 503 problem when `exc` says the database could not serve the unit now: no pooled
    connection within the pool's timeout, the server refusing connections (too many clients,
    restarting), SQLite's write lock held too long, a deadlock or serialization failure.
    Nothing was committed, so the same call may simply be repeated; None for anything else
    (a missing table is a broken deployment, not a busy one: that stays a 500)."""
    busy = isinstance(exc, sa_exc.TimeoutError | TimeoutError) or (
        isinstance(exc, sa_exc.OperationalError) and _transient(exc.orig)
    )
    if not busy:
        return None
    return Problem(
        503,
        "service-unavailable",
        "The database is busy; nothing was changed. Try again in a moment.",
        headers={"Retry-After": str(BUSY_RETRY_AFTER)},
    )


class UnexpectedErrorMiddleware:
    """Answers any exception no handler took with a 500 problem, and logs its type, route and
    frames only: exception messages can carry personal data.

    Pure ASGI, added last so it sits just inside Starlette's ServerErrorMiddleware. An
    `exception_handler(Exception)` would run in that middleware, which re-raises after the
    handler answered, and the server (uvicorn) then logs the exception, message and all; here
    nothing reaches it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            route = scope.get("route")
            busy = database_busy(exc)
            if busy:
                # Transient and the service's own state, not the caller's: no frames, and an
                # answer the caller can act on (try again) instead of a 500.
                log.warning(
                    "database unavailable (%s) on %s %s",
                    type(exc).__name__,
                    scope.get("method"),
                    getattr(route, "path", "?"),
                )
            else:
                log.error(
                    "unhandled %s on %s %s\n%s",
                    type(exc).__name__,
                    scope.get("method"),
                    getattr(route, "path", "?"),
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
            # Once the response has started there is nothing to send: the server closes it.
            if not started:
                response = problem_response(
                    busy or Problem(500, "internal-error", "An unexpected error occurred."),
                    scope.get("path"),
                )
                await response(scope, receive, send)

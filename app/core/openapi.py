"""The OpenAPI document as the service really answers.

FastAPI declares its own `HTTPValidationError` (plain JSON) for 422 and nothing for what the
middlewares and dependencies answer. Every error here is an RFC 9457 problem document
(`application/problem+json`, see core/errors.py), so the generated document is rewritten:
a `Problem` schema (with `errors: [FieldError]`), every 4xx/5xx response of every operation
pointing at it, and the statuses each operation can really answer declared, from what it
takes (parameters, a body, a token, If-Match) and what the middlewares do (body limit, NUL
guard, the unexpected-error net). The routes' own `responses=` descriptions are kept.
"""

from __future__ import annotations

import http
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.deps import if_match
from app.core.errors import PROBLEM_JSON

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "description": "One field that failed validation.",
    "required": ["field", "code", "message"],
    "properties": {
        "field": {
            "type": "string",
            "description": "The dotted path of the field, e.g. `subject.email`, "
            "`scope.corrections.0.item`, `query.limit`; `body` for the body as a whole.",
            "examples": ["subject.email"],
        },
        "code": {
            "type": "string",
            "description": "A stable machine-readable code, e.g. `missing`, `string_too_long`, "
            "`extra_forbidden`, `json_invalid`.",
            "examples": ["missing"],
        },
        "message": {
            "type": "string",
            "description": "What is wrong, for a person.",
            "examples": ["is required when the subject files: the one-time code goes there"],
        },
    },
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem document (`application/problem+json`). More members "
    "may appear for some types (e.g. `retry_after`, `limit`, `version`).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "description": "The problem type, `/problems/<slug>`; GET it for what it means.",
            "examples": ["/problems/validation-error"],
        },
        "title": {"type": "string", "description": "A short summary of the problem type."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong this time."},
        "instance": {"type": "string", "description": "The path that was called."},
        "request_id": {
            "type": "string",
            "description": "The `X-Request-ID` of this response: quote it to support.",
        },
        "errors": {
            "type": "array",
            "description": "For field problems: each field that failed and why.",
            "items": {"$ref": "#/components/schemas/FieldError"},
        },
    },
    "additionalProperties": True,
}

# What each status means when the route does not say more itself.
DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: a malformed header, or a body that cannot be parsed",
    401: "No token, or a token that is not accepted",
    403: "The token does not allow this",
    404: "No such resource, or not yours to see",
    409: "Conflicts with the current state",
    410: "Gone",
    412: "Stale version: someone changed it first; reload and send the new If-Match",
    413: "The body is larger than the service accepts",
    415: "The body is not JSON: send `Content-Type: application/json`",
    422: "Invalid input: `errors` names each field (`field`, `code`, `message`)",
    423: "Locked; see Retry-After",
    428: "If-Match missing: send the request's current version",
    429: "Too many requests; see Retry-After",
    500: "An unexpected error, logged without personal data",
    503: "Not ready",
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

IF_MATCH: dict[str, Any] = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The request's `version` as you last read it (quotes allowed): 412 when "
    "someone changed it since, 428 without it, 400 when it is not a version number.",
    "schema": {"type": "string", "pattern": r'^(W/)?"?[0-9]{1,18}"?$', "examples": ["3"]},
}

_REPLACED = ("HTTPValidationError", "ValidationError")
_WRITES = ("post", "put", "patch")


def _generic(description: str | None, status: int) -> bool:
    """FastAPI's stand-in texts, which say nothing a reader can use."""
    if not description:
        return True
    phrase = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else ""
    return description in ("Validation Error", "Additional Response", "Successful Response") or (
        description == phrase
    )


def _uses(dependant: Dependant, call: Any) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _statuses(route: Any, method: str, op: dict[str, Any]) -> set[int]:
    """The error statuses this operation can answer beyond what its route declares."""
    out = {500}  # the unexpected-error net (core/errors.py), for every operation
    params = op.get("parameters", [])
    body = op.get("requestBody")
    if method in _WRITES:
        out.add(413)  # the body limit answers before any route, whatever the route takes
    if body is not None:
        out |= {400, 415, 422}  # unparseable, not JSON (or not the form), invalid
    if params:
        out.add(422)  # a bad or NUL-carrying parameter
    if any(p.get("in") == "path" for p in params):
        out.add(404)  # no such id (or a NUL in the path)
    schemes = {name for requirement in op.get("security", []) for name in requirement}
    if schemes:
        out.add(401)
    if schemes - {"HTTPBearer"}:
        out.add(403)  # a staff role or a client scope that does not suffice
    if route is not None and _uses(route.dependant, if_match):
        out |= {400, 412, 428}  # If-Match malformed, stale, or missing
    return out


def _api_routes(routes: list[Any]) -> list[Any]:
    """The API routes with their full paths. FastAPI 0.16x keeps included routers lazily
    (`_IncludedRouter`) and resolves them, prefix and all, through `iter_route_contexts`."""
    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: included routes are plain APIRoutes
        return [r for r in routes if isinstance(r, APIRoute)]
    return [c for c in contexts(routes) if isinstance(c.original_route, APIRoute)]


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def declare_problems(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Rewrite a generated document in place (and return it): see the module docstring."""
    by_operation = {
        (route.path_format, method.lower()): route
        for route in _api_routes(routes)
        for method in route.methods or ()
    }
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses: dict[str, Any] = op["responses"]
            route = by_operation.get((path, method))
            if route is not None and _uses(route.dependant, if_match):
                # Read from the headers by a dependency, so FastAPI does not list it.
                op.setdefault("parameters", []).append(IF_MATCH)
            for status in _statuses(route, method, op):
                responses.setdefault(str(status), {})
            for code, response in list(responses.items()):
                if not code.isdigit() or int(code) < 400:
                    continue
                status = int(code)
                if _generic(response.get("description"), status):
                    response["description"] = DEFAULT_DESCRIPTIONS.get(
                        status, http.HTTPStatus(status).phrase
                    )
                response["content"] = _problem_content()
                if status in (423, 429):
                    response.setdefault("headers", {}).update(RETRY_AFTER)
            op["responses"] = dict(sorted(responses.items(), key=lambda kv: kv[0]))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    components["FieldError"] = FIELD_ERROR_SCHEMA
    for name in _REPLACED:
        components.pop(name, None)
    schema["components"]["schemas"] = dict(sorted(components.items()))
    return schema


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's generator with one that declares the problem documents."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

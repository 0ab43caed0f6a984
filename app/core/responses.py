"""The error responses routes share, as their OpenAPI entries list them: one table; a router
adds only what is its own (which 409, which 422)."""

from __future__ import annotations

NO_TOKEN = {401: {"description": "No or bad token"}}
CPO_ONLY = {**NO_TOKEN, 403: {"description": "Only the CPO"}}
# A staff route on one request: a role that may never do it is 403; a request that does not
# exist, or that a handler may not see, is 404 (docs/architecture.md, "Who may see what").
ON_A_REQUEST = {
    **NO_TOKEN,
    403: {"description": "Role or assignment does not allow it"},
    404: {"description": "No such request"},
}
STALE = {412: {"description": "Stale version: someone changed the request first"}}
IF_MATCH_MISSING = {428: {"description": "If-Match missing"}}
INVALID_BODY = {422: {"description": "Invalid body"}}
# A staff or client token on a data subject's route: a known principal without the subject's
# rights (the answer names the token's kind).
NOT_A_SUBJECT = {403: {"description": "A staff or client token: not the subject's"}}

"""The subject's session in the portal: the subject token of the API, in a cookie scoped to
/portal (HttpOnly, SameSite=Strict, Secure in production) that expires with the token."""

from __future__ import annotations

from starlette.requests import Request

from app.core.context import AppContext
from app.core.deps import SubjectPrincipal, client_ip
from app.core.security import AUD_SUBJECT, TokenError, read_token

SESSION_COOKIE = "rd_portal"


def signed_in(request: Request, ctx: AppContext) -> SubjectPrincipal | None:
    """The principal of the portal's cookie, as a Bearer token would give (None when absent,
    expired or forged)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = read_token(ctx.secret_key, token, audience=AUD_SUBJECT, now=ctx.clock.now())
    except TokenError:
        return None
    return SubjectPrincipal(request_id=claims["sub"], ip=client_ip(request))

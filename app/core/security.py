"""Tokens (python-jose, HS256 only) with an audience per kind of principal.

Expiry is checked against the service's own clock, not the wall clock inside the library,
so the one injectable clock governs every time rule.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from jose import JWTError, jwt

ALGORITHM = "HS256"
ISSUER = "rightsdesk"
AUD_SUBJECT = "rightsdesk:subject"
AUD_STAFF = "rightsdesk:staff"
AUD_INTEGRATION = "rightsdesk:integration"
AUDIENCES = (AUD_SUBJECT, AUD_STAFF, AUD_INTEGRATION)


class TokenError(Exception):
    pass


def token_audience(secret: str, token: str, *, now: datetime) -> str | None:
    """Which kind of principal a valid token belongs to (None when it is no valid token):
    for telling "a known principal without this right" (403) from "no principal" (401)."""
    for audience in AUDIENCES:
        try:
            read_token(secret, token, audience=audience, now=now)
        except TokenError:
            continue
        return audience
    return None


def issue_token(
    secret: str,
    *,
    audience: str,
    subject: str,
    now: datetime,
    ttl: int,
    claims: dict[str, Any] | None = None,
) -> str:
    iat = int(now.timestamp())
    payload = {
        "iss": ISSUER,
        "aud": audience,
        "sub": subject,
        "iat": iat,
        "exp": iat + ttl,
        "jti": secrets.token_urlsafe(12),
        **(claims or {}),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str, *, audience: str, now: datetime) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:  # refuse alg=none and every other algorithm
            raise TokenError("unexpected algorithm")
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            # python-jose would check exp, nbf and iat against the wall clock, and any
            # `require_<claim>` option turns that claim's check back on: so the time claims
            # are checked below against the service's clock alone, never required here.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
            },
        )
    except JWTError as exc:
        raise TokenError("invalid token") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise TokenError("invalid token")
    if exp <= now.timestamp():
        raise TokenError("expired token")
    if not isinstance(claims.get("aud"), str):  # one audience per token, always present
        raise TokenError("invalid token")
    return claims

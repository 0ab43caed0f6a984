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


class TokenError(Exception):
    pass


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
            options={"verify_exp": False, "require_exp": True, "require_sub": True},
        )
    except JWTError as exc:
        raise TokenError("invalid token") from exc
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now.timestamp():
        raise TokenError("expired token")
    return claims

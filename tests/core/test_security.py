"""Tokens: expiry by the service's clock alone (never the wall clock), an audience always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt

from app.core.security import (
    ALGORITHM,
    AUD_STAFF,
    AUD_SUBJECT,
    ISSUER,
    TokenError,
    issue_token,
    read_token,
)

SECRET = "s" * 40
# Far from any wall clock this suite may run under (CI also runs it a year ahead).
PAST = datetime(2001, 3, 4, 5, 6, tzinfo=UTC)
FUTURE = datetime(2090, 3, 4, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize("now", [PAST, FUTURE])
def test_expiry_follows_the_injected_clock(now):
    token = issue_token(SECRET, audience=AUD_STAFF, subject="usr_1", now=now, ttl=900)
    assert read_token(SECRET, token, audience=AUD_STAFF, now=now + timedelta(seconds=899))["sub"]
    with pytest.raises(TokenError, match="expired"):
        read_token(SECRET, token, audience=AUD_STAFF, now=now + timedelta(seconds=900))


def test_not_before_and_issued_at_are_not_checked_against_the_wall_clock():
    claims = {"iss": ISSUER, "aud": AUD_STAFF, "sub": "usr_1", "iat": int(FUTURE.timestamp())}
    claims |= {"nbf": int(FUTURE.timestamp()), "exp": int(FUTURE.timestamp()) + 60}
    token = jwt.encode(claims, SECRET, algorithm=ALGORITHM)
    assert read_token(SECRET, token, audience=AUD_STAFF, now=FUTURE)["sub"] == "usr_1"


def _forged(**drop_or_set) -> str:
    claims = {"iss": ISSUER, "aud": AUD_STAFF, "sub": "usr_1", "exp": int(PAST.timestamp()) + 60}
    for key, value in drop_or_set.items():
        if value is None:
            claims.pop(key)
        else:
            claims[key] = value
    return jwt.encode(claims, SECRET, algorithm=ALGORITHM)


@pytest.mark.parametrize(
    "change",
    [
        {"aud": None},  # python-jose accepts a token without aud unless it is required
        {"aud": AUD_SUBJECT},
        {"aud": [AUD_STAFF, AUD_SUBJECT]},
        {"exp": None},
        {"exp": "2001-03-04"},
        {"iss": None},
        {"sub": None},
    ],
)
def test_tokens_missing_or_bending_a_claim_are_refused(change):
    with pytest.raises(TokenError):
        read_token(SECRET, _forged(**change), audience=AUD_STAFF, now=PAST)


def test_a_well_formed_token_is_accepted():
    assert read_token(SECRET, _forged(), audience=AUD_STAFF, now=PAST)["sub"] == "usr_1"

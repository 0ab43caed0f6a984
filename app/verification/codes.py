"""One-time codes: 6 digits from `secrets`, stored as an HMAC keyed with the service secret.

A 6-digit code has a million values, so a slow hash (argon2) would not stop an offline search;
a keyed HMAC does (the key never sits in the database), and it keeps intake fast. Online
guessing is bounded by the wrong-try limit, the code's short life and the resend limits.
"""

from __future__ import annotations

import hmac
import secrets

from app.core.crypto import keyed_digest


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(secret: str, code_id: str, code: str) -> str:
    return keyed_digest(secret, "one-time-code", code_id, code)


def code_matches(secret: str, code_id: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(code_hash(secret, code_id, code), stored_hash)

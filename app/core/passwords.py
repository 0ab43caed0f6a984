"""Staff passwords: argon2id (argon2-cffi), stored one-way (PIPC safety measures)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import ARGON2_PARALLELISM


class Passwords:
    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=ARGON2_PARALLELISM
        )
        # Checked when the account does not exist, so the answer takes as long either way.
        self._dummy = _dummy_hash(time_cost, memory_kib)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


@lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    # One per cost setting and process: hashing it costs as much as a log-in.
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib).hash(
        "rightsdesk-no-such-account"
    )

"""Field encryption for personal data at rest, and keyed blind indexes for look-ups.

Values are `v1.<key id>.<base64url(nonce || ciphertext+tag)>` (AES-256-GCM): the key id travels
with the value so the ring can rotate (encrypt with the newest key, decrypt with any). The
associated data binds a value to its place (e.g. `request.subject_email:<id>`), so a ciphertext
copied into another row or column does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class CryptoError(Exception):
    """A key ring that cannot be parsed, or a value that does not decrypt."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyRing:
    def __init__(self, spec: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self.current_kid = ""
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, material = part.partition(":")
            if not sep or not kid or "." in kid:
                raise CryptoError("each key is 'kid:base64key' and a kid has no dots")
            try:
                raw = _b64d(material)
            except ValueError as exc:
                raise CryptoError(f"key {kid} is not base64") from exc
            if len(raw) != 32:
                raise CryptoError(f"key {kid} must be 32 bytes (AES-256)")
            self._keys[kid] = AESGCM(raw)
            self.current_kid = self.current_kid or kid
        if not self._keys:
            raise CryptoError("the key ring is empty")

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids in the ring, newest (the one that seals) first."""
        return tuple(self._keys)

    def encrypt_bytes(self, plaintext: bytes, aad: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.current_kid].encrypt(nonce, plaintext, aad.encode())
        return f"v1.{self.current_kid}.{_b64e(nonce + sealed)}"

    def decrypt_bytes(self, value: str, aad: str) -> bytes:
        try:
            version, kid, body = value.split(".", 2)
            if version != "v1":
                raise CryptoError("unknown ciphertext version")
            key = self._keys[kid]
            blob = _b64d(body)
            return key.decrypt(blob[:12], blob[12:], aad.encode())
        except KeyError as exc:
            raise CryptoError("the value was sealed with a key that is not in the ring") from exc
        except (ValueError, InvalidTag) as exc:
            raise CryptoError("the value does not decrypt") from exc

    def encrypt(self, plaintext: str | None, aad: str) -> str | None:
        if plaintext is None:
            return None
        return self.encrypt_bytes(plaintext.encode(), aad)

    def decrypt(self, value: str | None, aad: str) -> str | None:
        if value is None:
            return None
        return self.decrypt_bytes(value, aad).decode()


def normalise_email(email: str) -> str:
    """The form an e-mail is matched in: NFC, trimmed, lower case (domains are case-blind;
    we also fold the local part, as every mail provider our users have does)."""
    return unicodedata.normalize("NFC", email).strip().lower()


class BlindIndex:
    """HMAC-SHA256 of a normalised value: equality search without decrypting rows.

    The index moves to a new key with `rightsdesk keys reindex` (maintenance/keys.py): new
    rows are indexed with the new key (`email`), while look-ups try `email_candidates` — the
    new key's digest first, then the previous key's while RIGHTSDESK_BLIND_INDEX_PREVIOUS_KEY
    is set — so rows not yet moved are still found (`column IN (candidates)`)."""

    def __init__(self, key: str, previous: str | None = None) -> None:
        self._key = self._derive(key)
        self._previous = self._derive(previous) if previous and previous != key else None

    @staticmethod
    def _derive(key: str) -> bytes:
        return hashlib.sha256(b"rightsdesk-blind-index\x00" + key.encode()).digest()

    @staticmethod
    def _digest(key: bytes, email: str) -> str:
        return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()

    def email(self, email: str) -> str:
        """The digest to store (always the current key)."""
        return self._digest(self._key, email)

    def email_candidates(self, email: str) -> tuple[str, ...]:
        """Every digest a stored row may carry for `email`: the current key's first, then
        the previous key's while a move is under way."""
        if self._previous is None:
            return (self.email(email),)
        return (self.email(email), self._digest(self._previous, email))

    @property
    def moving(self) -> bool:
        """Whether a previous key is configured (a reindex may be under way)."""
        return self._previous is not None

    @property
    def fingerprint(self) -> str:
        """A short public name for the current key (names the reindex job); derived with its
        own label, so it reveals nothing usable for computing digests."""
        return hmac.new(
            self._key, b"rightsdesk-blind-index-fingerprint", hashlib.sha256
        ).hexdigest()[:16]


def keyed_digest(key: str, *parts: str) -> str:
    """HMAC-SHA256 over parts separated by NUL (used for one-time codes)."""
    return hmac.new(key.encode(), "\x00".join(parts).encode(), hashlib.sha256).hexdigest()

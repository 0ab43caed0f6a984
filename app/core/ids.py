"""Opaque, time-ordered identifiers (ULID layout: 48-bit milliseconds + 80 random bits)."""

from __future__ import annotations

import base64
import os
import time

# RFC 4648 base32 mapped onto Crockford's alphabet, lower case (no i, l, o, u).
_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)


def new_id(prefix: str) -> str:
    """`req_01j...`: sortable by creation time, unguessable, safe in URLs."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    # Left-align the 128 bits behind two zero bits in 17 bytes: the first 26 base32
    # characters are then exactly the ULID (130 bits, most significant first).
    encoded = base64.b32encode((value << 6).to_bytes(17, "big"))[:26]
    return f"{prefix}_{encoded.translate(_TO_CROCKFORD).decode()}"

"""Pure hashing of the access record: what an entry's hash covers, and how the chain links.

An entry's hash is SHA-256 over its predecessor's hash, a newline, and the compact JSON
object of its fields with sorted keys (`detail` nested as canonical JSON). `entry_hash` is
that definition written as `json.dumps` of a dict; `hash_fields` builds the same text field
by field, so that the check can hash `detail` exactly as stored (new entries store their
canonical JSON text, `canonical`) without parsing and re-dumping it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from json.encoder import encode_basestring  # JSON string, ensure_ascii=False (in C)
from typing import Any

GENESIS = "0" * 64

# The hashed text with its keys in sorted order: action, actor, at, detail, ip, request_id, seq.
HASHED_TEXT = '%s\n{"action":%s,"actor":%s,"at":"%s","detail":%s,"ip":%s,"request_id":%s,"seq":%d}'


def canonical(detail: dict[str, Any]) -> str:
    """`detail` as the hash sees it (and as new entries store it): sorted keys, no spaces."""
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_fields(
    prev_hash: str,
    seq: int,
    at_iso: str,
    actor: str,
    action: str,
    request_id: str | None,
    ip: str | None,
    detail_json: str,
) -> str:
    """`entry_hash` from `at.isoformat()` and the canonical text of `detail`."""
    text = HASHED_TEXT % (
        prev_hash,
        encode_basestring(action),
        encode_basestring(actor),
        at_iso,
        detail_json,
        "null" if ip is None else encode_basestring(ip),
        "null" if request_id is None else encode_basestring(request_id),
        seq,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    request_id: str | None,
    ip: str | None,
    detail: dict[str, Any],
) -> str:
    """The definition (unchanged since the first entry): what the chain check must agree with."""
    content = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "request_id": request_id,
            "ip": ip,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()

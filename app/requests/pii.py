"""Sealing and opening the personal data of a request row (AES-GCM, bound to row and column)."""

from __future__ import annotations

import json
from typing import Any

from app.core.crypto import KeyRing
from app.models import Request


def aad(request_id: str, column: str) -> str:
    return f"request.{column}:{request_id}"


def seal(keys: KeyRing, request_id: str, column: str, value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return keys.encrypt(text, aad(request_id, column))


def open_text(keys: KeyRing, request: Request, column: str) -> str | None:
    return keys.decrypt(getattr(request, f"{column}_enc"), aad(request.id, column))


def open_json(keys: KeyRing, request: Request, column: str) -> Any:
    text = open_text(keys, request, column)
    return None if text is None else json.loads(text)


def mask_email(email: str) -> str:
    """`h****@example.com`: enough for the filer to recognise, not enough to learn."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(1, len(local) - 1)}@{domain}"


def filer(keys: KeyRing, request: Request) -> tuple[str, str | None]:
    """(name, e-mail) of whoever filed: codes and notices go to them (a proxy, or the subject)."""
    if request.requester_kind != "self":
        return open_text(keys, request, "requester_name") or "", open_text(
            keys, request, "requester_email"
        )
    return open_text(keys, request, "subject_name") or "", open_text(keys, request, "subject_email")

"""The request id: echoed from `X-Request-ID` when the caller sent a sane one, made up
otherwise; on every response, in every problem document and in the request's log line."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

current: ContextVar[str | None] = ContextVar("request_id", default=None)

_SANE = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def accept(raw: bytes | None) -> str:
    """The caller's id if it is short and harmless in a log line, else a new one."""
    if raw:
        try:
            value = raw.decode("ascii")
        except UnicodeDecodeError:
            value = ""
        if _SANE.match(value):
            return value
    return secrets.token_hex(16)

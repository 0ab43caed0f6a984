"""The access record as the core layer sees it: one `append` that app/audit/service.py plugs in
when it is imported, so core/ writes to the record (a refused rate limit) without importing a
feature package."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session


class Append(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        at: datetime,
        actor: str,
        action: str,
        request_id: str | None = None,
        ip: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int: ...


_append: Append | None = None


def plug(append: Append) -> None:
    global _append
    _append = append


def append(session: Session, **entry: Any) -> int:
    """Add one entry in the caller's transaction (app/audit/service.py's `append`)."""
    if _append is None:
        raise RuntimeError("the access record is not plugged in: import app.audit.service")
    return _append(session, **entry)

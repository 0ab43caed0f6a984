"""A request's proxy documents as the purge erases them: what destroying a document erases
(verification/documents.py destroys one document the same way), and all of a request's at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import Session

from app.models import Document

# What destroying a document erases: the bytes, their key and the file name.
ERASED = ("content_enc", "key_enc", "filename_enc")


def erase_all(session: Session, request_id: str, *, now: datetime) -> int:
    """Destroy every document of a request that still holds anything, in one statement, and
    return how many; the caller writes the access-record entry (the purge: one per request)."""
    t = Document.__table__
    result = session.connection().execute(
        update(t)
        .where(
            t.c.request_id == request_id,
            or_(t.c.destroyed_at.is_(None), *(t.c[c].is_not(None) for c in ERASED)),
        )
        .values({**{c: None for c in ERASED}, "destroyed_at": func.coalesce(t.c.destroyed_at, now)})
    )
    return result.rowcount

"""Staff notes on a request (how identity was checked, what completion involved): kept
encrypted, shown only to staff in the request's full view (a read that is recorded)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.ids import new_id
from app.models import StaffNote, Task

VERIFICATION, COMPLETION, TASK = "verification", "completion", "task"


def _aad(note_id: str) -> str:
    return f"staff_note.text:{note_id}"


def add(
    session: Session,
    ctx: AppContext,
    request_id: str,
    kind: str,
    text: str | None,
    *,
    actor: Actor,
    at: datetime,
) -> None:
    """Keep a note (nothing when there is none)."""
    if text is None:
        return
    note_id = new_id("note")
    session.add(
        StaffNote(
            id=note_id,
            request_id=request_id,
            kind=kind,
            at=at,
            author=actor.label,
            text_enc=ctx.keys.encrypt(text, _aad(note_id)),
        )
    )


def read_all(
    session: Session, ctx: AppContext, request_id: str, task_rows: list[Task]
) -> list[dict]:
    """The request's notes and its tasks' completion notes, oldest first, decrypted."""
    out = [
        {
            "kind": n.kind,
            "at": n.at,
            "author": n.author,
            "text": ctx.keys.decrypt(n.text_enc, _aad(n.id)),  # None once purged
            "task_id": None,
        }
        for n in session.exec(
            select(StaffNote)
            .where(StaffNote.request_id == request_id)
            .order_by(StaffNote.at, StaffNote.id)
        )
    ]
    out += [
        {
            "kind": TASK,
            "at": t.completed_at,
            "author": t.completed_by or "",
            "text": ctx.keys.decrypt(t.note_enc, f"task.note:{t.id}"),
            "task_id": t.id,
        }
        for t in task_rows
        if t.note_enc and t.completed_at
    ]
    return sorted(out, key=lambda n: n["at"])

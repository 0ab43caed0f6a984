"""Dates as the pages write them, in the page's language: law is reckoned in Asia/Seoul, so
every day and time shown is Seoul's."""

from __future__ import annotations

from datetime import date, datetime

from app.law.deadlines import SEOUL, seoul_date

# What a timeline event says, for the subject's portal and the staff's console alike.
EVENTS = {
    "received": "Request received",
    "verification.code_sent": "Verification code sent",
    "verification.succeeded": "Identity confirmed by code",
    "verification.failed": "A wrong code was entered",
    "assigned": "A person in charge was assigned",
    "extended": "The deadline was extended",
    "objection.filed": "Objection filed",
    "document.uploaded": "Document uploaded",
    "result.assembled": "Result prepared",
    "plan.changed": "Plan updated",
    "task.completed": "A step was completed",
    "task.failed": "A step could not be completed",
    "task.waived": "A step was not needed",
    "tasks.voided": "Open steps were cancelled",
    "notify": "Notice sent",
    "purged": "Personal data destroyed",
    "transmitted": "Personal information downloaded (transmission)",
    "duplicate.linked": "Linked to an earlier request of the same kind",
    "duplicate.unlinked": "Handled on its own, not as a duplicate",
    "duplicate.merged_in": "A duplicate request was merged into this one",
}


def seoul_day(at: datetime | date | None) -> date | None:
    if at is None:
        return None
    return seoul_date(at) if isinstance(at, datetime) else at


def day(at: datetime | date | None, lang: str) -> str:
    """`2026년 3월 2일` / `2 March 2026`; empty for none."""
    d = seoul_day(at)
    if d is None:
        return ""
    if lang == "ko":
        return f"{d.year}년 {d.month}월 {d.day}일"
    return d.strftime("%-d %B %Y")


def moment(at: datetime, lang: str) -> str:
    """The day and Seoul's hour and minute."""
    return f"{day(at, lang)} {at.astimezone(SEOUL):%H:%M}"

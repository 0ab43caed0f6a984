"""Turning rows into response bodies (no personal data in the public view or the queue)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from app.law.deadlines import days_left, is_overdue, seoul_date
from app.law.grounds import GROUNDS
from app.models import (
    Document,
    Request,
)
from app.requests import service
from app.requests.lifecycle import CLOSED, Status
from app.requests.schemas import (
    DocumentOut,
    GroundOut,
    QueuePage,
    RequestCreated,
    VerificationOut,
)


def created_view(filed: service.Filed, now: datetime, code_ttl: int) -> RequestCreated:
    return RequestCreated(
        id=filed.id,
        reference=filed.reference,
        type=filed.type,
        status=filed.status,
        received_at=filed.received_at,
        due_at=filed.due_at,
        due_date=seoul_date(filed.due_at),
        days_left=days_left(filed.due_at, now),
        verification=VerificationOut(sent_to=filed.code_sent_to, expires_in=code_ttl)
        if filed.code_sent_to
        else None,
    )


def days_left_open(request: Request, now: datetime) -> int | None:
    """Days to the deadline; none once the request is closed (it waits for nothing)."""
    return None if Status(request.status) in CLOSED else days_left(request.due_at, now)


def overdue(request: Request, now: datetime) -> bool:
    """Late and still waiting for us: a closed request is never overdue."""
    return Status(request.status) not in CLOSED and is_overdue(request.due_at, now)


def public_documents(session: Session, request_id: str) -> list[DocumentOut]:
    rows = session.exec(
        select(Document)
        .where(Document.request_id == request_id)
        .order_by(Document.uploaded_at, Document.id)
    )
    return [DocumentOut.model_validate(d, from_attributes=True) for d in rows]


def grounds_out(codes: list[str] | None) -> list[GroundOut]:
    return [
        GroundOut(
            code=g.code,
            article=g.article_en,
            article_ko=g.article_ko,
            title_ko=g.text_ko,
            title_en=g.text_en,
        )
        for g in (GROUNDS[c] for c in codes or [] if c in GROUNDS)
    ]


def as_date(value) -> date | None:
    """`retain_until` as stored with a decision item: an ISO date (or date-time), or null."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    return date.fromisoformat(str(value)[:10])


_CLOSED = frozenset(s.value for s in CLOSED)


def queue_item(row, now: datetime, dates: dict | None = None) -> dict:
    """One queue entry (the fields of `QueueItem`) from a row of `queue.page()` (its columns
    in the order of `queue.QUEUE_COLUMNS`, then the linked request's reference). `dates`
    remembers, across one page, each due moment's Seoul date and days left: many requests
    share a due moment (the end of a Seoul day), so a page has few of them."""
    (
        id_,
        reference,
        type_,
        status,
        channel,
        received_at,
        due_at,
        assignee_id,
        version,
        duplicate_of,
        duplicate_of_reference,
    ) = row
    known = None if dates is None else dates.get(due_at)
    if known is None:
        known = (seoul_date(due_at), days_left(due_at, now))
        if dates is not None:
            dates[due_at] = known
    closed = status in _CLOSED  # a closed request waits for nothing and is never overdue
    return {
        "id": id_,
        "reference": reference,
        "type": type_,
        "status": status,
        "channel": channel,
        "received_at": received_at,
        "due_at": due_at,
        "due_date": known[0],
        "days_left": None if closed else known[1],
        "overdue": not closed and is_overdue(due_at, now),
        "assignee_id": assignee_id,
        "version": version,
        "duplicate_of": {"id": duplicate_of, "reference": duplicate_of_reference}
        if duplicate_of
        else None,
    }


def queue_page_json(rows, next_cursor: str | None, now: datetime) -> bytes:
    """The body of a queue page: validated as the route's response model (`QueuePage`) in one
    call, then dumped as FastAPI would dump it (but once, not dumped, re-validated, dumped)."""
    dates: dict = {}
    page = QueuePage.model_validate(
        {"items": [queue_item(r, now, dates) for r in rows], "next_cursor": next_cursor}
    )
    return page.__pydantic_serializer__.to_json(page)

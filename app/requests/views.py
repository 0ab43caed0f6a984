"""Turning rows into response bodies (no personal data in the public view)."""

from __future__ import annotations

from datetime import datetime

from app.law.deadlines import days_left, is_overdue, seoul_date
from app.models import OutboxMessage, Request, TimelineEvent
from app.requests.lifecycle import CLOSED, Status
from app.requests.schemas import NoticeItem, RequestPublic, TimelineItem


def public_view(
    request: Request, events: list[TimelineEvent], notices: list[OutboxMessage], now: datetime
) -> RequestPublic:
    closed = Status(request.status) in CLOSED
    return RequestPublic(
        id=request.id,
        reference=request.reference,
        type=request.type,
        status=request.status,
        channel=request.channel,
        locale=request.locale,
        categories=request.categories,
        received_at=request.received_at,
        due_at=request.due_at,
        due_date=seoul_date(request.due_at),
        days_left=days_left(request.due_at, now),
        overdue=not closed and is_overdue(request.due_at, now),
        timeline=[TimelineItem(at=e.at, kind=e.kind, status=e.to_status) for e in events],
        notices=[
            NoticeItem(
                template=n.template, state=n.state, created_at=n.created_at, sent_at=n.sent_at
            )
            for n in notices
        ],
    )

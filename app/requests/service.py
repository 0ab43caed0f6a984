"""Filing, reading and withdrawing requests. Rules live here; no HTTP, no commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import NotFound, Problem
from app.core.ids import new_id
from app.law.deadlines import statutory_due_at
from app.law.rights import RIGHTS, Channel
from app.models import OutboxMessage, Request, TimelineEvent
from app.notifications.outbox import enqueue_notice
from app.notifications.render import moment_en, moment_ko
from app.requests import lifecycle, pii
from app.requests.notices import request_context
from app.requests.reference import next_reference
from app.requests.schemas import RequestCreate
from app.verification import service as verification

_request = Request.__table__


@dataclass
class Filed:
    id: str
    reference: str
    type: str
    status: str
    received_at: datetime
    due_at: datetime
    code_sent_to: str


def check_categories(ctx: AppContext, categories: list[str] | None) -> list[str]:
    known = list(ctx.profile.categories)
    if categories is None:
        return known
    unknown = [c for c in categories if c not in ctx.profile.categories]
    if unknown:
        raise Problem(
            422,
            "validation-error",
            "Unknown data category.",
            errors=[
                {
                    "field": "scope.categories",
                    "code": "unknown_category",
                    "message": f"unknown: {', '.join(unknown)}; known: {', '.join(known)}",
                }
            ],
        )
    return list(dict.fromkeys(categories))


def submit(
    session: Session,
    ctx: AppContext,
    data: RequestCreate,
    *,
    channel: Channel,
    received_at: datetime,
    actor: Actor,
) -> Filed:
    """File a request: the statutory clock starts at receipt (received_at is the server's)."""
    categories = check_categories(ctx, data.scope.categories)
    now = ctx.clock.now()
    request_id = new_id("req")
    reference = next_reference(session, received_at)
    due_at = statutory_due_at(received_at, RIGHTS[data.type].days)
    keys = ctx.keys
    corrections = (
        [c.model_dump() for c in data.scope.corrections] if data.scope.corrections else None
    )
    email = str(data.subject.email)
    session.connection().execute(
        insert(_request).values(
            id=request_id,
            reference=reference,
            type=data.type.value,
            status=lifecycle.INITIAL.value,
            channel=channel.value,
            locale=data.locale,
            subject_name_enc=pii.seal(keys, request_id, "subject_name", data.subject.name),
            subject_email_enc=pii.seal(keys, request_id, "subject_email", email),
            subject_email_bidx=ctx.blind_index.email(email),
            subject_phone_enc=pii.seal(keys, request_id, "subject_phone", data.subject.phone),
            categories=categories,
            corrections_enc=pii.seal(keys, request_id, "corrections", corrections),
            details_enc=pii.seal(keys, request_id, "details", data.details),
            received_at=received_at,
            due_at=due_at,
            created_at=now,
            updated_at=now,
            version=1,
        )
    )
    lifecycle.record(
        session,
        request_id,
        "received",
        actor=actor,
        at=now,
        status=lifecycle.INITIAL.value,
        audit_action="create",
        detail={"type": data.type.value, "channel": channel.value},
    )
    notice = request_context(
        ctx,
        name=data.subject.name,
        reference=reference,
        type=data.type.value,
        received_at=received_at,
        due_at=due_at,
        needs_code=True,
    )
    enqueue_notice(
        session,
        ctx,
        template="receipt",
        to=email,
        locale=data.locale,
        request_id=request_id,
        context=notice,
        now=now,
    )
    verification.send_code(
        session,
        ctx,
        request_id=request_id,
        to=email,
        locale=data.locale,
        notice=notice,
        now=now,
        actor=actor,
    )
    return Filed(
        request_id,
        reference,
        data.type.value,
        lifecycle.INITIAL.value,
        received_at,
        due_at,
        pii.mask_email(email),
    )


def get(session: Session, request_id: str) -> Request:
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    return request


def timeline(session: Session, request_id: str) -> list[TimelineEvent]:
    return list(
        session.exec(
            select(TimelineEvent)
            .where(TimelineEvent.request_id == request_id)
            .order_by(TimelineEvent.at, TimelineEvent.id)
        )
    )


def notices(session: Session, request_id: str) -> list[OutboxMessage]:
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.request_id == request_id, OutboxMessage.kind == "notice")
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )


def withdraw(
    session: Session, ctx: AppContext, request_id: str, *, reason: str | None, actor: Actor
) -> Request:
    """The filer withdraws (any time before the request is closed)."""
    request = get(session, request_id)
    now = ctx.clock.now()
    # The reason may hold personal data: it goes to the timeline only as a fact, not a text.
    lifecycle.transition(
        session,
        request,
        lifecycle.Action.withdraw,
        actor=actor,
        at=now,
        detail={"reason_given": reason is not None},
    )
    name = pii.open_text(ctx.keys, request, "subject_name")
    email = pii.open_text(ctx.keys, request, "subject_email")
    enqueue_notice(
        session,
        ctx,
        template="withdrawn",
        to=email,
        locale=request.locale,
        request_id=request.id,
        now=now,
        context=request_context(
            ctx,
            name=name,
            reference=request.reference,
            type=request.type,
            received_at=request.received_at,
            due_at=request.due_at,
            at_ko=moment_ko(now),
            at_en=moment_en(now),
        ),
    )
    return request

"""Filing, reading and withdrawing requests. Rules live here; no HTTP, no commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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
from app.requests import lifecycle, pii
from app.requests.notices import moment, notify, request_context
from app.requests.reference import next_reference
from app.requests.schemas import RequestCreate
from app.verification import service as verification
from app.workflow import tasks

_request = Request.__table__


@dataclass
class Filed:
    id: str
    reference: str
    type: str
    status: str
    received_at: datetime
    due_at: datetime
    code_sent_to: str | None


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
    identity_verified: bool = False,
    verification_method: str | None = None,
) -> Filed:
    """File a request: the statutory clock starts at receipt (received_at is the server's,
    or for offline requests the real time of receipt entered by staff)."""
    categories = check_categories(ctx, data.scope.categories)
    received_at = received_at.astimezone(UTC)  # stored and shown in UTC; law reckons in Seoul
    now = ctx.clock.now()
    request_id = new_id("req")
    reference = next_reference(session, received_at)
    due_at = statutory_due_at(received_at, RIGHTS[data.type].days)
    keys = ctx.keys
    corrections = (
        [c.model_dump() for c in data.scope.corrections] if data.scope.corrections else None
    )
    email = str(data.subject.email) if data.subject.email else None
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
            subject_email_bidx=ctx.blind_index.email(email) if email else None,
            subject_phone_enc=pii.seal(keys, request_id, "subject_phone", data.subject.phone),
            categories=categories,
            corrections_enc=pii.seal(keys, request_id, "corrections", corrections),
            details_enc=pii.seal(keys, request_id, "details", data.details),
            received_at=received_at,
            due_at=due_at,
            statutory_due_at=due_at,
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
    needs_code = email is not None and not identity_verified
    if email:
        notice = request_context(
            ctx,
            name=data.subject.name,
            reference=reference,
            type=data.type.value,
            received_at=received_at,
            due_at=due_at,
            needs_code=needs_code,
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
        if needs_code:
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
    status = lifecycle.INITIAL.value
    if identity_verified:
        request = get(session, request_id)
        status = lifecycle.transition(
            session,
            request,
            lifecycle.Action.verify,
            actor=actor,
            at=now,
            detail={"method": verification_method or "staff"},
        ).value
    elif not needs_code:
        # Nobody can prove the e-mail: a person has to confirm identity (Decree 46).
        tasks.create(session, get(session, request_id), tasks.VERIFY, now=now)
    return Filed(
        request_id,
        reference,
        data.type.value,
        status,
        received_at,
        due_at,
        pii.mask_email(email) if needs_code else None,
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
    notify(session, ctx, request, "withdrawn", now=now, **moment("at", now))
    return request

"""Filing and withdrawing a request, carried through the packages they touch: requests
receives and records it, verification sends the one-time code, workflow hands out the verify
task or carries out a self-service request, and closes the work of a withdrawn one. Kept here,
above those packages, so each of them imports only downwards (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import ValidationProblem
from app.events import record as events
from app.law.rights import Channel
from app.models import Request
from app.notifications.outbox import Notice, enqueue_notices
from app.requests import duplicates, lifecycle
from app.requests import service as requests
from app.requests.notices import moment, notify, request_context
from app.requests.schemas import RequestFields, StaffRequestCreate
from app.requests.service import Filed
from app.verification import service as verification
from app.workflow import self_service, tasks


def enter_offline(
    session: Session, ctx: AppContext, body: StaffRequestCreate, *, actor: Actor
) -> Filed:
    """A request received by letter, phone, fax, e-mail or in person, entered by staff (the
    API's staff intake and the console's form): the clock runs from the real time of
    receipt, which is neither in the future nor over a year ago (422 naming `received_at`)."""
    now = ctx.clock.now()
    if body.received_at > now:
        raise ValidationProblem(
            "received_at", "future", "in the future", detail="received_at cannot be in the future."
        )
    if body.received_at < now - timedelta(days=366):
        raise ValidationProblem(
            "received_at",
            "too_old",
            "over a year ago",
            detail="received_at is more than a year ago; check the date.",
        )
    return submit(
        session,
        ctx,
        body,
        channel=Channel(body.channel),
        received_at=body.received_at,
        actor=actor,
        identity_verified=body.identity_verified,
        verification_method=body.verification_method,
    )


def submit(
    session: Session,
    ctx: AppContext,
    data: RequestFields,
    *,
    channel: Channel,
    received_at: datetime,
    actor: Actor,
    identity_verified: bool = False,
    verification_method: str | None = None,
    client_id: str | None = None,
    external_ref: str | None = None,
) -> Filed:
    """File a request: the statutory clock starts at receipt (received_at is the server's,
    or for offline requests the real time of receipt entered by staff)."""
    return file(
        session,
        ctx,
        data,
        channel=channel,
        received_at=received_at,
        actor=actor,
        identity_verified=identity_verified,
        verification_method=verification_method,
        client_id=client_id,
        external_ref=external_ref,
    )()


def file(
    session: Session,
    ctx: AppContext,
    data: RequestFields,
    *,
    channel: Channel,
    received_at: datetime,
    actor: Actor,
    identity_verified: bool = False,
    verification_method: str | None = None,
    client_id: str | None = None,
    external_ref: str | None = None,
) -> Callable[[], Filed]:
    """`submit` in its two steps (requests/service.receive): this call checks the request
    (422, 429) and returns the step that numbers, stores and records it, with its notices,
    code, webhook events and tasks. The group writer runs the second steps of a batch after
    all of its first steps, so the locks every filing shares are held only for the second."""
    now = ctx.clock.now()
    store = requests.receive(
        session,
        ctx,
        data,
        channel=channel,
        received_at=received_at,
        actor=actor,
        now=now,
        identity_verified=identity_verified,
        client_id=client_id,
        external_ref=external_ref,
    )

    def finish() -> Filed:
        filed = store()
        request_id = filed.id
        # A second filing of the same right by the same subject while the first is open:
        # linked to it (never refused), and the receipt says the earlier request stands. In
        # the second step, so an earlier filing of the same batch is stored (and found) by now.
        earlier = duplicates.link_at_filing(session, ctx, data, request_id, actor=actor, now=now)
        filer_email = data.filer_email()
        needs_code = filer_email is not None and not identity_verified
        if filer_email:
            _notify_filer(
                session,
                ctx,
                data,
                filed,
                filer_email,
                needs_code=needs_code,
                now=now,
                earlier=earlier,
            )
        if identity_verified:
            request = requests.get(session, request_id)
            events.emit(session, events.REQUEST_CREATED, request, at=now)
            filed.status = lifecycle.transition(
                session,
                request,
                lifecycle.Action.verify,
                actor=actor,
                at=now,
                detail={"method": verification_method or "staff"},
            ).value
            filed.status = (
                self_service.carry_out(session, ctx, request, actor=actor) or filed.status
            )
        else:
            events.emit(session, events.REQUEST_CREATED, filed, at=now)
            if data.proxy or not needs_code:
                # A proxy's authority, or an identity no code can prove, is checked by a person
                # (Decree 46): the verify task goes to the CPO's queue.
                tasks.create(session, requests.get(session, request_id), tasks.VERIFY, now=now)
        return filed

    return finish


def _notify_filer(
    session: Session,
    ctx: AppContext,
    data: RequestFields,
    filed: Filed,
    filer_email: str,
    *,
    needs_code: bool,
    now: datetime,
    earlier: duplicates.Earlier | None = None,
) -> None:
    """The receipt notice to whoever filed, and with it the one-time code when one is due."""
    context = request_context(
        ctx,
        name=data.proxy.name if data.proxy else data.subject.name,
        reference=filed.reference,
        type=filed.type,
        received_at=filed.received_at,
        due_at=filed.due_at,
        needs_code=needs_code,
        earlier_reference=earlier.reference if earlier else None,
    )
    notices = [Notice("receipt", filer_email, data.locale, filed.id, context)]
    if needs_code:
        notices.append(
            verification.issue_code(
                session,
                ctx,
                request_id=filed.id,
                to=filer_email,
                locale=data.locale,
                notice=context,
                now=now,
                revoke_live=False,
            )
        )
    enqueue_notices(session, ctx, notices, now=now)


def withdraw(
    session: Session, ctx: AppContext, request_id: str, *, reason: str | None, actor: Actor
) -> Request:
    """The filer withdraws (any time before the request is closed)."""
    request = requests.get(session, request_id)
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
    # Nothing is left to do for it: open tasks leave the work queue as cancelled.
    tasks.close(session, request.id, tasks.ALL_KINDS, now=now, actor=actor, status="cancelled")
    notify(session, ctx, request, "withdrawn", now=now, **moment("at", now))
    return request

"""Proving the filer holds the e-mail address: send a code, check it, hand out a token.

A right code on a request still pending verification opens it (Decree 46: the controller
confirms the requester is the subject). A right code on a later request just proves the
filer again, so they can follow the request from another device.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, update
from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import Problem
from app.core.ids import new_id
from app.core.security import AUD_SUBJECT, issue_token
from app.models import Request, VerificationCode
from app.notifications.outbox import Notice, enqueue_notices
from app.requests import lifecycle, pii
from app.requests.locks import lock_request
from app.requests.notices import request_context
from app.verification.codes import code_hash, code_matches, new_code
from app.workflow import self_service
from app.workflow.service import resolve_objections

_code = VerificationCode.__table__


_REVOKE_LIVE = (
    update(_code)
    .where(
        _code.c.request_id == bindparam("rid"),
        _code.c.used_at.is_(None),
        _code.c.revoked_at.is_(None),
    )
    .values(revoked_at=bindparam("now"))
)
_INSERT_CODE = insert(_code)
_COUNT_WRONG = (
    update(_code)
    .where(_code.c.id == bindparam("cid"))
    .values(attempts=_code.c.attempts + 1)
    .returning(_code.c.attempts)
)


def issue_code(
    session: Session,
    ctx: AppContext,
    *,
    request_id: str,
    to: str,
    locale: str,
    notice: dict,
    now: datetime,
    revoke_live: bool = True,
) -> Notice:
    """A fresh code (older live codes die); returns its notice for the caller to queue."""
    s = ctx.settings
    conn = session.connection()
    if revoke_live:
        conn.execute(_REVOKE_LIVE, {"rid": request_id, "now": now})
    code, code_id = new_code(), new_id("otp")
    conn.execute(
        _INSERT_CODE,
        {
            "id": code_id,
            "request_id": request_id,
            "code_hash": code_hash(ctx.secret_key, code_id, code),
            "created_at": now,
            "expires_at": now + timedelta(seconds=s.code_ttl_seconds),
            "attempts": 0,
        },
    )
    context = {
        **notice,
        "code": code,
        "ttl_minutes": s.code_ttl_seconds // 60,
        "max_attempts": s.code_max_attempts,
    }
    return Notice("verification_code", to, locale, request_id, context)


def send_code(
    session: Session,
    ctx: AppContext,
    *,
    request_id: str,
    to: str,
    locale: str,
    notice: dict,
    now: datetime,
    actor: Actor,
) -> None:
    """Issue a fresh code and queue it for the filer's e-mail (a resend)."""
    code_notice = issue_code(
        session, ctx, request_id=request_id, to=to, locale=locale, notice=notice, now=now
    )
    enqueue_notices(session, ctx, [code_notice], now=now)
    lifecycle.record(
        session, request_id, "verification.code_sent", actor=actor, at=now, audit_action="notify"
    )


@dataclass
class Verified:
    access_token: str
    expires_in: int


def verify_code(
    session: Session, ctx: AppContext, request: Request, code: str, actor: Actor
) -> Verified:
    s, now = ctx.settings, ctx.clock.now()
    # The request row first (requests/locks.py for the order): entries for one request queue
    # here, so each sees the code as the last one left it (no more than the allowed wrong
    # tries are ever compared, a code works once) and only one can open the request.
    request = lock_request(session, request.id)
    row = session.exec(
        select(VerificationCode)
        .where(VerificationCode.request_id == request.id)
        .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
        .limit(1)
    ).first()
    if row is None or row.revoked_at is not None:
        raise Problem(
            400, "code-invalid", "No code is waiting for this request; ask for a new one."
        )
    if row.used_at is not None:
        raise Problem(400, "code-used", "This code has already been used; ask for a new one.")
    if row.attempts >= s.code_max_attempts:
        raise Problem(400, "code-locked", "Too many wrong tries; ask for a new code.")
    if row.expires_at <= now:
        raise Problem(400, "code-expired", "The code has expired; ask for a new one.")
    if not code_matches(ctx.secret_key, row.id, code, row.code_hash):
        # Counted in the database, not from the copy read above: an increment is never lost.
        attempts = session.connection().execute(_COUNT_WRONG, {"cid": row.id}).scalar_one()
        left = s.code_max_attempts - attempts
        lifecycle.record(
            session,
            request.id,
            "verification.failed",
            actor=actor,
            at=now,
            audit_action="verify",
            detail={"attempts_left": left},
        )
        if left <= 0:
            raise Problem(
                400,
                "code-locked",
                "Too many wrong tries; the code no longer works. Ask for a new one.",
                commit=True,
            )
        raise Problem(
            400, "code-invalid", "The code does not match.", attempts_left=left, commit=True
        )
    row.used_at = now
    session.add(row)
    session.flush()
    if request.status == lifecycle.Status.pending_verification and request.requester_kind == "self":
        lifecycle.transition(
            session,
            request,
            lifecycle.Action.verify,
            actor=actor,
            at=now,
            detail={"method": "email_code"},
        )
        # The code answers an objection to an earlier rejection: identity is confirmed now.
        resolve_objections(session, request.id, now=now, actor=actor, kind="rejection")
        self_service.carry_out(session, ctx, request, actor=actor)
    else:
        # A proxy has proven the e-mail only; the request opens when a person has checked the
        # authority (the verify task in the CPO's queue).
        lifecycle.record(
            session,
            request.id,
            "verification.succeeded",
            actor=actor,
            at=now,
            audit_action="verify",
        )
    token = issue_token(
        ctx.secret_key,
        audience=AUD_SUBJECT,
        subject=request.id,
        now=now,
        ttl=s.subject_token_ttl_seconds,
    )
    return Verified(token, s.subject_token_ttl_seconds)


@dataclass
class Resent:
    sent_to: str
    expires_in: int
    retry_after: int


def _wait_for_next_code(session: Session, ctx: AppContext, request_id: str, now: datetime):
    """None when a new code may go out for this request now, else (seconds to wait, why).
    Call it under the request's row lock: the count and the send are one decision."""
    s = ctx.settings
    last, count = session.exec(
        select(func.max(VerificationCode.created_at), func.count()).where(
            VerificationCode.request_id == request_id,
            VerificationCode.created_at > now - timedelta(hours=1),
        )
    ).one()
    if last is not None:
        wait = (last + timedelta(seconds=s.code_resend_cooldown_seconds) - now).total_seconds()
        if wait > 0:
            retry = math.ceil(wait)
            return retry, f"A code was sent moments ago; try again in {retry} s."
    if count >= s.code_max_per_hour:
        return 3600, "Too many codes this hour; try again later."
    return None


def _send_fresh_code(
    session: Session, ctx: AppContext, request: Request, email: str, name: str, actor: Actor, now
) -> None:
    notice = request_context(
        ctx,
        name=name,
        reference=request.reference,
        type=request.type,
        received_at=request.received_at,
        due_at=request.due_at,
    )
    send_code(
        session,
        ctx,
        request_id=request.id,
        to=email,
        locale=request.locale,
        notice=notice,
        now=now,
        actor=actor,
    )


def resend(session: Session, ctx: AppContext, request: Request, actor: Actor) -> Resent:
    """A new code, at most one per cooldown and `code_max_per_hour` an hour."""
    s, now = ctx.settings, ctx.clock.now()
    # Count under the request's row lock, or parallel resends all count the same codes.
    request = lock_request(session, request.id)
    if (limited := _wait_for_next_code(session, ctx, request.id, now)) is not None:
        retry, why = limited
        raise Problem(
            429, "rate-limited", why, headers={"Retry-After": str(retry)}, retry_after=retry
        )
    name, email = pii.filer(ctx.keys, request)
    if email is None:
        raise Problem(409, "conflict", "This request has no e-mail address to send a code to.")
    _send_fresh_code(session, ctx, request, email, name, actor, now)
    return Resent(pii.mask_email(email), s.code_ttl_seconds, s.code_resend_cooldown_seconds)


def _filer_email_bidx(request: Request) -> str | None:
    """The blind index of the address codes go to: the proxy's when a proxy filed."""
    if request.requester_kind != "self":
        return request.requester_email_bidx
    return request.subject_email_bidx


def sign_in(session: Session, ctx: AppContext, reference: str, email: str, ip: str | None) -> bool:
    """Coming back with the reference and the filer's e-mail: when both match, a fresh code
    goes to that e-mail under the resend limits, in any status. Returns whether a code went
    out; the caller must not tell the filer (the answer is the same either way, so the route
    reveals neither which references exist nor whose e-mail filed them)."""
    now = ctx.clock.now()
    request_id = session.exec(
        select(Request.id).where(Request.reference == reference.strip().upper())
    ).first()
    if request_id is None:
        return False
    # The row lock first (requests/locks.py), then the match, the count and the send: parallel
    # sign-ins for one request queue here and see each other's codes.
    request = lock_request(session, request_id)
    expected = _filer_email_bidx(request)
    # Every candidate digest: while the blind index moves to a new key (keys reindex), this
    # row may still carry the previous key's.
    if expected is None or not any(
        hmac.compare_digest(expected, digest) for digest in ctx.blind_index.email_candidates(email)
    ):
        return False
    if _wait_for_next_code(session, ctx, request.id, now) is not None:
        return False
    name, address = pii.filer(ctx.keys, request)
    if address is None:
        return False
    _send_fresh_code(session, ctx, request, address, name, Actor("subject", request.id, ip), now)
    return True

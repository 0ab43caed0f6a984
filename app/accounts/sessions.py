"""Staff sessions: opened at log-in, kept alive by refreshing, ended by log-out, idleness, the
absolute limit, a spent refresh token used again, or a change to the account.

A refresh token is `<session id>.<random secret>`: opaque to the caller, found by the
session's primary key, checked against the stored HMAC of the secret in constant time.
Rotation is one compare-and-set statement (`UPDATE … WHERE secret_hash = <the old hash>`), so of
two refreshes racing with one token exactly one rotates; the other finds the hash changed and
ends the session, as does any later use of a spent token (RFC 9700 §4.14.2: refresh token
rotation detects a stolen token when either holder uses it). The console keeps its cookie's
hash in the same column, so its sessions are the same rows.

Every log-in, refresh failure and session end is an access-record entry.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from app.audit import service as audit
from app.core.context import AppContext
from app.core.crypto import keyed_digest
from app.core.errors import Problem
from app.core.ids import new_id
from app.models import StaffSession, StaffUser

_TOKEN = re.compile(r"^(ses_[A-Za-z0-9_-]{1,28})\.([A-Za-z0-9_-]{43})$")


def _hash(ctx: AppContext, secret: str) -> str:
    return keyed_digest(ctx.secret_key, "staff-session", secret)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


@dataclass
class Opened:
    session_id: str
    refresh_token: str


def open_session(
    session: Session, ctx: AppContext, user: StaffUser, *, kind: str = "api"
) -> Opened:
    """A new session for a user who just proved their password."""
    now, s = ctx.clock.now(), ctx.settings
    secret = _new_secret()
    row = StaffSession(
        id=new_id("ses"),
        user_id=user.id,
        kind=kind,
        secret_hash=_hash(ctx, secret),
        created_at=now,
        last_used_at=now,
        ends_at=now + timedelta(hours=s.staff_session_hours),
    )
    session.add(row)
    session.flush()
    return Opened(row.id, f"{row.id}.{secret}")


def lapsed(ctx: AppContext, last_used_at: datetime, ends_at: datetime, now: datetime) -> str | None:
    """Why a live session is over by time alone (`idle`, `expired`), or None."""
    if now >= ends_at:
        return "expired"
    if now >= last_used_at + timedelta(minutes=ctx.settings.staff_idle_minutes):
        return "idle"
    return None


def _end(
    session: Session,
    ctx: AppContext,
    session_id: str,
    reason: str,
    *,
    actor: str,
    ip: str | None,
) -> bool:
    """End one session (if still live) and record it; False when it had already ended."""
    now = ctx.clock.now()
    ended = session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    ).rowcount
    if ended:
        audit.append(
            session,
            at=now,
            actor=actor,
            action="session_ended",
            ip=ip,
            detail={"session": session_id, "reason": reason},
        )
    return bool(ended)


def end_all(
    session: Session, ctx: AppContext, user_id: str, reason: str, *, actor: str, ip: str | None
) -> int:
    """End every live session of a user (deactivation, role change, password reset): each
    is one access-record entry. Returns how many ended."""
    live = session.exec(
        select(StaffSession.id)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .order_by(StaffSession.id)
    ).all()
    return sum(_end(session, ctx, sid, reason, actor=actor, ip=ip) for sid in live)


def log_out(
    session: Session, ctx: AppContext, session_id: str, *, actor: str, ip: str | None
) -> None:
    _end(session, ctx, session_id, "logout", actor=actor, ip=ip)


@dataclass
class Refreshed:
    user: StaffUser
    session_id: str
    refresh_token: str


def _refuse(
    session: Session,
    ctx: AppContext,
    reason: str,
    *,
    ip: str | None,
    session_id: str | None = None,
    actor: str = "anonymous",
) -> Problem:
    audit.append(
        session,
        at=ctx.clock.now(),
        actor=actor,
        action="refresh_failed",
        ip=ip,
        detail={"reason": reason, **({"session": session_id} if session_id else {})},
    )
    return Problem(
        400,
        "invalid-grant",
        "The refresh token is not valid (unknown, already used, or its session has ended): "
        "log in again.",
        error="invalid_grant",
        commit=True,  # the failure, and a session ended for it, are kept
    )


def refuse_malformed(session: Session, ctx: AppContext, *, ip: str | None) -> Problem:
    """A refresh token holding a NUL (no token has one; PostgreSQL text cannot hold it):
    recorded as a failed refresh, answered 422 naming the field; no session changes."""
    audit.append(
        session,
        at=ctx.clock.now(),
        actor="anonymous",
        action="refresh_failed",
        ip=ip,
        detail={"reason": "malformed refresh token"},
    )
    return Problem(
        422,
        "validation-error",
        "The form's `refresh_token` carries a NUL character.",
        errors=[
            {"field": "refresh_token", "code": "nul_character", "message": "must not contain NUL"}
        ],
        commit=True,
    )


def refresh(session: Session, ctx: AppContext, token: str, *, ip: str | None) -> Refreshed:
    """Rotate a refresh token: a new secret for the session and `last_used_at` moved on.
    400 invalid_grant (recorded) for a malformed or unknown token, an ended or lapsed
    session, an inactive account, or a spent token — which ends the session."""
    found = _TOKEN.match(token)
    if found is None:
        raise _refuse(session, ctx, "malformed refresh token", ip=ip)
    session_id, secret = found.groups()
    now = ctx.clock.now()
    row = session.exec(
        select(StaffSession)
        .where(StaffSession.id == session_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise _refuse(session, ctx, "unknown session", ip=ip)
    actor = f"staff:{row.user_id}"
    if row.ended_at is not None:
        raise _refuse(session, ctx, "session ended", ip=ip, session_id=row.id, actor=actor)
    old_hash = _hash(ctx, secret)
    if not hmac.compare_digest(old_hash, row.secret_hash):
        # A spent token: whoever holds the current one, the session is no longer safe.
        _end(session, ctx, row.id, "refresh_token_reuse", actor=actor, ip=ip)
        raise _refuse(session, ctx, "spent refresh token", ip=ip, session_id=row.id, actor=actor)
    why = lapsed(ctx, row.last_used_at, row.ends_at, now)
    if why is not None:
        _end(session, ctx, row.id, why, actor=actor, ip=ip)
        raise _refuse(session, ctx, f"session {why}", ip=ip, session_id=row.id, actor=actor)
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        _end(session, ctx, row.id, "deactivated", actor=actor, ip=ip)
        raise _refuse(session, ctx, "inactive account", ip=ip, session_id=row.id, actor=actor)
    new_secret = _new_secret()
    # Compare-and-set: only the holder of the current secret rotates it. A parallel refresh
    # with the same token waits on the row (PostgreSQL) or the write lock (SQLite), then
    # matches no row, and so is a reuse.
    rotated = session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == row.id,
            StaffSession.secret_hash == old_hash,
            StaffSession.ended_at.is_(None),
        )
        .values(secret_hash=_hash(ctx, new_secret), last_used_at=now)
    ).rowcount
    if rotated != 1:
        _end(session, ctx, row.id, "refresh_token_reuse", actor=actor, ip=ip)
        raise _refuse(session, ctx, "spent refresh token", ip=ip, session_id=row.id, actor=actor)
    return Refreshed(user, row.id, f"{row.id}.{new_secret}")


@dataclass(frozen=True)
class ConsoleUser:
    id: str
    email: str
    role: str
    session_id: str


def console_user(ctx: AppContext, cookie: str | None, *, ip: str | None) -> ConsoleUser | None:
    """The console's cookie (`<session id>.<secret>`, as a refresh token) checked against its
    session row: the user while the session lives, and `last_used_at` moved on (the session
    slides, as a refresh does; the cookie is not rotated, so pages opened side by side keep
    working). None for no cookie, a forged or ended one; a session found idle, past its
    absolute limit, or of an inactive account is ended here (an access-record entry). Its own
    short transaction, before the page's."""
    found = _TOKEN.match(cookie or "")
    if found is None:
        return None
    session_id, secret = found.groups()
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        row = session.get(StaffSession, session_id)
        if row is None or row.kind != "console" or row.ended_at is not None:
            return None
        if not hmac.compare_digest(_hash(ctx, secret), row.secret_hash):
            return None
        actor = f"staff:{row.user_id}"
        why = lapsed(ctx, row.last_used_at, row.ends_at, now)
        user = session.get(StaffUser, row.user_id)
        if why is None and (user is None or not user.active):
            why = "deactivated"
        if why is not None:
            _end(session, ctx, row.id, why, actor=actor, ip=ip)
            return None
        session.execute(
            update(StaffSession)
            .where(StaffSession.id == row.id, StaffSession.ended_at.is_(None))
            .values(last_used_at=now)
        )
        return ConsoleUser(user.id, user.email, user.role, row.id)

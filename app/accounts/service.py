"""Creating staff accounts and logging in, with lock-out after repeated failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from app.accounts.schemas import Role
from app.audit import service as audit
from app.core.context import AppContext
from app.core.errors import Problem
from app.core.ids import new_id
from app.core.security import AUD_STAFF, issue_token
from app.models import StaffUser


def normalise(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    ctx: AppContext,
    *,
    email: str,
    role: Role,
    password: str,
    created_by: str = "system",
) -> StaffUser:
    email = normalise(email)
    if "@" not in email or len(email) > 254:
        raise ValueError("an e-mail address is required")
    if len(password) < ctx.settings.password_min_length:
        raise ValueError(
            f"the password needs at least {ctx.settings.password_min_length} characters"
        )
    if session.exec(select(StaffUser).where(StaffUser.email == email)).first():
        raise ValueError("a staff account with this e-mail exists")
    now = ctx.clock.now()
    user = StaffUser(
        id=new_id("usr"),
        email=email,
        role=role.value,
        password_hash=ctx.passwords.hash(password),
        created_at=now,
    )
    session.add(user)
    session.flush()
    # Granting access rights is itself recorded (PIPC standard: grant records kept 3 years).
    audit.append(
        session,
        at=now,
        actor=created_by,
        action="grant",
        detail={"user": user.id, "role": role.value},
    )
    return user


@dataclass
class LoggedIn:
    token: str
    expires_in: int
    user: StaffUser


def log_in(
    session: Session, ctx: AppContext, *, email: str, password: str, ip: str | None
) -> LoggedIn:
    """Check the password; count failures and lock the account after too many."""
    s, now = ctx.settings, ctx.clock.now()
    # Locked until commit: parallel attempts on one account take turns, so each counts on the
    # last one's failures and the lock-out comes after exactly `login_max_failures` checked
    # passwords. The turn includes one password hash check; that is the point. On SQLite
    # the write transaction is already exclusive (core/db.py).
    user = session.exec(
        select(StaffUser)
        .where(StaffUser.email == normalise(email))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    refused = Problem(
        401,
        "unauthorized",
        "Wrong e-mail or password.",
        headers={"WWW-Authenticate": "Bearer"},
        commit=True,
    )
    if user is None or not user.active:
        ctx.passwords.verify(None, password)  # same time as a real check
        audit.append(
            session,
            at=now,
            actor="anonymous",
            action="login_failed",
            ip=ip,
            detail={"reason": "unknown or inactive account"},
        )
        raise refused
    if user.locked_until is not None and user.locked_until > now:
        audit.append(
            session,
            at=now,
            actor=f"staff:{user.id}",
            action="login_refused",
            ip=ip,
            detail={"reason": "locked"},
        )
        retry = int((user.locked_until - now).total_seconds()) + 1
        raise Problem(
            423,
            "account-locked",
            "Too many failed log-ins; the account is locked for a while.",
            headers={"Retry-After": str(retry)},
            retry_after=retry,
            commit=True,
        )
    if not ctx.passwords.verify(user.password_hash, password):
        user.failed_logins += 1
        detail: dict = {"failures": user.failed_logins}
        action = "login_failed"
        if user.failed_logins >= s.login_max_failures:
            user.locked_until = now + timedelta(seconds=s.login_lock_seconds)
            user.failed_logins = 0
            action = "account_locked"
            detail["locked_until"] = user.locked_until.isoformat()
        session.add(user)
        audit.append(session, at=now, actor=f"staff:{user.id}", action=action, ip=ip, detail=detail)
        raise refused
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    audit.append(
        session, at=now, actor=f"staff:{user.id}", action="login", ip=ip, detail={"role": user.role}
    )
    token = issue_token(
        ctx.secret_key,
        audience=AUD_STAFF,
        subject=user.id,
        now=now,
        ttl=s.staff_token_ttl_seconds,
        claims={"role": user.role},
    )
    return LoggedIn(token, s.staff_token_ttl_seconds, user)


def find(session: Session, key: str) -> StaffUser | None:
    """A staff user by id or e-mail."""
    if "@" in key:
        return session.exec(select(StaffUser).where(StaffUser.email == normalise(key))).first()
    return session.get(StaffUser, key)

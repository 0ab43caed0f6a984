"""Staff accounts: creating and administering them (role, active, lock-out), and logging in
with lock-out after repeated failures.

Every grant, change and revocation of access rights is an access-record entry (PIPC
safety-measures standard, Art. 5: records of granting, changing and revoking access rights are
kept 3 years). Entries name accounts by id, never by e-mail, and never carry a password or hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.accounts import sessions
from app.accounts.schemas import Role
from app.accounts.schemas_users import StaffUserPublic
from app.audit import service as audit
from app.core import rate_limit
from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import Conflict, NotFound, Problem, ValidationProblem
from app.core.ids import new_id
from app.core.security import AUD_STAFF, issue_token
from app.models import StaffUser


def normalise(email: str) -> str:
    return email.strip().lower()


def _invalid(field: str, code: str, message: str) -> Problem:
    return ValidationProblem(field, code, message, detail="The staff account is not valid.")


def create_user(
    session: Session,
    ctx: AppContext,
    *,
    email: str,
    role: Role,
    password: str,
    created_by: str = "system",
    ip: str | None = None,
) -> StaffUser:
    """A new active account. 422 (naming `email` or `password`) for a bad e-mail or a password
    shorter than RIGHTSDESK_PASSWORD_MIN_LENGTH; 409 when the e-mail has an account."""
    email = normalise(email)
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or len(email) > 254:
        raise _invalid("email", "invalid", "an e-mail address is required")
    if len(password) < ctx.settings.password_min_length:
        raise _invalid(
            "password",
            "too_short",
            f"the password needs at least {ctx.settings.password_min_length} characters",
        )
    taken = Conflict("A staff account with this e-mail exists.")
    if session.exec(select(StaffUser.id).where(StaffUser.email == email)).first():
        raise taken
    now = ctx.clock.now()
    user = StaffUser(
        id=new_id("usr"),
        email=email,
        role=role.value,
        password_hash=ctx.passwords.hash(password),
        created_at=now,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # created by someone else since our look-up: the constraint decides
        raise taken from None
    # Granting access rights is itself recorded (PIPC standard: grant records kept 3 years).
    audit.append(
        session,
        at=now,
        actor=created_by,
        action="grant",
        ip=ip,
        detail={"user": user.id, "role": role.value},
    )
    return user


@dataclass
class LoggedIn:
    token: str
    expires_in: int
    user: StaffUser
    refresh_token: str


def refuse_malformed(session: Session, ctx: AppContext, *, field: str, ip: str | None):
    """A log-in whose `field` holds a NUL (no e-mail or password has one, and PostgreSQL text
    cannot hold it): recorded as a failed log-in, answered 422 naming the field."""
    audit.append(
        session,
        at=ctx.clock.now(),
        actor="anonymous",
        action="login_failed",
        ip=ip,
        detail={"reason": "malformed credentials"},
    )
    return Problem(
        422,
        "validation-error",
        f"The form's `{field}` carries a NUL character.",
        errors=[{"field": field, "code": "nul_character", "message": "must not contain NUL"}],
        commit=True,
    )


def log_in(
    session: Session,
    ctx: AppContext,
    *,
    email: str,
    password: str,
    ip: str | None,
    kind: str = "api",
) -> LoggedIn:
    """Check the password; count failures and lock the account after too many. `kind`: the
    session is the API's (its `refresh_token` is a refresh token) or the console's (its
    `refresh_token` is the cookie's value)."""
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
    opened = sessions.open_session(session, ctx, user, kind=kind)
    audit.append(
        session,
        at=now,
        actor=f"staff:{user.id}",
        action="login",
        ip=ip,
        detail={
            "role": user.role,
            "session": opened.session_id,
            **({"kind": kind} if kind != "api" else {}),
        },
    )
    return LoggedIn(
        access_token(ctx, user, opened.session_id),
        s.staff_token_ttl_seconds,
        user,
        opened.refresh_token,
    )


def password_grant(
    session: Session,
    ctx: AppContext,
    *,
    username: str,
    password: str,
    ip: str | None,
    kind: str = "api",
) -> LoggedIn:
    """A staff log-in by e-mail and password, for the API's token route and the console's
    log-in alike: a NUL in either field is a recorded failure (422 naming it), then the
    log-in rate limits (per address, and per account), then `log_in` with its lock-out."""
    for name, value in (("username", username), ("password", password)):
        if "\x00" in value:
            rate_limit.guard(ctx, "login", ip=ip)
            raise refuse_malformed(session, ctx, field=name, ip=ip)
    rate_limit.guard(ctx, "login", ip=ip, identifier=normalise(username))
    return log_in(session, ctx, email=username, password=password, ip=ip, kind=kind)


def access_token(ctx: AppContext, user: StaffUser, session_id: str) -> str:
    """A short-lived staff token naming its session (`sid`): it stops working when the
    session ends, whatever its own expiry says (core/deps.py)."""
    return issue_token(
        ctx.secret_key,
        audience=AUD_STAFF,
        subject=user.id,
        now=ctx.clock.now(),
        ttl=ctx.settings.staff_token_ttl_seconds,
        claims={"role": user.role, "sid": session_id},
    )


def find(session: Session, key: str) -> StaffUser | None:
    """A staff user by id or e-mail."""
    if "@" in key:
        return session.exec(select(StaffUser).where(StaffUser.email == normalise(key))).first()
    return session.get(StaffUser, key)


# --- administration (the CPO, or `rightsdesk users` as `cli`) -----------------------------------


def is_locked(user: StaffUser, now: datetime) -> bool:
    """Locked out by failed log-ins right now."""
    return user.locked_until is not None and user.locked_until > now


def listing(
    session: Session,
    *,
    limit: int = 50,
    after: str | None = None,
    role: Role | None = None,
    active: bool | None = None,
) -> list[StaffUser]:
    """Accounts in id order (oldest first), after the cursor id, optionally filtered."""
    query = select(StaffUser)
    if after:
        query = query.where(StaffUser.id > after)
    if role is not None:
        query = query.where(StaffUser.role == role.value)
    if active is not None:
        query = query.where(StaffUser.active.is_(active))
    return list(session.exec(query.order_by(StaffUser.id).limit(limit)))


def _lock_active_cpos(session: Session) -> set[str]:
    """Lock the rows of every active CPO until commit and return their ids.

    Every change of a role or of `active` takes these locks first, in id order (so changers
    queue instead of deadlocking), and only then reads its target and counts. Without them,
    two CPOs demoting each other at the same moment each count two CPOs and both succeed,
    leaving none (PostgreSQL, READ COMMITTED). Waiting here, the second re-reads the rows the
    first changed and counts what is left. SQLite's write transaction is exclusive already.
    """
    return set(
        session.exec(
            select(StaffUser.id)
            .where(StaffUser.role == Role.cpo.value, StaffUser.active.is_(True))
            .order_by(StaffUser.id)
            .with_for_update()
        )
    )


def _locked_user(session: Session, key: str) -> StaffUser:
    """The account (by id or e-mail), locked until commit and read afresh; 404 if none."""
    if "@" in key:
        where = StaffUser.email == normalise(key)
    else:
        where = StaffUser.id == key
    user = session.exec(
        select(StaffUser).where(where).with_for_update().execution_options(populate_existing=True)
    ).first()
    if user is None:
        raise NotFound("No such staff account.")
    return user


def change(
    session: Session,
    ctx: AppContext,
    key: str,
    *,
    actor: Actor,
    role: Role | None = None,
    active: bool | None = None,
    unlock: bool = False,
) -> StaffUser:
    """Change an account (by id or e-mail): its role, whether it is active, and/or clear a
    lock-out. Each real change is one access-record entry (`role_changed`, `deactivated`,
    `activated`, `unlocked`); asking for what is already so changes and records nothing.

    The company always keeps an active CPO (PIPA Art. 31: a designated privacy officer), so
    demoting or deactivating the last one is a 409; so is a CPO deactivating their own account
    (another CPO must). Deactivation and role changes take effect on the account's existing
    tokens at once: they end the account's sessions (accounts/sessions.py), and every staff
    call reads its token's session (core/deps.py); the holder logs in again under the new role.
    """
    cpos = _lock_active_cpos(session) if role is not None or active is not None else set()
    user = _locked_user(session, key)
    new_role = role.value if role is not None else user.role
    new_active = active if active is not None else user.active
    if active is False and user.active and actor.kind == "staff" and actor.id == user.id:
        raise Conflict(
            "You cannot deactivate your own account; another CPO can.", reason="own_account"
        )
    was_cpo = user.active and user.role == Role.cpo.value
    stays_cpo = new_active and new_role == Role.cpo.value
    if was_cpo and not stays_cpo and not cpos - {user.id}:
        raise Conflict(
            "This is the last active CPO: make another account CPO first.",
            reason="last_active_cpo",
        )
    now = ctx.clock.now()
    entries: list[tuple[str, dict]] = []
    role_changed = new_role != user.role
    if role_changed:
        entries.append(("role_changed", {"user": user.id, "from": user.role, "to": new_role}))
        user.role = new_role
    deactivated = user.active and not new_active
    if new_active != user.active:
        entries.append(("activated" if new_active else "deactivated", {"user": user.id}))
        user.active = new_active
    if unlock and (user.failed_logins or user.locked_until is not None):
        entries.append(
            (
                "unlocked",
                {
                    "user": user.id,
                    "was_locked": is_locked(user, now),
                    "failed_logins": user.failed_logins,
                },
            )
        )
        user.failed_logins = 0
        user.locked_until = None
    if not entries:
        return user
    session.add(user)
    session.flush()
    for action, detail in entries:
        audit.append(session, at=now, actor=actor.label, action=action, ip=actor.ip, detail=detail)
    # A changed grant ends the account's sessions at once: its holder logs in again under
    # the new role (or not at all). Unlocking leaves them be.
    ending = "deactivated" if deactivated else "role_changed" if role_changed else None
    if ending is not None:
        sessions.end_all(session, ctx, user.id, ending, actor=actor.label, ip=actor.ip)
    return user


def reset_password(
    session: Session, ctx: AppContext, key: str, password: str, *, actor: Actor
) -> StaffUser:
    """A new password for an account (by id or e-mail), set by the CPO's shell: the old one
    stops working, a lock-out is cleared, and every session of the account ends at once
    (whoever knew the old password is logged out). 422 for a short password; one
    `password_reset` access-record entry (never the password or its hash)."""
    if len(password) < ctx.settings.password_min_length:
        raise _invalid(
            "password",
            "too_short",
            f"the password needs at least {ctx.settings.password_min_length} characters",
        )
    user = _locked_user(session, key)
    user.password_hash = ctx.passwords.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    session.flush()
    now = ctx.clock.now()
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="password_reset",
        ip=actor.ip,
        detail={"user": user.id},
    )
    sessions.end_all(session, ctx, user.id, "password_reset", actor=actor.label, ip=actor.ip)
    return user


def set_role(session: Session, ctx: AppContext, key: str, role: Role, *, actor: Actor) -> StaffUser:
    return change(session, ctx, key, actor=actor, role=role)


def deactivate(session: Session, ctx: AppContext, key: str, *, actor: Actor) -> StaffUser:
    """The account can no longer log in, and its tokens stop working at once."""
    return change(session, ctx, key, actor=actor, active=False)


def activate(session: Session, ctx: AppContext, key: str, *, actor: Actor) -> StaffUser:
    return change(session, ctx, key, actor=actor, active=True)


def unlock(session: Session, ctx: AppContext, key: str, *, actor: Actor) -> StaffUser:
    """Clear a lock-out and the count of failed log-ins."""
    return change(session, ctx, key, actor=actor, unlock=True)


def public(user: StaffUser, now: datetime) -> StaffUserPublic:
    locked = is_locked(user, now)
    return StaffUserPublic(
        id=user.id,
        email=user.email,
        role=Role(user.role),
        active=user.active,
        locked=locked,
        locked_until=user.locked_until if locked else None,
        failed_logins=user.failed_logins,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )

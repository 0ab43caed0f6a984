"""Rate limits per client address and per identifier (issue 11), shared by every API process.

Each call counts in one atomic statement, `INSERT … ON CONFLICT (name, key, window_start) DO
UPDATE SET count = count + 1 RETURNING count`, and the count it returns decides: N processes
racing on one key get the numbers 1…N, each exactly once, so exactly `limit` calls pass
(tests/concurrency/test_rate_limit_race.py; a read-then-write lets more through and turns the
first hits into unique-key errors). Windows are fixed: the clock's time cut into slices of
the limit's length; Retry-After is the time left in the slice.

The count runs in its own short transaction, committed before the call's own unit of work
begins, so a refused call, a wrong code or a rolled-back request counts all the same. Call
`guard` before the route's session does anything: on SQLite the writers of a process queue on
one lock (core/db.py), which the route's session would hold once it starts writing.

Keys are HMACs of the address or identifier, never an address or an e-mail in clear.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from ipaddress import IPv6Address, ip_address
from typing import TYPE_CHECKING

import anyio.to_thread
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.audit import service as audit
from app.core.config import RateLimit
from app.core.db import Database, commit
from app.core.errors import Problem
from app.models import RateLimitBucket

if TYPE_CHECKING:
    from app.core.context import AppContext

_bucket = RateLimitBucket.__table__
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A worker whose clock runs a little ahead must not purge a window another process still counts.
PURGE_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class Guard:
    """What one action counts: per client address, and per identifier across addresses (the
    bucket names are the settings' names without `rate_limit_`)."""

    by_address: str | None
    by_identifier: str | None
    what: str  # "code entries": for the problem's detail
    identifier_noun: str = ""  # "request": "… for this request"
    audited: bool = False  # the first refusal of a window goes to the access record


GUARDS: dict[str, Guard] = {
    "filing": Guard("filing_per_address", None, "filings"),
    "sign_in": Guard("sign_in_per_address", "sign_in_per_reference", "sign-ins", "reference"),
    "resend": Guard("resend_per_address", "resend_per_request", "code requests", "request"),
    "code_check": Guard(
        "code_check_per_address", "code_check_per_request", "code entries", "request", True
    ),
    "login": Guard("login_per_address", "login_per_email", "log-in attempts", "account", True),
    "client_token": Guard(
        "client_token_per_address", "client_token_per_client", "token requests", "client", True
    ),
    "integration_filing": Guard(None, "integration_filing_per_client", "filings", "client"),
}

Identifier = str | Callable[[Session], str] | None


@lru_cache(maxsize=8)
def _hmac_key(secret: str) -> bytes:
    return hashlib.sha256(b"rightsdesk-rate-limit\x00" + secret.encode()).digest()


def address_key(ip: str) -> str:
    """What an address counts as: IPv6 by its /64 (one subscriber's prefix: counting single
    addresses would let anyone rotate through 2^64 of them); an IPv4-mapped one as IPv4."""
    try:
        addr = ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(IPv6Address(int(addr) >> 64 << 64)) + "/64"
    return str(addr)


def bucket_key(secret: str, name: str, value: str) -> str:
    """The stored key: HMAC-SHA256 of the limit's name and the value (64 hex characters)."""
    message = name.encode() + b"\x00" + value.encode()
    return hmac.new(_hmac_key(secret), message, hashlib.sha256).hexdigest()


def window(now: datetime, seconds: int) -> tuple[datetime, datetime]:
    """The fixed window holding `now`: (start, end), aligned on the epoch."""
    elapsed = math.floor((now - _EPOCH).total_seconds())
    start = _EPOCH + timedelta(seconds=elapsed - elapsed % seconds)
    return start, start + timedelta(seconds=seconds)


def _upsert(dialect: str):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(_bucket)
    return stmt.on_conflict_do_update(
        index_elements=[_bucket.c.name, _bucket.c.key, _bucket.c.window_start],
        set_={"count": _bucket.c.count + 1},
    ).returning(_bucket.c.count)


_UPSERT = {name: _upsert(name) for name in ("postgresql", "sqlite")}


def count_hit(session: Session, name: str, key: str, rule: RateLimit, now: datetime):
    """Count one call in the window holding `now`; returns (count so far, the window's end)."""
    start, end = window(now, rule.seconds)
    conn = session.connection()
    count = conn.execute(
        _UPSERT[conn.dialect.name],
        {"name": name, "key": key, "window_start": start, "count": 1, "expires_at": end},
    ).scalar_one()
    return count, end


def guard(
    ctx: AppContext, action: str, *, ip: str | None, identifier: Identifier = None
) -> str | None:
    """Count this call against the action's limits; 429 with Retry-After when one is exceeded.

    `identifier` may be a function of a session (resolving a request's reference to its id,
    say): it then runs after the address is counted, so a 404 counts against the address too.
    Returns the identifier (resolved). The calls of one address and of one identifier count
    separately; a call without a known address counts only by its identifier.
    """
    g, s, now = GUARDS[action], ctx.settings, ctx.clock.now()
    by_address = s.rate_limit(g.by_address) if g.by_address and ip else None
    by_identifier = s.rate_limit(g.by_identifier) if g.by_identifier else None
    if by_address is None and by_identifier is None:
        if callable(identifier):
            with ctx.db.session(write=False) as session:
                return identifier(session)
        return identifier
    with ctx.db.session(write=True) as session:
        try:
            value = None
            if by_address is not None:
                _hit(session, ctx, g, g.by_address, address_key(ip), by_address, now, ip, None)
            value = identifier(session) if callable(identifier) else identifier
            if by_identifier is not None and value is not None:
                _hit(session, ctx, g, g.by_identifier, value, by_identifier, now, ip, value)
        except Problem:
            commit(session)  # the count stands, whatever the answer
            raise
        commit(session)
    return value


async def guard_async(
    ctx: AppContext, action: str, *, ip: str | None, identifier: str | None = None
) -> None:
    """`guard` for an async route: the count runs in a worker thread, so the event loop never
    waits on the database; with the action's limits off, no hop at all."""
    g = GUARDS[action]
    if any(ctx.settings.rate_limit(name) for name in (g.by_address, g.by_identifier) if name):
        await anyio.to_thread.run_sync(
            functools.partial(guard, ctx, action, ip=ip, identifier=identifier)
        )


def _hit(
    session: Session,
    ctx: AppContext,
    g: Guard,
    name: str,
    value: str,
    rule: RateLimit,
    now: datetime,
    ip: str | None,
    identifier: str | None,
) -> None:
    count, end = count_hit(session, name, bucket_key(ctx.secret_key, name, value), rule, now)
    if count <= rule.count:
        return
    retry = max(1, math.ceil((end - now).total_seconds()))
    if g.audited and count == rule.count + 1:  # once per window and key, not per refusal
        audit.append(
            session,
            at=now,
            actor="anonymous",
            action="rate_limited",
            # A request id is no personal data; an e-mail or a client id is not written here.
            request_id=identifier if g.identifier_noun == "request" else None,
            ip=ip,
            detail={"limit": name, "max": rule.count, "window_seconds": rule.seconds},
        )
    whose = "from your network" if identifier is None else f"for this {g.identifier_noun}"
    raise Problem(
        429,
        "rate-limited",
        f"Too many {g.what} {whose}; try again in {retry} seconds.",
        headers={"Retry-After": str(retry)},
        retry_after=retry,
    )


def purge_expired(db: Database, ctx: AppContext) -> int:
    """Delete the buckets of windows that ended (for the worker); returns how many."""
    cutoff = ctx.clock.now() - PURGE_GRACE
    with db.transaction() as session:
        result = session.connection().execute(delete(_bucket).where(_bucket.c.expires_at < cutoff))
    return result.rowcount or 0

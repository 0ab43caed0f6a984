"""Rate limits per client address and per identifier, shared by every API process.

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

Filing (the hottest route) spares that transaction: its hits (`hits`) ride with the unit of
work to the group writer, which counts them first in the batch's own transaction
(`count_units`: one upsert per bucket, buckets in key order, before anything else is locked)
and, should the filing fail or roll back, commits the count alone (core/group_writer.py).

Keys are HMACs of the address or identifier, never an address or an e-mail in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from ipaddress import IPv6Address, ip_address
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.core import access_record as audit
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


@lru_cache(maxsize=4096)  # the hottest route asks for the same few addresses again and again
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


@lru_cache(maxsize=4096)
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
    # `count` in the VALUES is the number of hits counted at once (1, or a group writer's batch).
    return stmt.on_conflict_do_update(
        index_elements=[_bucket.c.name, _bucket.c.key, _bucket.c.window_start],
        set_={"count": _bucket.c.count + stmt.excluded.count},
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
    problem = _judge(session, g, name, rule, count, end, now, ip, identifier)
    if problem is not None:
        raise problem


def _judge(
    session: Session,
    g: Guard,
    name: str,
    rule: RateLimit,
    count: int,
    end: datetime,
    now: datetime,
    ip: str | None,
    identifier: str | None,
) -> Problem | None:
    """The 429 for the `count`-th call of a window, if it is one too many (None if it passes)."""
    if count <= rule.count:
        return None
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
    return Problem(
        429,
        "rate-limited",
        f"Too many {g.what} {whose}; try again in {retry} seconds.",
        headers={"Retry-After": str(retry)},
        retry_after=retry,
    )


@dataclass(frozen=True)
class Hit:
    """One call to count against one limit, prepared outside any transaction (`hits`) and
    counted later in the caller's transaction (`count_units`)."""

    action: str
    name: str  # the bucket name (the setting's name without `rate_limit_`)
    key: str  # HMAC of the address or identifier
    rule: RateLimit
    now: datetime
    ip: str | None
    identifier: str | None


def hits(
    ctx: AppContext, action: str, *, ip: str | None, identifier: str | None = None
) -> tuple[Hit, ...]:
    """What `guard` would count for this call (by address, then by identifier), not counted
    yet: for a unit of work that counts in its own transaction (the group writer)."""
    g, s, now = GUARDS[action], ctx.settings, ctx.clock.now()
    out = []
    if g.by_address and ip and (rule := s.rate_limit(g.by_address)) is not None:
        key = bucket_key(ctx.secret_key, g.by_address, address_key(ip))
        out.append(Hit(action, g.by_address, key, rule, now, ip, None))
    if g.by_identifier and identifier is not None:
        if (rule := s.rate_limit(g.by_identifier)) is not None:
            key = bucket_key(ctx.secret_key, g.by_identifier, identifier)
            out.append(Hit(action, g.by_identifier, key, rule, now, ip, identifier))
    return tuple(out)


def count_units(session: Session, units: list[tuple[Hit, ...]]) -> list[Problem | None]:
    """Count the hits of several units of work in `session`'s transaction; per unit, the 429
    of its first limit exceeded, or None.

    One upsert per bucket, adding all of the batch's hits at once, so the numbers they get
    are consecutive and exactly `limit` calls pass across processes, as with `guard`. The
    buckets are upserted in key order, before the units lock anything else (the access
    record's head, say): two batches in two processes lock them in the same order and cannot
    deadlock. Every hit of a unit counts (`guard` stops at the first limit exceeded)."""
    groups: dict[tuple, list[tuple[int, int, Hit]]] = {}
    for i, unit in enumerate(units):
        for j, hit in enumerate(unit):
            start, end = window(hit.now, hit.rule.seconds)
            groups.setdefault((hit.name, hit.key, start, end), []).append((i, j, hit))
    problems: list[Problem | None] = [None] * len(units)
    if not groups:
        return problems
    conn = session.connection()
    upsert = _UPSERT[conn.dialect.name]
    numbered = []
    for group in sorted(groups):  # (name, key, window start, window end)
        members = groups[group]
        name, key, start, end = group
        total = conn.execute(
            upsert,
            {"name": name, "key": key, "window_start": start, "count": len(members),
             "expires_at": end},
        ).scalar_one()  # fmt: skip
        first = total - len(members) + 1
        numbered += [(i, j, hit, first + n, end) for n, (i, j, hit) in enumerate(members)]
    # Judged after every bucket is counted: an audited refusal appends to the access record,
    # whose head lock comes after the buckets'. A unit's limits in its own order (address first).
    for i, _j, hit, number, end in sorted(numbered, key=lambda x: (x[0], x[1])):
        if problems[i] is not None:
            continue
        problems[i] = _judge(
            session, GUARDS[hit.action], hit.name, hit.rule, number, end, hit.now, hit.ip,
            hit.identifier,
        )  # fmt: skip
    return problems


def purge_expired(db: Database, ctx: AppContext) -> int:
    """Delete the buckets of windows that ended (for the worker); returns how many."""
    cutoff = ctx.clock.now() - PURGE_GRACE
    with db.transaction() as session:
        result = session.connection().execute(delete(_bucket).where(_bucket.c.expires_at < cutoff))
    return result.rowcount or 0

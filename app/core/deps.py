"""FastAPI dependencies: the unit of work, the context, and who is calling."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Annotated, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.db import commit
from app.core.errors import NotFound, Problem, Unauthorized
from app.core.security import AUD_STAFF, AUD_SUBJECT, TokenError, read_token, token_audience
from app.models import Request as RequestRow
from app.models import StaffSession, StaffUser


async def get_ctx(request: Request) -> AppContext:
    # async: a plain lookup needs no trip through the threadpool.
    return request.app.state.ctx


ContextDep = Annotated[AppContext, Depends(get_ctx)]


def lost_race(request: Request) -> Problem:
    """Another transaction changed the request between our read and our write (the ORM's
    version check matched no row). A lost race is the caller's to retry, never a 500: 412 when
    the caller sent If-Match (the version it holds is stale now), 409 otherwise."""
    if "if-match" in request.headers:
        return Problem(
            412,
            "precondition-failed",
            "Someone changed the request at the same moment: reload it and send its new "
            "version in If-Match.",
        )
    return Problem(409, "conflict", "The request changed at the same moment: reload it and retry.")


def _unit_of_work(request: Request, write: bool) -> Iterator[Session]:
    ctx: AppContext = request.app.state.ctx
    with ctx.db.session(write=write) as session:
        try:
            try:
                yield session
            except Problem as exc:
                if exc.commit:
                    commit(session)
                raise
            commit(session)
        except StaleDataError:
            raise lost_race(request) from None


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per HTTP request, committed once before the response is sent.

    A Problem raised with `commit=True` (a counted wrong code) commits first; any other
    error rolls everything back, so bad input changes nothing.
    """
    yield from _unit_of_work(request, write=request.method not in ("GET", "HEAD", "OPTIONS"))


def get_write_session(request: Request) -> Iterator[Session]:
    """For reads that write too: a staff read of personal data appends to the access record."""
    yield from _unit_of_work(request, write=True)


# scope="function": the commit runs before the response goes out, not after.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]


def client_ip(request: Request) -> str | None:
    """The caller's address: the peer's, unless the peer is a trusted proxy
    (RIGHTSDESK_TRUSTED_PROXIES); then the right-most X-Forwarded-For hop that is not itself
    trusted, which is the address the last trusted proxy saw. Hops further left were written
    by the caller and could say anything, so they are never read past an untrusted one."""
    peer = request.client.host if request.client else None
    trusted = request.app.state.ctx.settings.trusted_proxy_networks
    if peer is None or not trusted or not _is_trusted(_parse_ip(peer), trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        addr = _parse_ip(hop)
        if addr is None:  # not an address ("unknown", garbage): the proxy is all we know
            return peer
        if not _is_trusted(addr, trusted):
            return str(addr)
    # Every hop is a trusted proxy (a call from inside): the first one is the caller.
    first = _parse_ip(hops[0]) if hops else None
    return str(first) if first is not None else peer


def _parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: bare, `[v6]`, `v4:port` or `[v6]:port`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        addr = ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _is_trusted(addr: IPv4Address | IPv6Address | None, networks) -> bool:
    return addr is not None and any(addr in network for network in networks)


_bearer = HTTPBearer(auto_error=False, description="A token from the code verification.")
# Staff routes declare the OAuth2 password flow, so the docs' "Authorize" button logs in.
_staff_login = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token",
    auto_error=False,
    description="Staff: log in with e-mail and password (POST /v1/auth/token).",
)


@dataclass(frozen=True)
class SubjectPrincipal:
    request_id: str
    ip: str | None

    @property
    def actor(self) -> Actor:
        return Actor("subject", self.request_id, self.ip)

    def owns(self, request_id: str) -> None:
        """The one owner check: a token opens its own request and no other (404, not 403,
        so a token cannot tell which other ids exist)."""
        if request_id != self.request_id:
            raise NotFound("No such request.")


_REFERENCE = re.compile(r"^RD-[0-9]{4}-[0-9]{6}$", re.IGNORECASE)


def resolve_request_id(session: Session, key: str) -> str:
    """The one resolver of a request `{id}`, public and staff routes alike: the request's id,
    or its reference (`RD-2026-000042`). 404 when neither names a request, so both behave
    alike."""
    if _REFERENCE.match(key):
        found = session.exec(
            select(RequestRow.id).where(RequestRow.reference == key.upper())
        ).first()
    else:
        found = session.exec(select(RequestRow.id).where(RequestRow.id == key)).first()
    if found is None:
        raise NotFound("No such request.")
    return found


def resolve_request_ids(session: Session, keys: list[str]) -> dict[str, str]:
    """`resolve_request_id` for many keys in one query: {key: request id} for the keys that
    name a request (ids and references alike); a key that names none is left out."""
    refs = {k: k.upper() for k in keys if _REFERENCE.match(k)}
    ids = [k for k in keys if k not in refs]
    rows = session.exec(
        select(RequestRow.id, RequestRow.reference).where(
            RequestRow.id.in_(ids) | RequestRow.reference.in_(list(refs.values()))
        )
    ).all()
    by_id = {rid: rid for rid, _ in rows}
    by_ref = {ref: rid for rid, ref in rows}
    out = {k: by_id[k] for k in ids if k in by_id}
    out.update({k: by_ref[ref] for k, ref in refs.items() if ref in by_ref})
    return out


def request_filter(session: Session, key: str | None) -> str | None:
    """A `?request_id=` filter (staff tasks, the access record): a reference resolved to its
    request's id by `resolve_request_id` (404 when none), anything else kept as given, so an
    id whose request is gone still finds its entries."""
    if key is None or not _REFERENCE.match(key):
        return key
    return resolve_request_id(session, key)


def owned_request_id(session: Session, principal: SubjectPrincipal, key: str) -> str:
    """Resolve an id or reference, then apply the one owner check (404 for someone else's).
    A request whose personal data was purged answers 410 to every subject route: the token
    was issued before the purge, and nothing of the subject's is left to show."""
    if key == principal.request_id:
        request_id = key  # the token's own id: no resolving
    else:
        request_id = resolve_request_id(session, key)
        principal.owns(request_id)
    purged_at = session.exec(
        select(RequestRow.purged_at).where(RequestRow.id == request_id)
    ).first()
    if purged_at is not None:
        raise Problem(
            410,
            "request-purged",
            "This request was closed more than its retention period ago and its personal data "
            f"was destroyed on {purged_at.date().isoformat()} (PIPA Art. 21). 보존기간이 지나 "
            "이 요구의 개인정보는 파기되었습니다.",
            purged_at=purged_at.isoformat(),
        )
    return request_id


def subject_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SubjectPrincipal:
    ctx: AppContext = request.app.state.ctx
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send the token from the verification as a Bearer token.")
    try:
        claims = read_token(
            ctx.secret_key, credentials.credentials, audience=AUD_SUBJECT, now=ctx.clock.now()
        )
    except TokenError as exc:
        # A valid token of another kind is a known principal without a subject's rights: 403,
        # saying which kind it is (a dashboard that sent its staff token by mistake).
        other = token_audience(ctx.secret_key, credentials.credentials, now=ctx.clock.now())
        if other is not None:
            whose = "A staff" if other == AUD_STAFF else "An integration client's"
            raise Problem(
                403,
                "forbidden",
                f"{whose} token does not open the data subject's routes: they take the token "
                "from the subject's verification.",
            ) from None
        raise Unauthorized(f"The token is not accepted ({exc}).", invalid_token=True) from None
    return SubjectPrincipal(request_id=claims["sub"], ip=client_ip(request))


SubjectToken = Annotated[SubjectPrincipal, Depends(subject_principal)]


@dataclass(frozen=True)
class StaffPrincipal:
    id: str
    email: str
    role: str
    ip: str | None
    session_id: str | None = None  # the staff session the token belongs to (`sid`)

    @property
    def actor(self) -> Actor:
        return Actor("staff", self.id, self.ip)

    @property
    def is_cpo(self) -> bool:
        return self.role == "cpo"

    def may_see(self, assignee_id: str | None) -> None:
        """The one rule for staff access to a request's personal data: a handler sees the
        requests assigned to them or to nobody yet; the CPO and the auditor see all."""
        if self.role == "handler" and assignee_id not in (None, self.id):
            raise Problem(403, "forbidden", "This request is assigned to another handler.")


# Short reads that async routes and dependencies send to a worker thread share a small
# limiter instead of the 40-thread default: at 32 connections, 32 threads taking turns at the
# GIL (SQLite lets go of it for every row) cost more CPU than the reads, and throughput fell
# below that of one connection (bench/staff_queue.py). PostgreSQL gets more: its reads wait on the
# network, not on the GIL. Per event loop (a RunVar), as anyio keeps its own default.
DB_READ_THREADS = {"sqlite": 2, "postgresql": 8}
_db_reads: RunVar[CapacityLimiter] = RunVar("rightsdesk_db_reads")

T = TypeVar("T")


async def read_in_thread(ctx: AppContext, fn: Callable[..., T], *args) -> T:
    """`fn(*args)` (a short database read) in a worker thread, at most DB_READ_THREADS at once."""
    try:
        limiter = _db_reads.get()
    except LookupError:
        limiter = CapacityLimiter(DB_READ_THREADS.get(ctx.db.engine.dialect.name, 8))
        _db_reads.set(limiter)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


_account = StaffUser.__table__
_session = StaffSession.__table__
# The account and the token's session as they are now: one read by two primary keys (a join,
# no ORM session or object). No session row (an unknown `sid`) reads as NULLs.
_ACCOUNT = (
    sa_select(
        _account.c.id,
        _account.c.email,
        _account.c.role,
        _account.c.active,
        _session.c.id,
        _session.c.last_used_at,
        _session.c.ends_at,
        _session.c.ended_at,
    )
    .select_from(
        _account.outerjoin(
            _session,
            (_session.c.id == bindparam("sid")) & (_session.c.user_id == _account.c.id),
        )
    )
    .where(_account.c.id == bindparam("id"))
)


def _read_account(ctx: AppContext, user_id: str, session_id: str) -> tuple | None:
    with ctx.db.engine.connect() as conn:  # read-only; ends in a rollback
        row = conn.execute(_ACCOUNT, {"id": user_id, "sid": session_id}).first()
    return None if row is None else tuple(row)


def _session_over(ctx: AppContext, row: tuple, now) -> str | None:
    """Why the token's session no longer admits it (None while it is live)."""
    sid, last_used_at, ends_at, ended_at = row[4:]
    if sid is None:
        return "unknown"
    if ended_at is not None:
        return "ended"
    if now >= ends_at:
        return "expired"
    if now >= last_used_at + timedelta(minutes=ctx.settings.staff_idle_minutes):
        return "idle"
    return None


def _staff_claims(request: Request, token: str | None) -> dict:
    """The verified claims of a staff token (401 none or bad; 403 a token of another kind)."""
    ctx: AppContext = request.app.state.ctx
    if not token:
        raise Unauthorized("Log in at /v1/auth/token and send the token as Bearer.")
    now = ctx.clock.now()
    key = (ctx.secret_key, token)
    claims = _verified.get(key)
    if claims is not None and claims["exp"] > now.timestamp():
        return claims  # this exact token's signature was checked before; expiry is checked now
    try:
        claims = read_token(ctx.secret_key, token, audience=AUD_STAFF, now=now)
    except TokenError as exc:
        _verified.pop(key, None)
        # A valid token of another kind is a known principal without staff rights: 403.
        other = token_audience(ctx.secret_key, token, now=now)
        if other is None:
            raise Unauthorized(f"The token is not accepted ({exc}).", invalid_token=True) from None
        whose = "A data subject's" if other == AUD_SUBJECT else "An integration client's"
        raise Problem(403, "forbidden", f"{whose} token does not open staff routes.") from None
    if len(_verified) >= _VERIFIED_MAX:
        _verified.pop(next(iter(_verified)))  # the oldest
    _verified[key] = claims
    return claims


# Staff tokens whose signature, issuer and audience were verified (python-jose took about a
# tenth of a queue call): a token is immutable, so the result holds for as long as the token
# does; its expiry is compared with the clock on every call, and the account behind it is
# read again on every call (_staff_principal), so a deactivation or a role change still
# applies to the very next call. Keyed by the secret too: a new key verifies afresh.
_VERIFIED_MAX = 4096
_verified: dict[tuple[str, str], dict] = {}


async def _staff_principal(request: Request, token: str | None) -> StaffPrincipal:
    ctx: AppContext = request.app.state.ctx
    # The signature is checked on the event loop (CPU only, no hop to a thread).
    claims = _staff_claims(request, token)
    # The role comes from the account as it is now, so a revoked or changed grant takes effect
    # at once, on the very next call of a token already given out (PIPC standard: change or
    # revoke access rights promptly). The account is never cached: every call reads its row.
    # The session too: a log-out, a reuse of a spent refresh token or a change to the
    # account ends it, and its tokens with it, before they expire.
    sid = claims.get("sid")
    if not isinstance(sid, str):
        raise Unauthorized("The token names no session: log in again.", invalid_token=True)
    account = await read_in_thread(ctx, _read_account, ctx, claims["sub"], sid)
    if account is None or not account[3]:
        raise Unauthorized("The account no longer exists or is inactive.")
    over = _session_over(ctx, account, ctx.clock.now())
    if over is not None:
        raise Unauthorized(
            f"The session has {'ended' if over != 'idle' else 'been idle too long'} "
            f"({over}): log in again.",
            invalid_token=True,
        )
    user_id, email, role = account[:3]
    return StaffPrincipal(user_id, email, role, client_ip(request), sid)


def Staff(*roles: str):
    """`Staff("cpo", "handler")`: a dependency that admits these staff roles (all when none)."""

    async def dependency(
        request: Request, token: Annotated[str | None, Depends(_staff_login)]
    ) -> StaffPrincipal:
        principal = await _staff_principal(request, token)
        if roles and principal.role not in roles:
            raise Problem(
                403,
                "forbidden",
                f"The {principal.role} role may not do this (needs {' or '.join(roles)}).",
            )
        return principal

    return Depends(dependency)


AnyStaff = Annotated[StaffPrincipal, Staff()]
Operator = Annotated[StaffPrincipal, Staff("cpo", "handler")]  # may act on requests
CPO = Annotated[StaffPrincipal, Staff("cpo")]
Overseer = Annotated[StaffPrincipal, Staff("cpo", "auditor")]  # may read the access record


_VERSION = re.compile(r"^(?:W/)?(\"?)([0-9]{1,18})\1$")


def if_match(request: Request) -> int:
    """The version the caller last saw (If-Match: <version>, quotes allowed). 428 without it,
    400 when it is there but not a version number."""
    raw = request.headers.get("if-match")
    if raw is None:
        raise Problem(
            428,
            "precondition-required",
            "Send the request's current `version` in the If-Match header.",
        )
    found = _VERSION.match(raw.strip())
    if found is None:
        raise Problem(
            400,
            "malformed-if-match",
            "The If-Match header is malformed: it must be the request's version number, "
            'e.g. `If-Match: 3` or `If-Match: "3"` (the `version` of GET '
            "/v1/staff/requests/{id}).",
        )
    return int(found.group(2))


IfMatch = Annotated[int, Depends(if_match)]

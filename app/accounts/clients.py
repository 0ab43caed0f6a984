"""Integration clients: grant, rotate and revoke their credentials, and exchange them for
tokens (OAuth2 client credentials, RFC 6749 §4.4). No HTTP here; the caller commits.

A client secret is 256 random bits, so it needs no slow password hash: nobody can guess it,
and argon2 would only make every token request cost 50 ms of CPU. A keyed hash (HMAC-SHA256
under a key derived from the service's secret key) is enough, and the key means a copy of the
table alone does not even let anyone test a leaked secret against it. Compared in constant
time. Rotating RIGHTSDESK_SECRET_KEY therefore means rotating client secrets too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from app.audit import service as audit
from app.core.actors import Actor
from app.core.context import AppContext
from app.core.db import locked
from app.core.errors import Conflict, Problem, ValidationProblem
from app.core.ids import new_id
from app.core.security import AUD_INTEGRATION, issue_token
from app.models import ApiClient

# What a client may be granted (docs/operations.md, "Integrations").
REQUESTS_WRITE = "requests:write"  # file requests
REQUESTS_READ = "requests:read"  # read back what this client filed
REQUESTS_VERIFIED = "requests:verified"  # file with identity_verified (the company's product)
TASKS_READ = "tasks:read"  # the tasks of the client's systems
TASKS_WRITE = "tasks:write"  # confirm them
SCOPES = (REQUESTS_WRITE, REQUESTS_READ, REQUESTS_VERIFIED, TASKS_READ, TASKS_WRITE)
TASK_SCOPES = (TASKS_READ, TASKS_WRITE)

SECRET_PREFIX = "rdcs_"  # recognisable in a leak scanner; 43 characters of randomness follow


def _pepper(ctx: AppContext) -> bytes:
    return hmac.new(ctx.secret_key.encode(), b"rightsdesk:client-secret", hashlib.sha256).digest()


def hash_secret(ctx: AppContext, secret: str) -> str:
    return hmac.new(_pepper(ctx), secret.encode(), hashlib.sha256).hexdigest()


def _field_problem(field: str, code: str, message: str) -> Problem:
    return ValidationProblem(field, code, message, detail="The client's grant is not valid.")


def check_grant(ctx: AppContext, scopes: list[str], systems: list[str]) -> None:
    """Scopes from the list, systems from the profile; task scopes need a system."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise _field_problem(
            "scopes",
            "invalid",
            f"one or more of: {', '.join(SCOPES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
        )
    known = set(ctx.profile.systems) | set(ctx.profile.processors)
    strange = [s for s in systems if s not in known]
    if strange:
        raise _field_problem(
            "systems",
            "unknown_system",
            f"unknown: {', '.join(strange)}; known: {', '.join(sorted(known))}",
        )
    if any(s in TASK_SCOPES for s in scopes) and not systems:
        raise _field_problem(
            "systems",
            "required",
            "a client with tasks:read or tasks:write must name the systems whose tasks it sees",
        )


@dataclass
class Issued:
    client: ApiClient
    secret: str  # shown once


def create(
    session: Session,
    ctx: AppContext,
    *,
    name: str,
    scopes: list[str],
    systems: list[str],
    actor: Actor,
) -> Issued:
    scopes = list(dict.fromkeys(scopes))
    systems = list(dict.fromkeys(systems))
    check_grant(ctx, scopes, systems)
    now = ctx.clock.now()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        id=new_id("cli"),
        name=name,
        scopes=scopes,
        systems=systems,
        secret_hash=hash_secret(ctx, secret),
        created_at=now,
        created_by=actor.label,
    )
    session.add(client)
    session.flush()
    # A grant of access rights (PIPC safety-measures standard: kept with the access record).
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="client_granted",
        ip=actor.ip,
        detail={"client": client.id, "scopes": scopes, "systems": systems},
    )
    return Issued(client, secret)


def _locked(session: Session, client_id: str) -> ApiClient:
    return locked(session, ApiClient, client_id, missing="No such client.")


def rotate(session: Session, ctx: AppContext, client_id: str, *, actor: Actor) -> Issued:
    """A new secret; the old one and every token issued under it stop working at once."""
    client = _locked(session, client_id)
    if not client.active:
        raise Conflict("The client is revoked; grant a new one.")
    now = ctx.clock.now()
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client.secret_hash = hash_secret(ctx, secret)
    client.generation += 1
    client.rotated_at = now
    session.add(client)
    session.flush()
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="client_rotated",
        ip=actor.ip,
        detail={"client": client.id, "generation": client.generation},
    )
    return Issued(client, secret)


def revoke(session: Session, ctx: AppContext, client_id: str, *, actor: Actor) -> ApiClient:
    """Revoke a client: its secret and tokens stop working at once (idempotent)."""
    client = _locked(session, client_id)
    if not client.active:
        return client
    now = ctx.clock.now()
    client.active = False
    client.revoked_at = now
    session.add(client)
    session.flush()
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="client_revoked",
        ip=actor.ip,
        detail={"client": client.id},
    )
    return client


def listing(
    session: Session, *, limit: int = 50, after: str | None = None, active: bool | None = None
) -> list[ApiClient]:
    query = select(ApiClient)
    if after:
        query = query.where(ApiClient.id > after)
    if active is not None:
        query = query.where(ApiClient.active.is_(active))
    return list(session.exec(query.order_by(ApiClient.id).limit(limit)))


@dataclass
class ClientToken:
    token: str
    expires_in: int
    scopes: list[str]


def invalid_client(basic: bool) -> Problem:
    # RFC 6749 §5.2: invalid_client is a 401, with the scheme the client used.
    return Problem(
        401,
        "invalid-client",
        "Unknown client, wrong secret, or the client is revoked.",
        headers={"WWW-Authenticate": 'Basic realm="rightsdesk"' if basic else "Bearer"},
        error="invalid_client",
        commit=True,  # the failed attempt stays in the access record
    )


def refuse(session: Session, ctx: AppContext, *, basic: bool, ip: str | None, reason: str):
    """A client's credentials that could match no client (malformed, or holding a NUL, which
    no id or secret has and PostgreSQL text cannot hold): the failed attempt is recorded as a
    wrong secret would be, and answered the same 401."""
    audit.append(
        session,
        at=ctx.clock.now(),
        actor="anonymous",
        action="client_auth_failed",
        ip=ip,
        detail={"reason": reason},
    )
    return invalid_client(basic)


def issue(
    session: Session,
    ctx: AppContext,
    *,
    client_id: str,
    secret: str,
    requested: list[str] | None,
    basic: bool,
    ip: str | None,
) -> ClientToken:
    """Check the credentials and issue a token with the granted scopes (or the requested
    subset of them)."""
    now = ctx.clock.now()
    client = session.get(ApiClient, client_id) if len(client_id) <= 32 else None
    expected = client.secret_hash if client is not None else hash_secret(ctx, "")
    matches = hmac.compare_digest(expected, hash_secret(ctx, secret))
    if client is None or not client.active or not matches:
        audit.append(
            session,
            at=now,
            actor="anonymous",
            action="client_auth_failed",
            ip=ip,
            detail={"reason": "unknown, revoked or wrong secret"},
        )
        raise invalid_client(basic)
    scopes = list(client.scopes)
    if requested:
        extra = [s for s in requested if s not in client.scopes]
        if extra:
            raise Problem(
                400,
                "invalid-scope",
                f"Not granted to this client: {', '.join(extra)}.",
                error="invalid_scope",
            )
        scopes = [s for s in client.scopes if s in requested]
    ttl = ctx.settings.integration_token_ttl_seconds
    token = issue_token(
        ctx.secret_key,
        audience=AUD_INTEGRATION,
        subject=client.id,
        now=now,
        ttl=ttl,
        claims={"scope": " ".join(scopes), "gen": client.generation},
    )
    audit.append(
        session,
        at=now,
        actor=f"integration:{client.id}",
        action="client_token",
        ip=ip,
        detail={"scopes": scopes},
    )
    return ClientToken(token, ttl, scopes)


def token_still_good(client: ApiClient | None, generation: object) -> bool:
    """Is a token of this generation still good for the client as it is now (not revoked,
    not rotated since)?"""
    return client is not None and client.active and generation == client.generation

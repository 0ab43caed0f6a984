"""Idempotency-Key for integration writes (IETF httpapi "The Idempotency-Key HTTP Header
Field" draft): a client that retries after a timeout gets the first answer, not a second
request.

A call reserves its key before the work, in a transaction of its own, by inserting the key's
row: the unique (client_id, key) constraint lets one call win across every API process, never
a check-then-insert. The work then runs in the business transaction, which also stores the
answer under the reservation's claim token, so an answer is stored if and only if the work is
committed. A call whose work fails hands the key back. A call that died mid-way holds its key
only until its lease runs out.

    first call      → reserve → work + store answer (one commit) → 201
    same key, body  → the stored answer again, `Idempotent-Replayed: true`
    … while running → 409 (retry shortly)
    another body    → 422
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from app.core.context import AppContext
from app.core.db import Database
from app.core.errors import Conflict, Problem
from app.core.ids import new_id
from app.models import IdempotencyKey

_key = IdempotencyKey.__table__
MAX_KEY_LENGTH = 255


def parse_key(raw: str | None) -> str:
    """The header's value: an sf-string per the draft (`"abc"`), or the bare token that many
    clients send; printable ASCII, 1–255 characters. 400 when missing or malformed."""
    if raw is None:
        raise Problem(
            400,
            "idempotency-key-missing",
            "This write needs an Idempotency-Key header: a unique string per operation "
            '(e.g. a UUID, as "…"), reused only to retry that same operation.',
        )
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value or len(value) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise Problem(
            400,
            "idempotency-key-missing",
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
        )
    return value


def fingerprint(body: Any) -> str:
    """SHA-256 of the canonical JSON of the body (sorted keys, no spaces), so the same body
    matches however its keys were ordered or spaced."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Reservation:
    id: str
    token: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def _aad(row_id: str) -> str:
    return f"idempotency_key.response:{row_id}"


def _insert(dialect: str):
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(_key)


def reserve(
    db: Database, ctx: AppContext, *, client_id: str, key: str, fingerprint: str
) -> Reservation | Replay:
    """Reserve the key for this call (its own short transaction), or say what became of it."""
    now = ctx.clock.now()
    token = secrets.token_hex(16)
    lease_until = now + timedelta(seconds=ctx.settings.idempotency_lease_seconds)
    fresh = {
        "fingerprint": fingerprint,
        "state": "in_flight",
        "claim_token": token,
        "locked_until": lease_until,
        "response_status": None,
        "response_enc": None,
        "request_id": None,
        "created_at": now,
        "expires_at": now + timedelta(hours=ctx.settings.idempotency_ttl_hours),
    }
    with db.transaction() as session:
        conn = session.connection()
        row_id = new_id("idk")
        inserted = conn.execute(
            _insert(conn.dialect.name)
            .values(id=row_id, client_id=client_id, key=key, **fresh)
            .on_conflict_do_nothing(index_elements=["client_id", "key"])
            .returning(_key.c.id)
        ).scalar_one_or_none()
        if inserted is not None:
            return Reservation(inserted, token)
        # The key is taken: the row is read under its lock (PostgreSQL; SQLite's write
        # transaction is exclusive already), so a takeover below is decided by one caller.
        row = conn.execute(
            select(_key).where(_key.c.client_id == client_id, _key.c.key == key).with_for_update()
        ).one()
        expired = row.expires_at <= now
        if not expired and row.fingerprint != fingerprint:
            raise Problem(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was first used with another body. Use a new key for a "
                "new request; reuse a key only to retry the very same request.",
            )
        if not expired and row.state == "done":
            body = json.loads(ctx.keys.decrypt(row.response_enc, _aad(row.id)) or "{}")
            return Replay(row.response_status or 200, body)
        if not expired and row.locked_until is not None and row.locked_until > now:
            retry = max(1, int((row.locked_until - now).total_seconds()))
            raise Problem(
                409,
                "idempotency-key-in-flight",
                "A request with this Idempotency-Key is still being handled; retry in a moment "
                "to get its answer.",
                headers={"Retry-After": str(min(retry, 5))},
            )
        # Expired (older than the retention period), or its call died mid-way: take it over.
        conn.execute(update(_key).where(_key.c.id == row.id).values(**fresh))
        return Reservation(row.id, token)


def store(
    session: Session,
    ctx: AppContext,
    reservation: Reservation,
    *,
    status: int,
    body: dict,
    request_id: str | None,
) -> None:
    """Keep the answer, in the business transaction, if the key is still this call's (409
    otherwise: the lease ran out and another call took the key over; the work rolls back)."""
    stored = session.connection().execute(
        update(_key)
        .where(_key.c.id == reservation.id, _key.c.claim_token == reservation.token)
        .values(
            state="done",
            claim_token=None,
            locked_until=None,
            response_status=status,
            response_enc=ctx.keys.encrypt(
                json.dumps(body, ensure_ascii=False), _aad(reservation.id)
            ),
            request_id=request_id,
        )
    )
    if stored.rowcount != 1:
        raise Conflict(
            "This call took too long and another call with the same Idempotency-Key took "
            "over; nothing was filed by this one. Retry to get the other call's answer."
        )


def release(db: Database, reservation: Reservation) -> None:
    """The work failed: hand the key back, so the same key can be retried."""
    with db.transaction() as session:
        session.connection().execute(
            delete(_key).where(_key.c.id == reservation.id, _key.c.claim_token == reservation.token)
        )


def purge_expired(db: Database, ctx: AppContext, *, limit: int = 1000) -> int:
    """Forget keys past their retention period (the worker calls this); returns how many."""
    now = ctx.clock.now()
    with db.transaction() as session:
        conn = session.connection()
        ids = (
            conn.execute(select(_key.c.id).where(_key.c.expires_at <= now).limit(limit))
            .scalars()
            .all()
        )
        if ids:
            conn.execute(delete(_key).where(_key.c.id.in_(ids)))
    return len(ids)

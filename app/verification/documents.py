"""Proxy documents: accept only real PDF, PNG or JPEG files, seal them, let staff download
them with a recorded reason, and destroy them on schedule (key and bytes)."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import Session, select

from app.audit import service as audit
from app.core.actors import SYSTEM, Actor
from app.core.context import AppContext
from app.core.db import Database, scrub
from app.core.errors import Conflict, NotFound, Problem, ValidationProblem
from app.core.ids import new_id
from app.law.deadlines import seoul_date
from app.models import Document, Request
from app.requests import lifecycle
from app.requests.lifecycle import CLOSED, Status
from app.requests.locks import lock_request
from app.retention.documents import ERASED

KINDS = ("power_of_attorney", "identity_proof", "relationship_proof")

# The file's own first bytes decide its type: never its name or the declared content type.
MAGIC = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, ext in MAGIC:
        if data.startswith(magic):
            return content_type, ext
    return None


def _aad(document_id: str, part: str) -> str:
    return f"document.{part}:{document_id}"


def store(
    session: Session,
    ctx: AppContext,
    request: Request,
    *,
    kind: str,
    filename: str | None,
    data: bytes,
    actor: Actor,
) -> Document:
    # Check the status and count the documents under the request's row lock, or parallel
    # uploads all count the same rows and all pass (requests/locks.py).
    request = lock_request(session, request.id)
    if Status(request.status) in CLOSED:
        raise Conflict(f"A {request.status} request takes no more documents.")
    limit = ctx.settings.max_document_bytes
    if not data:
        raise ValidationProblem("file", "empty", "zero bytes", detail="The file is empty.")
    if len(data) > limit:
        raise Problem(
            413, "payload-too-large", f"The file is larger than {limit} bytes.", limit=limit
        )
    sniffed = sniff(data)
    if sniffed is None:
        raise Problem(
            415,
            "unsupported-media-type",
            "Only PDF, PNG or JPEG files are accepted (judged by their content).",
        )
    count = len(session.exec(select(Document.id).where(Document.request_id == request.id)).all())
    if count >= ctx.settings.max_documents_per_request:
        raise Conflict(
            f"A request takes at most {ctx.settings.max_documents_per_request} documents."
        )
    now = ctx.clock.now()
    document_id = new_id("doc")
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, data, _aad(document_id, "content").encode())
    document = Document(
        id=document_id,
        request_id=request.id,
        kind=kind,
        content_type=sniffed[0],
        size=len(data),
        filename_enc=ctx.keys.encrypt(filename, _aad(document_id, "filename"))
        if filename
        else None,
        key_enc=ctx.keys.encrypt_bytes(key, _aad(document_id, "key")),
        content_enc=sealed,
        uploaded_at=now,
        uploaded_by=actor.label,
    )
    session.add(document)
    session.flush()
    lifecycle.record(
        session,
        request.id,
        "document.uploaded",
        actor=actor,
        at=now,
        detail={
            "document": document_id,
            "kind": kind,
            "content_type": sniffed[0],
            "size": len(data),
        },
    )
    return document


@dataclass
class Download:
    data: bytes
    content_type: str
    filename: str


def safe_filename(name: str | None, fallback: str) -> str:
    """ASCII, no path, no quotes: safe in a Content-Disposition header."""
    stem, _ = os.path.splitext(os.path.basename(name or ""))
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", ascii_stem).strip("_")[:80]
    # The extension always follows the real type, never the uploaded name.
    return f"{cleaned}.{fallback.rsplit('.', 1)[1]}" if cleaned else fallback


def download(
    session: Session,
    ctx: AppContext,
    request_id: str,
    document_id: str,
    *,
    reason: str,
    actor: Actor,
) -> Download:
    document = session.get(Document, document_id)
    if document is None or document.request_id != request_id:
        raise NotFound("No such document.")
    if document.destroyed_at is not None:
        raise Problem(
            410,
            "document-destroyed",
            f"The document was destroyed on {seoul_date(document.destroyed_at).isoformat()}.",
        )
    key = ctx.keys.decrypt_bytes(document.key_enc, _aad(document.id, "key"))
    blob = document.content_enc
    data = AESGCM(key).decrypt(blob[:12], blob[12:], _aad(document.id, "content").encode())
    name = ctx.keys.decrypt(document.filename_enc, _aad(document.id, "filename"))
    ext = next(e for _, t, e in MAGIC if t == document.content_type)
    # PIPC standard: a download of personal data is recorded with its reason.
    audit.append(
        session,
        at=ctx.clock.now(),
        actor=actor.label,
        action="download",
        request_id=request_id,
        ip=actor.ip,
        detail={"document": document.id, "kind": document.kind, "reason": reason},
    )
    return Download(data, document.content_type, safe_filename(name, f"{document.kind}.{ext}"))


def destroy(session: Session, document: Document, *, now: datetime, actor: Actor, why: str) -> None:
    """Erase the bytes, their key and the file name; keep the fact that there was a document."""
    for column in ERASED:
        setattr(document, column, None)
    document.destroyed_at = now
    session.add(document)
    session.flush()
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="destroy",
        request_id=document.request_id,
        detail={"document": document.id, "kind": document.kind, "why": why},
    )


def destroy_expired(db: Database, ctx: AppContext, *, limit: int = 500) -> int:
    """Destroy the documents of requests closed more than the retention period ago."""
    now = ctx.clock.now()
    cutoff = now - timedelta(days=ctx.settings.document_retention_days)
    with db.transaction() as session:
        due = list(
            session.exec(
                select(Document)
                .join(Request, Request.id == Document.request_id)
                .where(
                    Document.destroyed_at.is_(None),
                    Request.closed_at.is_not(None),
                    Request.closed_at <= cutoff,
                )
                .limit(limit)
                # Several workers run this side by side: each document is claimed by one
                # (rows another worker holds are skipped), before the first append to the
                # access record (the lock order of requests/locks.py).
                .with_for_update(of=Document, skip_locked=True)
            )
        )
        for document in due:
            destroy(
                session,
                document,
                now=now,
                actor=SYSTEM,
                why=f"retention: {ctx.settings.document_retention_days} days after closing",
            )
    if due:
        scrub(db, (Document.__tablename__,))  # Art. 21(3): no old copy left in the storage
    return len(due)

"""Assemble, read and destroy the access result of a granted access request.

The result is assembled when the request is completed (workflow/service.complete), under the
request's row lock, from the collect tasks of the categories the decision granted: per
category the items and values the systems returned, and from the profile what Decree 41①
lists beside them: purposes, retention, provision to third parties and processors. It is kept
encrypted, served to the subject's token for `result_ttl_days` from completion, and then
destroyed by the worker (content and the collect tasks' copies), leaving the fact that it was.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.audit import service as audit
from app.core.actors import SYSTEM, Actor
from app.core.context import AppContext
from app.core.db import Database, scrub
from app.core.errors import Conflict, NotFound, Problem
from app.core.ids import new_id
from app.models import AccessResult, Request, Task
from app.notifications.render import moment_en, moment_ko
from app.requests import lifecycle
from app.requests.lifecycle import Status
from app.results import collected, render


def _aad(result_id: str) -> str:
    return f"access_result.content:{result_id}"


def _texts(values: Any) -> list[Any]:
    """A profile list (of strings or {ko, en} entries), or [] where the profile says nothing."""
    if not values:
        return []
    return [v.model_dump() if hasattr(v, "model_dump") else v for v in values]


def _retention(ctx: AppContext, category) -> list[dict[str, Any]]:
    out = []
    for key in getattr(category, "retention", None) or []:
        rule = ctx.profile.retention.get(key)
        if rule is None:
            continue
        out.append(
            {
                "rule": key,
                "record_ko": rule.get("record_ko"),
                "record_en": rule.get("record_en"),
                "period": rule.get("period"),
                "law_ko": rule.get("law_ko"),
                "law_en": rule.get("law_en"),
                "starts_ko": rule.get("starts_ko"),
                "starts_en": rule.get("starts_en"),
            }
        )
    return out


def _processors(ctx: AppContext, category) -> list[dict[str, Any]]:
    out = []
    for key in category.systems or []:
        processor = ctx.profile.processors.get(key)
        if processor is None:
            continue  # an in-house system, not a processor (수탁자)
        out.append(
            {
                "processor": key,
                "name": processor.get("name"),
                "task_ko": processor.get("task_ko"),
                "task_en": processor.get("task_en"),
            }
        )
    return out


def _system_name(ctx: AppContext, key: str | None) -> str | None:
    if key is None:
        return None
    namer = getattr(ctx.profile, "system_name", None)
    if namer is not None:
        return namer(key)
    entry = ctx.profile.processors.get(key)
    return entry.get("name") if entry else key


def build_categories(
    session: Session, ctx: AppContext, request: Request, granted: list[str]
) -> list[dict[str, Any]]:
    """Per granted category, in the profile's order: the items and values the collect tasks
    returned (with the system each came from and the record number), the sources and their
    outcome, and the profile's purposes, retention, processors and third parties."""
    collect = list(
        session.exec(
            select(Task)
            .where(
                Task.request_id == request.id,
                Task.kind == collected.COLLECT,
                Task.status.in_(("done", "waived")),
            )
            .order_by(Task.created_at, Task.id)
        )
    )
    out = []
    for key, category in ctx.profile.categories.items():
        if key not in granted:
            continue
        items: list[dict[str, Any]] = []
        sources = []
        for task in (t for t in collect if t.category == key):
            sources.append(
                {
                    "system": task.system,
                    "name": _system_name(ctx, task.system),
                    # done | not_found | waived (the CPO waived a failed collection)
                    "outcome": "waived" if task.status == "waived" else task.outcome,
                }
            )
            for number, record in enumerate(collected.read_data(ctx, task), start=1):
                for item, value in record.items():
                    items.append(
                        {"item": item, "value": value, "system": task.system, "record": number}
                    )
        out.append(
            {
                "category": key,
                "name_ko": category.name_ko,
                "name_en": category.name_en,
                "items": items,
                "sources": sources,
                "purposes": _texts(getattr(category, "purposes", None)),
                "retention": _retention(ctx, category),
                "processors": _processors(ctx, category),
                "third_parties": _texts(getattr(category, "third_parties", None)),
            }
        )
    return out


def find(session: Session, request_id: str) -> AccessResult | None:
    return session.exec(select(AccessResult).where(AccessResult.request_id == request_id)).first()


def assemble(
    session: Session,
    ctx: AppContext,
    request: Request,
    granted: list[str],
    *,
    actor: Actor,
    now: datetime,
) -> AccessResult:
    """Assemble (or, after an objection and a new completion, re-assemble) the request's one
    result. The caller holds the request's row lock, so assemblies of one request queue; the
    unique constraint on request_id is the backstop: a lost insert race is a 409, not a 500."""
    content = {"categories": build_categories(session, ctx, request, granted)}
    expires_at = now + timedelta(days=ctx.settings.result_ttl_days)
    result = find(session, request.id)
    if result is None:
        result = AccessResult(
            id=new_id("res"), request_id=request.id, generated_at=now, expires_at=expires_at
        )
        session.add(result)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(
                "The access result was assembled by another action at the same moment: reload "
                "the request.",
            ) from None
    else:
        result.generated_at = now
        result.expires_at = expires_at
        result.destroyed_at = None
    result.content_enc = ctx.keys.encrypt(
        json.dumps(content, ensure_ascii=False, default=str, allow_nan=False), _aad(result.id)
    )
    session.add(result)
    session.flush()
    lifecycle.record(
        session,
        request.id,
        "result.assembled",
        actor=actor,
        at=now,
        detail={
            "result": result.id,
            "categories": len(content["categories"]),
            "items": sum(len(c["items"]) for c in content["categories"]),
            "expires_at": expires_at.isoformat(),
        },
    )
    return result


def notice_context(ctx: AppContext, request: Request, result: AccessResult) -> dict[str, str]:
    """What the completion notice says about the download: where, and until when."""
    return {
        "url": f"{ctx.settings.resolved_portal_url}/requests/{request.reference}",
        "until_ko": moment_ko(result.expires_at),
        "until_en": moment_en(result.expires_at),
    }


def document(
    request: Request, result: AccessResult, content: dict[str, Any], ctx: AppContext | None = None
) -> dict[str, Any]:
    """The result JSON; a transmission's carries a manifest (Art. 35-2)."""
    doc = {
        "request_id": request.id,
        "reference": request.reference,
        "generated_at": result.generated_at.isoformat(),
        "expires_at": result.expires_at.isoformat(),
        "categories": content["categories"],
    }
    if request.type == "transmission" and ctx is not None:
        company = ctx.profile.company
        doc["manifest"] = {
            "kind": "transmission",
            "law": "PIPA Art. 35-2 (개인정보 보호법 제35조의2)",
            "controller": {"name_ko": company.name_ko, "name_en": company.name_en},
            "recipient": "data_subject",
            "reference": request.reference,
            "generated_at": doc["generated_at"],
            "categories": [c["category"] for c in content["categories"]],
            "formats": list(ctx.profile.transmission.formats),
            "schema": "categories[].items[]: {item, value}; CSV: one row per category and item",
        }
    return doc


TRANSMISSION_LOG_YEARS = 3  # pipa.md: the transmission log is kept 3 years


def record_transmission(
    session: Session, ctx: AppContext, doc: dict[str, Any], *, fmt: str, body: bytes, actor: Actor
) -> None:
    """Log a transmission (Art. 35-2): what was sent, in what format, its SHA-256; no personal
    data. Kept 3 years."""
    import hashlib

    from app.models import TransmissionLog

    if "manifest" not in doc:
        return
    now = ctx.clock.now()
    session.add(
        TransmissionLog(
            id=new_id("trn"),
            request_id=doc["request_id"],
            at=now,
            actor=actor.label,
            recipient="subject",
            format=fmt,
            categories=doc["manifest"]["categories"],
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            keep_until=now + timedelta(days=365 * TRANSMISSION_LOG_YEARS + 1),
        )
    )
    lifecycle.record(
        session,
        doc["request_id"],
        "transmitted",
        actor=actor,
        at=now,
        audit_action="transmit",
        detail={"format": fmt, "size": len(body), "categories": doc["manifest"]["categories"]},
    )


def read_for_download(
    session: Session, ctx: AppContext, request_id: str, *, fmt: str, actor: Actor
) -> dict[str, Any]:
    """The result for its subject: 404 until the request is completed with one, 410 once it
    has expired (destroyed, or about to be). The download goes to the access record."""
    request = session.get(Request, request_id)
    result = find(session, request_id)
    if request is None or result is None:
        raise NotFound("There is no access result for this request (yet).")
    now = ctx.clock.now()
    if result.destroyed_at is not None or result.content_enc is None or now >= result.expires_at:
        raise Problem(
            410,
            "result-destroyed",
            f"The access result could be downloaded until {result.expires_at.isoformat()}; "
            "it has been destroyed. You may file a new access request.",
            title="Access result destroyed",
            expired_at=result.expires_at.isoformat(),
        )
    if request.status != Status.completed:
        # Reopened by an objection: the new result comes with the new completion.
        raise NotFound("The access result is not available while the request is reopened.")
    content = json.loads(ctx.keys.decrypt(result.content_enc, _aad(result.id)))
    # PIPC standard: every download of personal data is in the access record.
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="download",
        request_id=request_id,
        ip=actor.ip,
        detail={"result": result.id, "format": fmt},
    )
    return document(request, result, content, ctx)


def download(
    session: Session, ctx: AppContext, request_id: str, *, fmt: str, actor: Actor
) -> tuple[bytes, str]:
    """One download of a completed request's result by its subject, the API's and the
    portal's alike: read (404/410, the access record), render as `fmt` (json, csv, zip), and
    for a transmission (Art. 35-2) its entry in the transmission log. Returns the body and the
    file name (`transmission-RD-…` or `access-result-RD-…`)."""
    doc = read_for_download(session, ctx, request_id, fmt=fmt, actor=actor)
    if fmt == "json":
        body = render.to_json(doc)
    elif fmt == "csv":
        body = render.to_csv(doc)
    else:
        body = render.to_zip(doc, ctx.profile.company)
    # A transmission (Art. 35-2): each download is logged with what was sent.
    record_transmission(session, ctx, doc, fmt=fmt, body=body, actor=actor)
    kind = "transmission" if "manifest" in doc else "access-result"
    return body, f"{kind}-{doc['reference']}.{fmt}"


def destroy_expired(db: Database, ctx: AppContext, *, limit: int = 200) -> int:
    """Destroy the access results whose download time has run out: the content, and the copies
    the collect tasks keep; the row stays as the fact that there was one (and answers 410)."""
    now = ctx.clock.now()
    with db.transaction() as session:
        due = list(
            session.exec(
                select(AccessResult)
                .where(AccessResult.destroyed_at.is_(None), AccessResult.expires_at <= now)
                .order_by(AccessResult.expires_at, AccessResult.id)
                .limit(limit)
                # Several workers run this side by side: each result is claimed by one (rows
                # another holds are skipped), before the first append to the access record.
                .with_for_update(skip_locked=True)
            )
        )
        for result in due:
            destroy(session, result, now=now, actor=SYSTEM, ttl=ctx.settings.result_ttl_days)
    if due:
        # Art. 21(3): no old copy of the content (or the tasks' copies) left in the storage.
        scrub(db, (AccessResult.__tablename__, Task.__tablename__))
    return len(due)


def destroy(session: Session, result: AccessResult, *, now: datetime, actor: Actor, ttl: int):
    result.content_enc = None
    result.destroyed_at = now
    session.add(result)
    session.flush()
    t = Task.__table__
    session.connection().execute(
        update(t)
        .where(
            t.c.request_id == result.request_id,
            t.c.kind == collected.COLLECT,
            t.c.data_enc.is_not(None),
        )
        .values(data_enc=None)
    )
    audit.append(
        session,
        at=now,
        actor=actor.label,
        action="destroy",
        request_id=result.request_id,
        detail={"result": result.id, "why": f"retention: {ttl} days after completion"},
    )

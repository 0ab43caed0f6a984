"""Assemble a request's evidence pack and record its download (services: no HTTP here).

The order matters for the pack's proof: the whole chain is checked first (without holding the
head, so appends go on meanwhile); then the chain head is locked, the request's record and its
entries are read (no change to it can commit until this unit does), and the download entry is
appended with the digests of those entries and of the content.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from app.audit import service as audit
from app.core.context import AppContext
from app.core.deps import StaffPrincipal
from app.evidence.integrity import DOWNLOAD_WHAT, content_digest, entries_digest
from app.evidence.schemas import (
    AccessRecordPart,
    ChainCheckRecord,
    Content,
    DecisionRecord,
    EntryRecord,
    EvidencePack,
    Facts,
    Identifiers,
    NoticeSent,
    TaskRecord,
)
from app.law.deadlines import seoul_date
from app.models import AuditEntry, Hold, Request, Task
from app.requests import pii
from app.requests import service as requests
from app.requests.views import grounds_out, public_documents
from app.retention import holds
from app.workflow.views import staff_view, task_view

NOTICES_NOTE = (
    "발송된 통지의 본문은 개인정보 보호를 위해 발송 즉시 삭제되므로 이 자료에는 통지의 종류, 언어, "
    "생성·발송 시각과 상태만 담깁니다. / A delivered notice's content (recipient and text) is "
    "erased from the outbox once it is sent, so this pack holds each notice's template, language, "
    "times and delivery state, not its text."
)

HOW_TO_VERIFY = (
    "rightsdesk audit verify PACK.zip — recomputes every entry's SHA-256 (app/audit/chain.py: "
    "previous hash, a newline, the entry's fields as compact JSON with sorted keys), the links "
    "between consecutive entries, and the digests the download's own entry (the last) holds: "
    "`entries_digest` over the earlier entries (`seq:hash` a line) and `content_sha256` over "
    "the canonical JSON of `content`. Confirm the last entry's hash with the controller's "
    "access record."
)


def _entry(row: AuditEntry) -> EntryRecord:
    return EntryRecord(
        seq=row.seq,
        at=row.at.isoformat(),
        actor=row.actor,
        action=row.action,
        request_id=row.request_id,
        ip=row.ip,
        detail=row.detail or {},
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _request_entries(session: Session, request_id: str) -> list[EntryRecord]:
    rows = session.exec(
        select(AuditEntry).where(AuditEntry.request_id == request_id).order_by(AuditEntry.seq)
    )
    return [_entry(r) for r in rows]


def _identifiers(ctx: AppContext, request: Request, view) -> Identifiers:
    keys = ctx.keys
    return Identifiers(
        subject_name=view.subject.name,
        subject_email=view.subject.email,
        subject_phone=view.subject.phone,
        requester=view.requester,
        details=pii.open_text(keys, request, "details"),
        corrections=view.corrections,
    )


def _tasks(session: Session, request: Request, now: datetime) -> list[TaskRecord]:
    rows = session.exec(
        select(Task).where(Task.request_id == request.id).order_by(Task.created_at, Task.id)
    )
    return [
        TaskRecord(
            **task_view(t, now, request.reference).model_dump(),
            note_given=t.note_enc is not None,
            waived=t.waived_reason_enc is not None,
        )
        for t in rows
    ]


def _content(
    session: Session,
    ctx: AppContext,
    request: Request,
    principal: StaffPrincipal,
    now: datetime,
    identifiers: bool,
) -> Content:
    view = staff_view(session, ctx, request, now, principal)
    facts = Facts(
        id=request.id,
        reference=request.reference,
        type=request.type,
        status=request.status,
        channel=request.channel,
        locale=request.locale,
        requester_kind=request.requester_kind,
        categories=request.categories,
        received_at=request.received_at,
        statutory_due_at=request.statutory_due_at,
        due_at=request.due_at,
        due_date=seoul_date(request.due_at),
        verified_at=request.verified_at,
        closed_at=request.closed_at,
        purged_at=request.purged_at,
        assignee_id=request.assignee_id,
        documents=public_documents(session, request.id),
        identifiers=_identifiers(ctx, request, view) if identifiers else None,
    )
    hold_rows = session.exec(
        select(Hold).where(Hold.request_id == request.id).order_by(Hold.created_at, Hold.id)
    )
    return Content(
        facts=facts,
        timeline=view.timeline,
        notices=[
            NoticeSent(
                id=n.id,
                template=n.template,
                locale=n.locale,
                state=n.state,
                attempts=n.attempts,
                created_at=n.created_at,
                sent_at=n.sent_at,
                last_error=n.last_error,
                content_kept=n.payload_enc is not None,
            )
            for n in requests.notices(session, request.id)
        ],
        notices_note=NOTICES_NOTE,
        decisions=[
            DecisionRecord(
                id=d.id,
                outcome=d.outcome,
                decided_at=d.decided_at,
                decided_by=d.decided_by,
                explanation=d.explanation,
                grounds=grounds_out(
                    list(
                        dict.fromkeys(
                            [*d.grounds, *(g for i in d.items for g in i.get("grounds") or [])]
                        )
                    )
                ),
                items=d.items,
                objection_until=d.objection_until,
            )
            for d in view.decisions
        ],
        extensions=view.extensions,
        tasks=_tasks(session, request, now),
        holds=[holds.view(h) for h in hold_rows],
        objections=view.objections,
    )


def assemble(
    session: Session,
    ctx: AppContext,
    request: Request,
    principal: StaffPrincipal,
    *,
    identifiers: bool,
    reason: str | None,
) -> EvidencePack:
    """The pack of `request`, its download recorded. The caller has checked the role (a CPO
    for identifiers, with a reason) and `may_see`."""
    now = ctx.clock.now()
    chain = audit.verify(session)
    # From here no change to the request can commit (every change writes an entry, and
    # entries wait for the head): the content and the entries read below are one state.
    audit.lock_head(session)
    session.refresh(request)  # as committed before the lock, not as the route first read it
    content = _content(session, ctx, request, principal, now, identifiers)
    content_json = content.model_dump(mode="json")
    earlier = _request_entries(session, request.id)
    detail = {
        "what": DOWNLOAD_WHAT,
        "identifiers": identifiers,
        "entries": len(earlier),
        "entries_digest": entries_digest([e.model_dump() for e in earlier]),
        "content_sha256": content_digest(content_json),
        "chain_ok": chain.ok,
        "chain_checked": chain.checked,
    }
    if reason is not None:
        detail["reason"] = reason
    audit.append(
        session,
        at=now,
        actor=principal.actor.label,
        action="download",
        request_id=request.id,
        ip=principal.ip,
        detail=detail,
        immediately=True,  # the pack lists its own download entry
    )
    entries = _request_entries(session, request.id)
    return EvidencePack(
        generated_at=now,
        generated_by=principal.actor.label,
        identifiers_included=identifiers,
        content=content,
        access_record=AccessRecordPart(
            entries=entries,
            chain_check=ChainCheckRecord(
                ok=chain.ok, checked=chain.checked, first_bad=chain.first_bad, problem=chain.problem
            ),
            download_seq=entries[-1].seq,
        ),
        how_to_verify=HOW_TO_VERIFY,
    )

"""Receiving and reading requests (intake/flows.py files and withdraws them across packages).
Rules live here; no HTTP, no commit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, bindparam, func, insert, or_
from sqlmodel import Session, select

from app.core.actors import Actor
from app.core.context import AppContext
from app.core.errors import NotFound, Problem, ValidationProblem
from app.core.ids import new_id
from app.law.age import is_child
from app.law.deadlines import seoul_date, statutory_due_at
from app.law.rights import RIGHTS, Channel, RequestType
from app.models import OutboxMessage, Request, TimelineEvent
from app.requests import lifecycle, pii
from app.requests.locks import lock_filers
from app.requests.reference import next_reference
from app.requests.schemas import RequestFields

_request = Request.__table__
_INSERT_REQUEST = insert(_request)


@dataclass
class Filed:
    """A request just filed: what the answer shows, and what its `request.created` event says
    of it (without loading the row on the hot path)."""

    id: str
    reference: str
    type: str
    status: str
    received_at: datetime
    due_at: datetime
    code_sent_to: str | None
    scope_detail: dict | None = None  # what a newer right names (consents, a decision)


def check_categories(ctx: AppContext, categories: list[str] | None) -> list[str]:
    known = list(ctx.profile.categories)
    if categories is None:
        return known
    unknown = [c for c in categories if c not in ctx.profile.categories]
    if unknown:
        raise ValidationProblem(
            "scope.categories",
            "unknown_category",
            f"unknown: {', '.join(unknown)}; known: {', '.join(known)}",
            detail="Unknown data category.",
        )
    return list(dict.fromkeys(categories))


def check_scope(ctx: AppContext, data: RequestFields) -> tuple[list[str], dict | None]:
    """The categories a request concerns and what else it names (Request.scope_detail), by
    type: a consent withdrawal's categories are those its consents collected; an automated
    decision's, the main data of the decision it names (none when the profile declares none)."""
    profile = ctx.profile
    if data.type is RequestType.consent_withdrawal:
        consents = list(dict.fromkeys(data.scope.consents or []))
        unknown = [c for c in consents if c not in profile.consents]
        if unknown:
            raise Problem(
                422,
                "validation-error",
                "Unknown consent.",
                errors=[
                    {
                        "field": "scope.consents",
                        "code": "unknown_consent",
                        "message": f"unknown: {', '.join(unknown)}; known: "
                        f"{', '.join(profile.consents) or 'none'} (GET /v1/profile/public)",
                    }
                ],
            )
        categories = [c for key in consents for c in profile.consents[key].categories]
        return list(dict.fromkeys(categories)), {"consents": consents}
    if data.type is RequestType.automated_decision:
        declared = profile.automated_decisions.get(data.scope.decision or "")
        detail = {"decision": data.scope.decision, "kind": data.scope.kind.value}
        return (list(declared.categories) if declared else []), detail
    if data.type is RequestType.transmission:
        return check_transmission(ctx, data.scope.categories), None
    return check_categories(ctx, data.scope.categories), None


def check_transmission(ctx: AppContext, categories: list[str] | None) -> list[str]:
    """Art. 35-2 binds only controllers meeting the Decree's criteria: a company its profile
    says is not covered refuses at filing, naming why; otherwise the transmittable categories
    (all of them by default)."""
    tx = ctx.profile.transmission
    if not tx.covered:
        why_ko = tx.criteria_ko or "시행령이 정하는 개인정보 전송 의무 대상 기준에 해당하지 않음"
        why_en = tx.criteria_en or "it does not meet the Enforcement Decree's criteria"
        raise Problem(
            422,
            "transmission-not-covered",
            f"{ctx.profile.company.name_en} is not obliged to transmit personal information "
            f"(PIPA Art. 35-2): {why_en}. You may ask for access (type access) instead, and "
            f"download the result as JSON or CSV. / {ctx.profile.company.name_ko}은(는) 개인정보 "
            f"전송 요구(개인정보 보호법 제35조의2) 대상이 아닙니다: {why_ko}. 열람을 요구하시면 "
            "결과를 JSON·CSV로 내려받으실 수 있습니다.",
            errors=[
                {
                    "field": "type",
                    "code": "transmission_not_covered",
                    "message": f"not covered by PIPA Art. 35-2: {why_en}",
                }
            ],
        )
    if categories is None:
        return list(tx.categories)
    asked = check_categories(ctx, categories)
    other = [c for c in asked if c not in tx.categories]
    if other:
        raise Problem(
            422,
            "validation-error",
            "Not transmittable.",
            errors=[
                {
                    "field": "scope.categories",
                    "code": "not_transmittable",
                    "message": f"not transmittable: {', '.join(other)}; transmittable: "
                    f"{', '.join(tx.categories)} (ask for access for the rest)",
                }
            ],
        )
    return asked


def answer_days(ctx: AppContext, request_type: str) -> int:
    """Days to answer: the Decree's, or for a transmission the profile's (default 10)."""
    if request_type == RequestType.transmission:
        return ctx.profile.transmission.days
    return RIGHTS[RequestType(request_type)].days


def _check_proxy_rules(data: RequestFields, received_at: datetime) -> None:
    """Rules that need the date of receipt: the under-14 rule (Art. 38(2)) and a power of
    attorney signed no later than the request."""
    received_on = seoul_date(received_at)
    errors = []
    birth = data.subject.birth_date
    kind = data.proxy.kind if data.proxy else "self"
    if birth is not None:
        if birth > received_on:
            errors.append(
                {"field": "subject.birth_date", "code": "future", "message": "in the future"}
            )
        elif is_child(birth, received_on) and kind != "legal_representative":
            errors.append(
                {
                    "field": "requester.kind",
                    "code": "child_needs_representative",
                    "message": "the subject is under 14: only a legal representative may file "
                    "(PIPA Art. 38(2))",
                }
            )
    poa = data.power_of_attorney
    if poa is not None and poa.signed_on > received_on:
        errors.append(
            {
                "field": "power_of_attorney.signed_on",
                "code": "future",
                "message": "signed after the request was received",
            }
        )
    if errors:
        raise Problem(
            422,
            "validation-error",
            "The request does not meet the rules for proxies.",
            errors=errors,
        )


def _filings_by(match) -> Select:
    """Filings in the last hour whose subject or proxy e-mail index `match`es."""
    return (
        select(func.count())
        .select_from(Request)
        .where(
            or_(match(Request.subject_email_bidx), match(Request.requester_email_bidx)),
            Request.created_at > bindparam("since"),
        )
    )


_RECENT_BY_FILER = _filings_by(lambda column: column == bindparam("bidx"))
# While the blind index moves to a new key (keys reindex), a filer's earlier rows may carry the
# previous key's digest: count under both. (An expanding IN leaves the driver fast path, so the
# equality above stays the everyday statement.)
_RECENT_BY_FILER_ANY = _filings_by(lambda column: column.in_(bindparam("bidx", expanding=True)))


def _unstored(session: Session) -> Counter:
    """Per blind index, the filings this transaction has checked and not yet stored."""
    transaction = session.get_transaction()
    held = session.info.get("unstored_filings")
    if held is None or held[0] is not transaction:
        held = session.info["unstored_filings"] = (transaction, Counter())
    return held[1]


def _check_flood(
    session: Session, ctx: AppContext, data: RequestFields, now: datetime, *, counted: bool
) -> None:
    email = data.filer_email()
    if not counted or email is None:
        return
    # Filings in several processes would each count only committed rows and all pass, so the
    # count runs under the locks of the addresses this filing names (the filer's, and the
    # subject's when a proxy files: both counts include it), held until commit: the next
    # filing that would count this one waits for it. Filings by other addresses do not
    # (requests/locks.py: `lock_filers`).
    named = [str(data.subject.email)] if data.subject.email else []
    since = now - timedelta(hours=1)
    if ctx.blind_index.moving:
        query, params = (
            _RECENT_BY_FILER_ANY,
            {"bidx": list(ctx.blind_index.email_candidates(email)), "since": since},
        )
    else:
        query, params = _RECENT_BY_FILER, {"bidx": ctx.blind_index.email(email), "since": since}
    counted_so_far = lock_filers(
        session,
        [ctx.blind_index.email(e) for e in {email, *named}],
        then=lambda: session.connection().execute(query, params),
    )
    recent = counted_so_far.scalar_one()
    # Filings of this transaction checked but not stored yet (a group writer's batch stores
    # its filings after checking all of them) count too.
    recent += _unstored(session)[ctx.blind_index.email(email)]
    if recent >= ctx.settings.intake_max_per_email_per_hour:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests for this e-mail address this hour; "
            "try again later or contact the privacy officer.",
            headers={"Retry-After": "3600"},
            retry_after=3600,
        )


def receive(
    session: Session,
    ctx: AppContext,
    data: RequestFields,
    *,
    channel: Channel,
    received_at: datetime,
    actor: Actor,
    now: datetime,
    identity_verified: bool = False,
    client_id: str | None = None,
    external_ref: str | None = None,
) -> Callable[[], Filed]:
    """Receive a request, in two steps; the statutory clock starts at receipt (received_at is
    the server's, or for offline requests the real time of receipt entered by staff).

    This call is the first step: it checks the request (422), counts the filer's filings this
    hour under the filer's own lock (429) and seals its row. The step it returns numbers the
    request, stores it and records its receipt: it takes the locks every filing shares (the
    reference counter, and at commit the access record's head), so the group writer runs it
    after the first step of every filing of its batch (core/group_writer.py `Later`).
    intake/flows.submit carries it on (notices, code, tasks)."""
    categories, scope_detail = check_scope(ctx, data)
    received_at = received_at.astimezone(UTC)  # stored and shown in UTC; law reckons in Seoul
    _check_proxy_rules(data, received_at)
    _check_flood(session, ctx, data, now, counted=channel in (Channel.portal, Channel.api))
    request_id = new_id("req")
    due_at = statutory_due_at(received_at, answer_days(ctx, data.type))
    row = _row(
        ctx,
        data,
        request_id=request_id,
        channel=channel,
        categories=categories,
        scope_detail=scope_detail,
        client_id=client_id,
        external_ref=external_ref,
        received_at=received_at,
        due_at=due_at,
        now=now,
    )
    filer_email = data.filer_email()
    needs_code = filer_email is not None and not identity_verified
    named = {row["subject_email_bidx"], row["requester_email_bidx"]} - {None}
    _unstored(session).update(named)

    def store() -> Filed:
        reference = next_reference(session, received_at)
        row["reference"] = reference
        session.connection().execute(_INSERT_REQUEST, row)
        _unstored(session).subtract(named)
        filed = Filed(
            request_id,
            reference,
            data.type.value,
            lifecycle.INITIAL.value,
            received_at,
            due_at,
            pii.mask_email(filer_email) if needs_code else None,
            scope_detail,
        )
        # One timeline event and one access-record entry for the whole filing (the code
        # notice is part of it), to keep the hottest path short.
        lifecycle.record(
            session,
            request_id,
            "received",
            actor=actor,
            at=now,
            status=lifecycle.INITIAL.value,
            audit_action="create",
            detail={
                "type": data.type.value,
                "channel": channel.value,
                "requester": data.proxy.kind if data.proxy else "self",
                "code_sent": needs_code,
            },
        )
        return filed

    return store


def _row(
    ctx: AppContext,
    data: RequestFields,
    *,
    request_id: str,
    channel: Channel,
    categories: list[str],
    scope_detail: dict | None,
    client_id: str | None,
    external_ref: str | None,
    received_at: datetime,
    due_at: datetime,
    now: datetime,
) -> dict:
    """The request's row but its reference, its personal data sealed (inserted by one Core
    statement: the hot path)."""
    keys, bidx = ctx.keys, ctx.blind_index
    corrections = (
        [c.model_dump() for c in data.scope.corrections] if data.scope.corrections else None
    )
    subject_email = str(data.subject.email) if data.subject.email else None
    proxy = data.proxy
    proxy_email = str(proxy.email) if proxy else None

    def seal(column: str, value) -> str | None:
        return pii.seal(keys, request_id, column, value)

    return dict(
        id=request_id,
        type=data.type.value,
        status=lifecycle.INITIAL.value,
        channel=channel.value,
        locale=data.locale,
        subject_name_enc=seal("subject_name", data.subject.name),
        subject_email_enc=seal("subject_email", subject_email),
        subject_email_bidx=bidx.email(subject_email) if subject_email else None,
        subject_phone_enc=seal("subject_phone", data.subject.phone),
        subject_birth_date_enc=seal(
            "subject_birth_date",
            data.subject.birth_date.isoformat() if data.subject.birth_date else None,
        ),
        requester_kind=proxy.kind if proxy else "self",
        requester_name_enc=seal("requester_name", proxy.name if proxy else None),
        requester_email_enc=seal("requester_email", proxy_email),
        requester_email_bidx=bidx.email(proxy_email) if proxy_email else None,
        requester_phone_enc=seal("requester_phone", proxy.phone if proxy else None),
        requester_relationship_enc=seal(
            "requester_relationship", proxy.relationship if proxy else None
        ),
        power_of_attorney_enc=seal(
            "power_of_attorney",
            data.power_of_attorney.model_dump(mode="json") if data.power_of_attorney else None,
        ),
        categories=categories,
        scope_detail=scope_detail,
        corrections_enc=seal("corrections", corrections),
        details_enc=seal("details", data.details),
        client_id=client_id,
        external_ref_enc=seal("external_ref", external_ref),
        received_at=received_at,
        due_at=due_at,
        statutory_due_at=due_at,
        created_at=now,
        updated_at=now,
        version=1,
    )


def get(session: Session, request_id: str) -> Request:
    request = session.get(Request, request_id)
    if request is None:
        raise NotFound("No such request.")
    return request


def timeline(session: Session, request_id: str) -> list[TimelineEvent]:
    return list(
        session.exec(
            select(TimelineEvent)
            .where(TimelineEvent.request_id == request_id)
            .order_by(TimelineEvent.at, TimelineEvent.id)
        )
    )


def notices(session: Session, request_id: str) -> list[OutboxMessage]:
    return list(
        session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.request_id == request_id, OutboxMessage.kind == "notice")
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    )

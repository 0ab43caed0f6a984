"""Request bodies and responses of the requests API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints, model_validator

from app.core.errors import field_error, worded
from app.core.validation import Line, Moment, StrictBody, Text
from app.law.rights import AutomatedKind, RequestType

Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=worded(
            r"^\+?[0-9][0-9 ()\-]{5,30}$",
            "must be a phone number: 6 to 31 digits, spaces, hyphens or parentheses, "
            "optionally after a +, e.g. 010-1234-5678 or +82 10 1234 5678",
        ),
    ),
]
CategoryKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class SubjectIn(StrictBody):
    name: Line(100) = Field(description="The data subject's name (정보주체 성명).")
    email: EmailStr | None = Field(
        None,
        max_length=254,
        description="Where notices and the one-time code go when the subject files; optional "
        "when a proxy files (then they go to the requester).",
    )
    phone: Phone | None = None
    birth_date: date | None = Field(
        None,
        description="Needed for a child: under 14, only a legal representative may file "
        "(PIPA Art. 38(2)). Kept encrypted.",
    )


class RequesterIn(StrictBody):
    """Who files, when it is not the subject (PIPA Art. 38(1); Decree 45)."""

    kind: Literal["self", "legal_representative", "delegate"] = Field(
        description="`legal_representative` (법정대리인, e.g. a parent) or `delegate` "
        "(위임을 받은 자, with a power of attorney); `self` is the same as leaving this out."
    )
    name: Line(100)
    email: EmailStr = Field(max_length=254, description="Codes and notices go here.")
    phone: Phone | None = None
    relationship: Line(50) | None = Field(None, description="e.g. 모(mother), 부(father), 후견인.")


class Party(StrictBody):
    name: Line(100)
    birth_date: date
    contact: Line(100) = Field(description="Phone or e-mail.")
    address: Text(300)


class Grantee(Party):
    relationship: Line(50) = Field(description="Relationship to the grantor (위임자와의 관계).")


class PowerOfAttorneyIn(StrictBody):
    """The power of attorney (위임장, PIPC notice form 11) as data: who grants, who is granted,
    what is delegated, and when it was signed. Kept encrypted."""

    grantor: Party = Field(description="위임자: the data subject.")
    grantee: Grantee = Field(description="수임자: the delegate.")
    rights: list[RequestType] = Field(
        min_length=1, max_length=7, description="The rights delegated."
    )
    scope: Text(500) | None = Field(None, description="What exactly is delegated, in words.")
    signed_on: date


class CorrectionItem(StrictBody):
    item: Line(100) = Field(description="What to correct, e.g. `phone` or `company_name`.")
    current: Text(1000) | None = Field(None, description="The value as it is now, if known.")
    requested: Text(1000) = Field(description="The value it should be.")


class ScopeIn(StrictBody):
    categories: list[CategoryKey] | None = Field(
        None,
        max_length=20,
        description="Data categories of the company profile this request concerns; all when omitted.",
    )
    corrections: list[CorrectionItem] | None = Field(
        None, max_length=50, description="For a correction (정정) only: the items to correct."
    )
    consents: list[CategoryKey] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="For a `consent_withdrawal` (동의 철회, PIPA Art. 37(1), (3)) only, and "
        "required there: the consents of the profile withdrawn (`GET /v1/profile/public`, "
        "`consents[].id`). The categories follow from them.",
    )
    decision: CategoryKey | None = Field(
        None,
        description="For an `automated_decision` (PIPA Art. 37-2) only: the decision of the "
        "profile it concerns (`automated_decisions[].id`). Leave it out, or name one the profile "
        "does not declare, and the answer says whether any fully automated decision is made.",
    )
    kind: AutomatedKind | None = Field(
        None,
        description="For an `automated_decision` only, and required there: `refuse` the "
        "decision (Art. 37-2(1)), ask for an `explain`ation, or a `review` by a person "
        "(Art. 37-2(2), (3)).",
    )


class RequestFields(StrictBody):
    """What every request carries, however it arrives."""

    type: RequestType
    subject: SubjectIn
    requester: RequesterIn | None = Field(None, description="When a proxy files.")
    power_of_attorney: PowerOfAttorneyIn | None = Field(
        None, description="Required when `requester.kind` is `delegate`."
    )
    scope: ScopeIn = Field(default_factory=ScopeIn)
    details: Text(4000) | None = Field(None, description="Anything else the subject wants to say.")
    locale: Literal["ko", "en"] = Field("ko", description="Which language leads in notices.")

    @property
    def proxy(self) -> RequesterIn | None:
        """The requester when it is someone other than the subject."""
        if self.requester is None or self.requester.kind == "self":
            return None
        return self.requester

    def filer_email(self) -> str | None:
        return (
            str(self.proxy.email)
            if self.proxy
            else (str(self.subject.email) if self.subject.email else None)
        )

    @model_validator(mode="after")
    def _rules(self) -> RequestFields:
        has = bool(self.scope.corrections)
        if self.type is RequestType.correction and not has:
            raise field_error(
                "scope.corrections",
                "a correction request lists at least one item to correct",
                "missing",
            )
        if self.type is not RequestType.correction and self.scope.corrections is not None:
            raise field_error("scope.corrections", "is only for a correction request")
        withdrawal = self.type is RequestType.consent_withdrawal
        if withdrawal and not self.scope.consents:
            raise field_error(
                "scope.consents",
                "a consent withdrawal names at least one consent of the profile",
                "missing",
            )
        if not withdrawal and self.scope.consents is not None:
            raise field_error("scope.consents", "is only for a consent_withdrawal request")
        if withdrawal and self.scope.categories is not None:
            raise field_error(
                "scope.categories",
                "a consent withdrawal's categories follow from its consents; leave it out",
            )
        automated = self.type is RequestType.automated_decision
        if automated and self.scope.kind is None:
            raise field_error(
                "scope.kind", "an automated_decision asks to refuse, explain or review", "missing"
            )
        for name in ("decision", "kind"):
            if not automated and getattr(self.scope, name) is not None:
                raise field_error(f"scope.{name}", "is only for an automated_decision request")
        r = self.requester
        subject_email = str(self.subject.email).lower() if self.subject.email else None
        if (
            r is not None
            and r.kind == "self"
            and subject_email
            and str(r.email).lower() != subject_email
        ):
            raise field_error(
                "requester.email",
                "requester.kind is self but the e-mail differs from the subject's",
            )
        if self.proxy:
            if subject_email and str(self.proxy.email).lower() == subject_email:
                raise field_error(
                    "requester.email", "a proxy's e-mail must differ from the subject's"
                )
            if not subject_email and self.proxy.name == self.subject.name:
                raise field_error(
                    "requester.name", "a proxy must be someone other than the subject"
                )
        kind = self.proxy.kind if self.proxy else "self"
        if kind == "delegate":
            if self.power_of_attorney is None:
                raise field_error(
                    "power_of_attorney", "a delegate files the power of attorney", "missing"
                )
            if self.type not in self.power_of_attorney.rights:
                raise field_error(
                    "power_of_attorney.rights",
                    f"the power of attorney does not delegate the {self.type.value} right",
                )
        elif self.power_of_attorney is not None:
            raise field_error("power_of_attorney", "is only for a delegate")
        return self


class RequestCreate(RequestFields):
    """A data subject's request (개인정보 열람·정정·삭제·처리정지 요구서, PIPC notice form 8),
    filed by the subject or a proxy."""

    @model_validator(mode="after")
    def _needs_an_address(self) -> RequestCreate:
        if self.filer_email() is None:
            raise field_error(
                "subject.email",
                "is required when the subject files: the one-time code goes there",
                "missing",
            )
        return self


class VerificationOut(BaseModel):
    sent_to: str = Field(description="The address the code went to, masked.")
    expires_in: int = Field(description="Seconds the code stays valid.")


class RequestCreated(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    received_at: datetime
    due_at: datetime = Field(description="End of the statutory period (23:59:59 Korea time).")
    due_date: date = Field(description="The last day to answer, in Korea time.")
    days_left: int
    verification: VerificationOut | None = Field(
        None, description="Where the one-time code went; null when no code was sent."
    )


class StaffRequestCreated(RequestCreated):
    version: int = Field(
        description="Send it as `If-Match` with the first action (also the `ETag` header)."
    )


class ScopeDetailOut(BaseModel):
    consents: list[str] | None = None
    decision: str | None = None
    kind: AutomatedKind | None = None


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    status: str | None = None
    note: str | None = None


class NoticeItem(BaseModel):
    template: str
    state: str
    created_at: datetime
    sent_at: datetime | None = None


class GroundOut(BaseModel):
    """A legal ground from the registry, as the subject reads it."""

    code: str = Field(description="Registry code, e.g. `PIPA-35-4-1`.")
    article: str = Field(description="The article in English, e.g. `PIPA Art. 35(4)(1)`.")
    article_ko: str = Field(
        description="The article in Korean, e.g. `개인정보 보호법 제35조제4항제1호`."
    )
    title_ko: str
    title_en: str


class DecisionItemOut(BaseModel):
    category: str
    name_ko: str | None = None
    name_en: str | None = None
    result: Literal["granted", "refused"]
    grounds: list[GroundOut]
    rule: str | None = Field(None, description="The retention rule that keeps this category.")
    law_ko: str | None = Field(None, description="The law that requires keeping it.")
    law_en: str | None = None
    period: str | None = Field(None, description="How long it is kept (ISO 8601 duration).")
    retain_until: date | None = Field(None, description="Kept until this day, where known.")


class DecisionOut(BaseModel):
    outcome: Literal["granted", "partially_granted", "refused"]
    decided_at: datetime
    explanation: str
    grounds: list[GroundOut]
    items: list[DecisionItemOut]


class ExtensionOut(BaseModel):
    due_at: datetime = Field(description="The new deadline (end of that day, Korea time).")
    due_date: date
    previous_due_at: datetime
    reason: str = Field(description="The reason given for the postponement (연기 사유).")
    extended_at: datetime


class ObjectionState(BaseModel):
    allowed: bool = Field(description="Whether `POST .../objections` is accepted now.")
    deadline: datetime | None = Field(
        None, description="The end of the window to object (이의제기 기한), when there is one."
    )
    against: Literal["decision", "rejection", "extension"] | None = Field(
        None, description="What an objection now would be against."
    )


PublicAction = Literal["withdraw", "upload_document", "object", "download_result"]


class RequestPublic(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    requester_kind: str = Field(description="`self`, `legal_representative` or `delegate`.")
    channel: str
    locale: str
    categories: list[str]
    scope_detail: ScopeDetailOut | None = Field(
        None,
        description="What a newer right names besides categories: a consent withdrawal's "
        "`consents`, an automated decision's `decision` and `kind`.",
    )
    received_at: datetime
    due_at: datetime
    due_date: date
    days_left: int | None = Field(description="Days until due_at; null once the request is closed.")
    overdue: bool
    timeline: list[TimelineItem]
    notices: list[NoticeItem]
    documents: list[DocumentOut] = Field(description="What was uploaded (never the content).")
    extension: ExtensionOut | None = Field(None, description="The latest postponement (연기).")
    decision: DecisionOut | None = Field(None, description="The decision in force, if any.")
    objection: ObjectionState
    actions: list[PublicAction] = Field(
        description="What you may do now: `withdraw` (POST .../withdraw), `upload_document` "
        "(POST .../documents), `object` (POST .../objections), `download_result` "
        "(GET .../result)."
    )
    result_available_until: datetime | None = Field(
        None,
        description="An access result can be downloaded until then; then it is destroyed "
        "(RIGHTSDESK_RESULT_TTL_DAYS after completion). Null when there is none to download.",
    )


class SignInIn(StrictBody):
    """Coming back to a request: its reference and the e-mail address it was filed with."""

    reference: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[Rr][Dd]-[0-9]{4}-[0-9]{6}$")
    ] = Field(description="The reference from the receipt notice, e.g. `RD-2026-000042`.")
    email: EmailStr = Field(
        max_length=254,
        description="The address the request was filed with (the proxy's, when a proxy filed).",
    )


class SignInAccepted(BaseModel):
    detail: str = Field(
        description="The same text whether or not the reference and address match a request."
    )
    expires_in: int = Field(description="Seconds a code stays valid, when one was sent.")


class WithdrawIn(StrictBody):
    reason: Text(1000) | None = None


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class CodeIn(StrictBody):
    code: Annotated[
        str, StringConstraints(pattern=worded(r"^[0-9]{6}$", "must be 6 digits, e.g. 048213"))
    ] = Field(description="The 6-digit code from the e-mail.")


class ResendOut(BaseModel):
    sent_to: str
    expires_in: int
    retry_after: int = Field(description="Seconds before another code may be asked for.")


# --- staff ------------------------------------------------------------------------------------


class StaffSubjectIn(SubjectIn):
    email: EmailStr | None = Field(
        None,
        max_length=254,
        description="Unknown for some letters and calls; then no e-mail notices.",
    )


class StaffRequestCreate(RequestFields):
    """A request received offline (letter, phone, fax, e-mail, in person), entered by staff."""

    channel: Literal["email", "phone", "fax", "letter", "in_person", "api"]
    received_at: Moment = Field(description="When it really arrived; the clock starts there.")
    identity_verified: bool = Field(
        False,
        description="Staff already confirmed identity (e.g. in person): the request opens at once.",
    )
    verification_method: Line(100) | None = Field(
        None, description="How identity was confirmed, when identity_verified."
    )

    @model_validator(mode="after")
    def _offline_rules(self) -> StaffRequestCreate:
        if self.received_at.tzinfo is None:
            raise field_error(
                "received_at", "needs a time-zone offset, e.g. 2026-03-02T10:00:00+09:00"
            )
        if self.identity_verified and not self.verification_method:
            raise field_error(
                "verification_method", "is required when identity_verified is true", "missing"
            )
        return self


class DuplicateOf(BaseModel):
    """The earlier request of the same subject and right that a request duplicates."""

    id: str
    reference: str


class DuplicateItem(BaseModel):
    """A later filing linked to this request (or merged into it)."""

    id: str
    reference: str
    status: str


DUPLICATE_OF = (
    "Set when the subject filed this while an earlier request of the same right was open "
    "(or kept after a merge: the request it was merged into); null otherwise. "
    "`POST /v1/staff/requests/{id}/merge` closes it into that one, "
    "`DELETE /v1/staff/requests/{id}/duplicate-of` clears it."
)


class QueueItem(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    channel: str
    received_at: datetime
    due_at: datetime
    due_date: date
    days_left: int | None = Field(description="Null once the request is closed.")
    overdue: bool
    assignee_id: str | None
    version: int
    duplicate_of: DuplicateOf | None = Field(None, description=DUPLICATE_OF)


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class SubjectOut(BaseModel):
    name: str | None = Field(description="Null once the request is purged (`purged_at`).")
    email: str | None
    phone: str | None
    birth_date: date | None = None


class RequesterOut(BaseModel):
    kind: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    relationship: str | None = None


class DocumentOut(BaseModel):
    id: str
    kind: str
    content_type: str
    size: int
    uploaded_at: datetime
    destroyed_at: datetime | None = None


class StaffTimelineItem(TimelineItem):
    actor: str
    from_status: str | None = None


class StaffNoticeItem(NoticeItem):
    id: str
    attempts: int
    last_error: str | None = None


class StaffNoteOut(BaseModel):
    kind: Literal["verification", "completion", "task"] = Field(
        description="What the note is about: the identity check, the completion, or a task."
    )
    at: datetime
    author: str = Field(description="Who wrote it, e.g. `staff:usr_…`.")
    text: str | None = Field(description="Null once the request is purged (`purged_at`).")
    task_id: str | None = Field(None, description="The task, for a task's completion note.")

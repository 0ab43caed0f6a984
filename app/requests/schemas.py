"""Request bodies and responses of the requests API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints, model_validator

from app.core.validation import Line, StrictBody, Text
from app.law.rights import RequestType
from app.workflow.schemas import DecisionPublic, ExtensionPublic, ObjectionPublic, TaskPublic

Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-]{5,30}$"),
]
CategoryKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class SubjectIn(StrictBody):
    name: Line(100) = Field(description="The data subject's name (정보주체 성명).")
    email: EmailStr = Field(max_length=254, description="Where notices and the one-time code go.")
    phone: Phone | None = None


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


class RequestCreate(StrictBody):
    """A data subject's request (개인정보 열람·정정·삭제·처리정지 요구서, PIPC notice form 8)."""

    type: RequestType
    subject: SubjectIn
    scope: ScopeIn = Field(default_factory=ScopeIn)
    details: Text(4000) | None = Field(None, description="Anything else the subject wants to say.")
    locale: Literal["ko", "en"] = Field("ko", description="Which language leads in notices.")

    @model_validator(mode="after")
    def _corrections_fit_type(self) -> RequestCreate:
        has = bool(self.scope.corrections)
        if self.type is RequestType.correction and not has:
            raise ValueError("a correction request lists at least one item in scope.corrections")
        if self.type is not RequestType.correction and self.scope.corrections is not None:
            raise ValueError("scope.corrections is only for a correction request")
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


class RequestPublic(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    channel: str
    locale: str
    categories: list[str]
    received_at: datetime
    due_at: datetime
    due_date: date
    days_left: int
    overdue: bool
    timeline: list[TimelineItem]
    notices: list[NoticeItem]


class WithdrawIn(StrictBody):
    reason: Text(1000) | None = None


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class CodeIn(StrictBody):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] = Field(
        description="The 6-digit code from the e-mail."
    )


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


class StaffRequestCreate(RequestCreate):
    """A request received offline (letter, phone, fax, e-mail, in person), entered by staff."""

    subject: StaffSubjectIn
    channel: Literal["email", "phone", "fax", "letter", "in_person", "api"]
    received_at: datetime = Field(description="When it really arrived; the clock starts there.")
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
            raise ValueError("received_at needs a time-zone offset")
        if self.identity_verified and not self.verification_method:
            raise ValueError("verification_method is required when identity_verified is true")
        return self


class QueueItem(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    channel: str
    received_at: datetime
    due_at: datetime
    due_date: date
    days_left: int
    overdue: bool
    assignee_id: str | None
    version: int


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None


class SubjectOut(BaseModel):
    name: str
    email: str | None
    phone: str | None


class StaffTimelineItem(TimelineItem):
    actor: str
    from_status: str | None = None


class StaffNoticeItem(NoticeItem):
    id: str
    attempts: int
    last_error: str | None = None


class RequestStaffView(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    channel: str
    locale: str
    version: int
    subject: SubjectOut
    categories: list[str]
    corrections: list[dict] | None
    details: str | None
    received_at: datetime
    due_at: datetime
    statutory_due_at: datetime
    due_date: date
    days_left: int
    overdue: bool
    verified_at: datetime | None
    closed_at: datetime | None
    assignee_id: str | None
    allowed_actions: list[str]
    timeline: list[StaffTimelineItem]
    tasks: list[TaskPublic]
    decisions: list[DecisionPublic]
    extensions: list[ExtensionPublic]
    objections: list[ObjectionPublic]
    notices: list[StaffNoticeItem]

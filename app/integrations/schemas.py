"""What integration clients and the CPO's client administration send and get."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.core.validation import Line, StrictBody
from app.law.rights import RequestType
from app.requests.schemas import GroundOut, RequestCreate
from app.workflow.schemas import TaskCompleteIn

Scope = Literal["requests:write", "requests:read", "requests:verified", "tasks:read", "tasks:write"]
SystemName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]


# --- clients (staff) ---------------------------------------------------------------------------


class ClientCreate(StrictBody):
    name: Line(80) = Field(description="Who this client is, e.g. `Shop app` or `NICE Payments`.")
    scopes: list[Scope] = Field(min_length=1, max_length=5)
    systems: list[SystemName] = Field(
        default_factory=list,
        max_length=50,
        description="Systems or processors (as the profile names them) whose tasks the client "
        "sees and confirms; required with tasks:read or tasks:write.",
    )


class ClientPublic(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    systems: list[str]
    active: bool
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    revoked_at: datetime | None


class ClientCredentials(ClientPublic):
    client_secret: str = Field(
        description="Shown once: store it now. Only a keyed hash is kept; rotate if it is lost."
    )


class ClientList(BaseModel):
    items: list[ClientPublic]
    next_cursor: str | None


# --- requests ----------------------------------------------------------------------------------


class IntegrationRequestCreate(RequestCreate):
    """The public request body, plus what an integration knows."""

    external_ref: Line(100) | None = Field(
        None, description="Your own reference for this request (your ticket or case id)."
    )
    identity_verified: bool = Field(
        False,
        description="The subject is logged in to your product and you vouch for who they "
        "are (needs the requests:verified scope): no code is sent, the request opens at once.",
    )


class IntegrationCreated(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    received_at: datetime
    due_at: datetime
    due_date: date
    days_left: int
    external_ref: str | None
    code_sent_to: str | None = Field(
        None, description="Where the one-time code went (masked); null when none was sent."
    )


class IntegrationDecisionItem(BaseModel):
    category: str
    result: str
    grounds: list[GroundOut]
    retain_until: date | None = None


class IntegrationDecision(BaseModel):
    """The decision, without its free-text explanation (written for the subject, who reads
    it in the portal or in the notice)."""

    outcome: str
    decided_at: datetime
    grounds: list[GroundOut]
    items: list[IntegrationDecisionItem]


class IntegrationRequestView(BaseModel):
    id: str
    reference: str
    type: RequestType
    status: str
    external_ref: str | None
    received_at: datetime
    due_at: datetime
    due_date: date
    days_left: int | None = Field(description="Null once the request is closed.")
    closed_at: datetime | None
    decision: IntegrationDecision | None


# --- tasks -------------------------------------------------------------------------------------


class IntegrationTask(BaseModel):
    id: str
    request_id: str
    reference: str
    request_type: RequestType
    kind: Literal["fulfil", "collect"]
    action: Literal[
        "delete", "suspend", "correct", "collect", "stop", "stop_applying", "explain", "review"
    ] = Field(
        description="What the system is to do with the subject's data in this category; "
        "`stop`: stop the processing the withdrawn `consents` allowed (category null); for an "
        "automated `decision`: `stop_applying` it to the subject (or re-decide with a person), "
        "`explain` it (return the result and the main data used), `review` it by a person."
    )
    consents: list[str] | None = Field(
        None, description="For a consent withdrawal: the consents withdrawn (profile ids)."
    )
    decision: str | None = Field(
        None, description="For an automated decision: the profile's decision it concerns."
    )
    category: str | None
    system: str
    status: str
    due_at: datetime
    days_left: int
    created_at: datetime
    completed_at: datetime | None
    outcome: Literal["done", "not_found", "failed"] | None


class IntegrationTaskList(BaseModel):
    items: list[IntegrationTask]
    next_cursor: str | None


class SubjectIdentifiers(BaseModel):
    """Shown only while the task is to be done (`open`, or `failed` and to be redone): each is
    null once the task is done, waived or cancelled, and once the request is purged (its
    personal data destroyed after the retention period, PIPA Art. 21)."""

    name: str | None = Field(
        None, description="Null once the task is done, waived or cancelled, or purged."
    )
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None


class CorrectionOut(BaseModel):
    item: str
    current: str | None = None
    requested: str


class IntegrationTaskDetail(IntegrationTask):
    """A task with what the system needs to find the subject's data (personal data: each read
    is in the access record)."""

    subject: SubjectIdentifiers
    corrections: list[CorrectionOut] | None = Field(
        None,
        description="For a correction: the items to change and their requested values; null "
        "once the task is done, waived or cancelled, and once the request is purged.",
    )


class TaskConfirmIn(TaskCompleteIn):
    """As the staff task completion: `{outcome: done|not_found|failed, note?, data?}`."""

"""What `evidence.json` holds (the report is its readable rendering)."""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, Field

from app.requests.schemas import DocumentOut, GroundOut, RequesterOut, StaffTimelineItem
from app.retention.schemas import HoldPublic
from app.workflow.schemas import ExtensionPublic, ObjectionPublic, TaskPublic

PACK_FORMAT = "rightsdesk-evidence/1"
REASON_MAX = 200  # characters: one line in the access record
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_reason(value: str | None) -> str | None:
    """Why a CPO includes identifiers in a pack, as it goes into the access record: one line of
    text (no control characters), not blank, at most REASON_MAX characters; None stays None.
    The API's query parameter and the console's form both check it here."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("give the reason for including identifiers")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters or line breaks")
    if len(value) > REASON_MAX:
        raise ValueError(f"at most {REASON_MAX} characters")
    return value


class Identifiers(BaseModel):
    """Who the request is about and who filed it: only when a CPO asked, with a reason."""

    subject_name: str | None
    subject_email: str | None
    subject_phone: str | None
    requester: RequesterOut
    details: str | None = None
    corrections: list | dict | None = None


class Facts(BaseModel):
    id: str
    reference: str
    type: str
    status: str
    channel: str
    locale: str
    requester_kind: str
    categories: list[str] | None
    received_at: datetime
    statutory_due_at: datetime | None
    due_at: datetime
    due_date: date
    verified_at: datetime | None
    closed_at: datetime | None
    purged_at: datetime | None
    assignee_id: str | None
    documents: list[DocumentOut]
    identifiers: Identifiers | None = Field(
        None, description="Only for a CPO who asked (`identifiers=true`) and gave a reason."
    )


class NoticeSent(BaseModel):
    id: str
    template: str
    locale: str
    state: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    content_kept: bool = Field(
        description="Whether the outbox still holds the encrypted payload (only while it waits "
        "to be sent): a delivered notice's content is erased, so the pack cannot show it."
    )


class DecisionRecord(BaseModel):
    id: str
    outcome: str
    decided_at: datetime
    decided_by: str
    explanation: str | None
    grounds: list[GroundOut]
    items: list[dict]
    objection_until: datetime | None


class TaskRecord(TaskPublic):
    note_given: bool
    waived: bool


class Content(BaseModel):
    """The request's record: covered by `content_sha256` in the download's own entry."""

    facts: Facts
    timeline: list[StaffTimelineItem]
    notices: list[NoticeSent]
    notices_note: str
    decisions: list[DecisionRecord]
    extensions: list[ExtensionPublic]
    tasks: list[TaskRecord]
    holds: list[HoldPublic]
    objections: list[ObjectionPublic]


class EntryRecord(BaseModel):
    """An access-record entry as hashed: `at` is the exact text the hash covers."""

    seq: int
    at: str
    actor: str
    action: str
    request_id: str | None
    ip: str | None
    detail: dict
    prev_hash: str
    hash: str


class ChainCheckRecord(BaseModel):
    ok: bool
    checked: int
    first_bad: int | None = None
    problem: str | None = None


class AccessRecordPart(BaseModel):
    entries: list[EntryRecord] = Field(
        description="The request's entries in order; the last is this download itself."
    )
    chain_check: ChainCheckRecord = Field(
        description="The whole chain checked, base to head, just before this download."
    )
    download_seq: int


class EvidencePack(BaseModel):
    format: str = PACK_FORMAT
    generated_at: datetime
    generated_by: str
    identifiers_included: bool
    content: Content
    access_record: AccessRecordPart
    how_to_verify: str

"""Work handed to people and processors: verify a proxy, decide, fulfil, review an objection."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_status_due_at_id", "status", "due_at", "id"),
        Index("ix_task_assignee_id_status_due_at", "assignee_id", "status", "due_at"),
        Index("ix_task_request_id", "request_id"),
    )

    id: str = Field(primary_key=True, max_length=32)
    request_id: str = Field(
        sa_column=Column(String(32), ForeignKey("request.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=24)  # verify | decide | fulfil | review_objection
    # For fulfilment: which data category, and which system or processor (수탁자) holds it.
    category: str | None = Field(default=None, max_length=40)
    system: str | None = Field(default=None, max_length=40)
    # For fulfilment: what the plan asks of the system (delete, suspend, correct, collect, stop
    # processing on a withdrawn consent, stop applying or re-decide an automated decision…).
    action: str | None = Field(default=None, max_length=16)
    assignee_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("staff_user.id", ondelete="SET NULL")),
    )
    # open | done | failed | waived | cancelled (a failed task blocks completion until it is
    # redone or the CPO waives it with a reason)
    status: str = Field(default="open", max_length=12)
    due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    completed_by: str | None = Field(default=None, max_length=80)
    note_enc: str | None = None  # may hold personal data: encrypted
    outcome: str | None = Field(default=None, max_length=12)  # done | not_found | failed
    data_enc: str | None = None  # what a collect task returned (access): encrypted JSON
    waived_reason_enc: str | None = None  # why the CPO waived a failed task: encrypted

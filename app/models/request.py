"""A data subject's rights request (정보주체의 권리 행사 요구). Personal data columns end in
`_enc` (AES-GCM, see core/crypto.py); `subject_email_bidx` is the keyed blind index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime

# Optimistic concurrency: the ORM adds `WHERE version = <old>` to every UPDATE, so a change
# made from a stale copy fails instead of overwriting (staff send If-Match: <version>).
_version = Column("version", Integer, nullable=False)


class Request(SQLModel, table=True):
    __tablename__ = "request"
    __table_args__ = (
        # The queue: every filter ends in (due_at, id), the sort order and the cursor, so a
        # page is an index seek however deep it is (bench/README.md, "Queue").
        Index("ix_request_due_at_id", "due_at", "id"),
        Index("ix_request_status_due_at_id", "status", "due_at", "id"),
        Index("ix_request_type_due_at_id", "type", "due_at", "id"),
        Index("ix_request_assignee_id_due_at_id", "assignee_id", "due_at", "id"),
        # Open requests only (closed_at is stamped exactly when a request closes): overdue,
        # and the working statuses, without walking the closed history.
        Index(
            "ix_request_open_due_at_id",
            "due_at",
            "id",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        # Requests waiting for their code, oldest first: the expiry of unverified filings
        # (workflow/service.py reject_unverified) is a range seek, not a read of every one.
        Index("ix_request_status_created_at", "status", "created_at"),
        # The purge's work list: closed requests whose personal data is still held.
        Index(
            "ix_request_unpurged_closed_at",
            "closed_at",
            sqlite_where=text("closed_at IS NOT NULL AND purged_at IS NULL"),
            postgresql_where=text("closed_at IS NOT NULL AND purged_at IS NULL"),
        ),
        # The duplicate check at filing (requests/duplicates.py): the subject's open requests
        # of one type, oldest first, in one seek of the open rows only.
        Index(
            "ix_request_open_subject_type",
            "subject_email_bidx",
            "type",
            "created_at",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        # The staff view of a request lists the filings linked to it (few rows have a link).
        Index(
            "ix_request_duplicate_of",
            "duplicate_of",
            sqlite_where=text("duplicate_of IS NOT NULL"),
            postgresql_where=text("duplicate_of IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=32)
    reference: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    type: str = Field(max_length=24)
    status: str = Field(max_length=24)
    channel: str = Field(max_length=16)
    locale: str = Field(max_length=2)
    # None once purged (RIGHTSDESK_REQUEST_RETENTION_DAYS after closing): see purged_at.
    subject_name_enc: str | None = None
    # Offline requests (letter, phone) may come without an e-mail address.
    subject_email_enc: str | None = None
    subject_email_bidx: str | None = Field(default=None, max_length=64, index=True)
    subject_phone_enc: str | None = None
    subject_birth_date_enc: str | None = None  # for the under-14 rule (Art. 38(2))
    # Who filed (PIPA Art. 38(1)): the subject, a legal representative (법정대리인) or a
    # delegate (위임을 받은 자). Codes and notices go to the requester.
    requester_kind: str = Field(
        default="self", sa_column=Column(String(24), nullable=False, server_default="self")
    )
    requester_name_enc: str | None = None
    requester_email_enc: str | None = None
    requester_email_bidx: str | None = Field(default=None, max_length=64, index=True)
    requester_phone_enc: str | None = None
    requester_relationship_enc: str | None = None
    # The power of attorney (위임장, PIPC notice form 11) as structured data, encrypted.
    power_of_attorney_enc: str | None = None
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    corrections_enc: str | None = None
    # What the newer rights name besides categories (no personal data): a consent withdrawal's
    # consents ({"consents": [...]}, Art. 37(1), (3)); an automated decision's decision and kind
    # ({"decision": ..., "kind": refuse|explain|review}, Art. 37-2).
    scope_detail: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    details_enc: str | None = None
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The deadline in force (moved by extensions) and the one the law first set.
    due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    statutory_due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    assignee_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("staff_user.id", ondelete="SET NULL")),
    )
    # Filed by an integration client (channel `api`): only that client reads it back, by id,
    # and its own reference for the request is kept (encrypted: it may name a customer).
    client_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("api_client.id", ondelete="SET NULL")),
    )
    external_ref_enc: str | None = None
    # A later filing by the same subject for the same right while this one was open: linked at
    # filing (requests/duplicates.py), merged or unlinked by staff (workflow/duplicates.py).
    duplicate_of: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("request.id", ondelete="SET NULL")),
    )
    verified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # When the personal data was destroyed, the retention period after closing having run
    # out; the reference, type, dates, timeline shape and access record stay.
    purged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    version: int = Field(default=1, sa_column=_version)

    __mapper_args__ = {"version_id_col": _version, "version_id_generator": False}

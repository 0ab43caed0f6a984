"""The access record (접속기록, PIPC safety-measures standard): one hash chain.

Each entry stores the hash of the entry before it and the hash of its own content, so a
changed, deleted or reordered entry breaks the chain. `audit_head` is a single row that
writers lock to append, so concurrent transactions cannot fork the chain.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_request_id", "request_id"),
        Index("ix_audit_entry_at", "at"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=80)  # account id: "subject:<request>", "staff:<user>", "system"
    action: str = Field(max_length=40)  # view, create, change, delete, download, login …
    request_id: str | None = Field(default=None, max_length=32)  # whose data
    ip: str | None = Field(default=None, max_length=64)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    hash: str = Field(max_length=64)
    # Where the chain now starts: entries up to base_seq were removed once older than
    # RIGHTSDESK_AUDIT_RETENTION_DAYS, and base_hash is the hash of the last one removed, so
    # the entries kept still link to it (all zeros while nothing was ever removed).
    base_seq: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0")
    )
    base_hash: str = Field(
        default="0" * 64,
        sa_column=Column(String(64), nullable=False, server_default="0" * 64),
    )

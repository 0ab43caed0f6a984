"""Tables whose destroyed data may still be in the database's files (issue 21.1, PIPA Art.
21(3)): on PostgreSQL a VACUUM after each destruction batch frees the dead tuples, but their
bytes stay in the pages' free space until the table is rewritten (`rightsdesk scrub`, VACUUM
FULL). One row per table destroyed in since its last rewrite; SQLite never has a row (its
checkpoint with secure_delete already zeroes what was destroyed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class ScrubPending(SQLModel, table=True):
    __tablename__ = "scrub_pending"

    table_name: str = Field(sa_column=Column(String(63), primary_key=True))
    # Destruction batches that wrote into the table since its last rewrite.
    destructions: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    # The first of them (the oldest destroyed data that may be on disk) and the last.
    since: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))

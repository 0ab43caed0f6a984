"""Progress of a long maintenance job (key rotation, blind-index move), so that it can be
stopped and resumed where it stopped, and so that its progress can be shown."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class MaintenanceJob(SQLModel, table=True):
    __tablename__ = "maintenance_job"

    # e.g. "keys.rotate:<kid>" or "keys.reindex:<fingerprint of the new key>"
    name: str = Field(sa_column=Column(String(80), primary_key=True))
    # Where to resume: per table, the last primary key done ({"request": "req_…", …}).
    cursor: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    done: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))

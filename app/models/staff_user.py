"""Staff accounts: the CPO (개인정보 보호책임자), handlers (담당자) and auditors.

Passwords are argon2 hashes. Repeated failed log-ins lock the account for a while (PIPC
safety-measures standard: lock after repeated failures).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: str = Field(primary_key=True, max_length=32)
    email: str = Field(sa_column=Column(String(254), nullable=False, unique=True))
    role: str = Field(max_length=16)  # cpo | handler | auditor
    password_hash: str = Field(max_length=255)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))

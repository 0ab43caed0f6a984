"""Integration clients: the company's own systems and its processors (수탁자) that file requests
and confirm tasks through the API (OAuth2 client credentials).

The secret is kept only as a keyed hash. `generation` is in every token the client gets;
rotating the secret bumps it and revoking clears `active`, so either ends the old tokens at
once (each call re-reads this row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class ApiClient(SQLModel, table=True):
    __tablename__ = "api_client"

    id: str = Field(primary_key=True, max_length=32)  # the client_id
    name: str = Field(max_length=80)
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # The systems or processors (as the profile names them) whose tasks this client sees.
    systems: list[str] = Field(sa_column=Column(JSON, nullable=False))
    secret_hash: str = Field(max_length=64)
    generation: int = 1
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=80)
    rotated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))

"""Outgoing notices and webhooks, written in the business transaction and delivered by a
worker, so nothing acknowledged is lost on a crash. The payload is encrypted while it waits
and erased once delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)  # notice | webhook
    template: str = Field(max_length=40)  # receipt, verification_code, … (no personal data)
    request_id: str | None = Field(default=None, max_length=32, index=True)
    locale: str = Field(default="ko", max_length=2)
    payload_enc: str | None = None
    state: str = Field(default="pending", max_length=12)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, max_length=200)
    # Who holds the lease (a random token per claim): only the holder may record the result,
    # so a worker whose lease ran out cannot mark sent what another worker has reclaimed.
    claim_token: str | None = Field(default=None, max_length=32)
    # Where a copy of the sent message stays on this host: the file sender's folder (a path,
    # no personal data). The purge destroys the copy there even after RIGHTSDESK_NOTIFY_DIR
    # has moved (PIPA Art. 21(3)); None for senders that keep nothing (SMTP).
    delivered_to: str | None = Field(default=None, max_length=1024)

"""outbox_message.delivered_to: where the file sender left a message's copy

Revision ID: 5b0e7d21c9a4
Revises: 3f1a8d2c9b57
Create Date: 2026-12-07 15:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b0e7d21c9a4"
down_revision: str | None = "3f1a8d2c9b57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("delivered_to", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("delivered_to")

"""the newer rights (issue 18): request.scope_detail, task.action

Revision ID: 5e18a0c1d2b3
Revises: ae45c0791e9e
Create Date: 2026-12-07 04:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5e18a0c1d2b3"
down_revision: str | None = "ae45c0791e9e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_detail", sa.JSON(), nullable=True))
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("action")
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_column("scope_detail")

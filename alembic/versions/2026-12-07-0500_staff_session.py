"""staff session

Revision ID: 7c2d9e41a6f0
Revises: 18c451a3f87c
Create Date: 2026-12-07 05:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

import app.models.base


revision: str = '7c2d9e41a6f0'
down_revision: str | None = '18c451a3f87c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_session',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_staff_session_user_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_session'))
    )
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.create_index('ix_staff_session_user_id_ended_at', ['user_id', 'ended_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_session_user_id_ended_at')

    op.drop_table('staff_session')

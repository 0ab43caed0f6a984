"""duplicate_of and the merged status

A later filing by the same subject for the same right while an earlier one is open is linked
to it (`request.duplicate_of`); staff merge it (status `merged`, a closed status: `closed_at`
is stamped, so the partial indexes of open requests leave it out) or unlink it. The partial
index serves the check at filing: the subject's open requests of one type, oldest first; the
other, the staff view's list of the filings linked to a request.

Revision ID: 3f1a8d2c9b57
Revises: 7c2d9e41a6f0
Create Date: 2026-12-07 15:10:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3f1a8d2c9b57'
down_revision: str | None = '7c2d9e41a6f0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_request_duplicate_of_request'),
            'request',
            ['duplicate_of'],
            ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_index(
            'ix_request_open_subject_type',
            ['subject_email_bidx', 'type', 'created_at'],
            unique=False,
            sqlite_where=sa.text('closed_at IS NULL'),
            postgresql_where=sa.text('closed_at IS NULL'),
        )
        batch_op.create_index(
            'ix_request_duplicate_of',
            ['duplicate_of'],
            unique=False,
            sqlite_where=sa.text('duplicate_of IS NOT NULL'),
            postgresql_where=sa.text('duplicate_of IS NOT NULL'),
        )


def downgrade() -> None:
    with op.batch_alter_table('request', schema=None) as batch_op:
        batch_op.drop_index(
            'ix_request_duplicate_of',
            sqlite_where=sa.text('duplicate_of IS NOT NULL'),
            postgresql_where=sa.text('duplicate_of IS NOT NULL'),
        )
        batch_op.drop_index(
            'ix_request_open_subject_type',
            sqlite_where=sa.text('closed_at IS NULL'),
            postgresql_where=sa.text('closed_at IS NULL'),
        )
        batch_op.drop_constraint(batch_op.f('fk_request_duplicate_of_request'), type_='foreignkey')
        batch_op.drop_column('duplicate_of')

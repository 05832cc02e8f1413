"""access record: the screen each call with customer credentials served

Two nullable columns on ``audit_log``: ``screen`` (listings, product, offer, agreement, change set,
listing update, production setup, other) and ``screen_subject`` (the id of what the screen opened).
Rows written before this revision have neither; the access record places them by operation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screen', sa.Enum('listings', 'product', 'offer', 'agreement', 'change set', 'listing update', 'production setup', 'other', name='screenkind', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('screen_subject', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('screen_subject')
        batch_op.drop_column('screen')

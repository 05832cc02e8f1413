"""exchange lease: the token exchange becomes a lease with attempts and a recorded outcome

A claim on the exchange is now a lease (claim id, claimed at, lease until), so a worker that
dies mid-exchange is taken over once its lease runs out. The attempt count, the token's
ExpiresAt and AWS's error code let the rep see "retrying, attempt n" or the final reason.
Rows left ``claimed`` by a dead worker before this revision have no lease (NULL), which the
claim treats as expired, so the next redelivery takes them over.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import vell_core.domain.models


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('delegation_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exchange_claim_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('exchange_claimed_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('exchange_lease_until', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('exchange_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('exchange_token_expires_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('exchange_error_code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE delegation_requests SET exchange_state = 'unknown' WHERE exchange_state = 'retrying'")
    with op.batch_alter_table('delegation_requests', schema=None) as batch_op:
        batch_op.drop_column('exchange_error_code')
        batch_op.drop_column('exchange_token_expires_at')
        batch_op.drop_column('exchange_attempts')
        batch_op.drop_column('exchange_lease_until')
        batch_op.drop_column('exchange_claimed_at')
        batch_op.drop_column('exchange_claim_id')

"""metrics rollup: counts per day, week and month behind the Leadership metrics

Three tables kept by ``FunnelRecorder`` (and the ticket store) with every write:
``metrics_rollup`` (counts per family, grain, bucket, rep, path, segment and outcome),
``metrics_sync_values`` (each first sync's value by fine bin, for exact medians) and
``metrics_exceptions`` (sessions and customers the metrics read per row). Also an index on
``funnel_sessions.production_at`` for the late-milestone probe and a covering index for the trial scan. Backfilled here from
``funnel_sessions`` and ``support_tickets`` with the same code the seed and the benchmark use.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('metrics_rollup',
    sa.Column('family', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('grain', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.Integer(), nullable=False),
    sa.Column('rep', sa.Integer(), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('segment', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('k1', sa.Integer(), nullable=False),
    sa.Column('k2', sa.Integer(), nullable=False),
    sa.Column('week', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('family', 'grain', 'bucket', 'rep', 'path', 'segment', 'k1', 'k2', name=op.f('pk_metrics_rollup')),
    sqlite_with_rowid=False,
    )
    op.create_table('metrics_sync_values',
    sa.Column('wizard_session_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('fine_bin', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('wizard_session_id', name=op.f('pk_metrics_sync_values'))
    )
    with op.batch_alter_table('metrics_sync_values', schema=None) as batch_op:
        batch_op.create_index('ix_metrics_sync_values_bin_day', ['fine_bin', 'day', 'value'], unique=False)
    op.create_table('metrics_exceptions',
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'key', name=op.f('pk_metrics_exceptions'))
    )
    with op.batch_alter_table('funnel_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_funnel_sessions_production_at', ['production_at'], unique=False)
    with op.batch_alter_table('delegation_requests', schema=None) as batch_op:
        batch_op.create_index('ix_delegation_requests_trial_cover', ['type', 'aws_account_id', 'expires_at', 'approved_at', 'user_id'], unique=False)

    # Backfill with the same code the seed and the benchmark use (funnel_sessions is complete
    # here: revision 0004 built it).
    from vell_core.store.rollup import rebuild_rollup

    rebuild_rollup(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('delegation_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_delegation_requests_trial_cover')
    with op.batch_alter_table('funnel_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_funnel_sessions_production_at')
    op.drop_table('metrics_exceptions')
    with op.batch_alter_table('metrics_sync_values', schema=None) as batch_op:
        batch_op.drop_index('ix_metrics_sync_values_bin_day')
    op.drop_table('metrics_sync_values')
    op.drop_table('metrics_rollup')

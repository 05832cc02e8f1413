"""metrics summary: funnel_sessions (one row per wizard session) and the metrics' indexes

Also makes (wizard_session_id, step) unique on funnel_events — the recorder always meant a
step to count once per session; older duplicates (if any) are removed first, keeping the
first one recorded — and backfills funnel_sessions from the events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import vell_core.domain.models


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('funnel_sessions',
    sa.Column('wizard_session_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('customer', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('rep', sa.Integer(), nullable=True),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('segment', sa.Enum('smb', 'mid_market', 'enterprise', name='customersegment', native_enum=False, length=20), nullable=True),
    sa.Column('started_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('account_info_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('choose_path_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('request_sent_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('approved_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('connected_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('first_sync_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('first_sync_seconds', sa.Float(), nullable=True),
    sa.Column('production_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('wizard_session_id', name=op.f('pk_funnel_sessions'))
    )
    with op.batch_alter_table('funnel_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_funnel_sessions_customer_path_connected_at', ['customer', 'path', 'connected_at'], unique=False)
        batch_op.create_index('ix_funnel_sessions_customer_production_at', ['customer', 'production_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_funnel_sessions_first_sync_at'), ['first_sync_at'], unique=False)
        batch_op.create_index('ix_funnel_sessions_path_connected_at', ['path', 'connected_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_funnel_sessions_started_at'), ['started_at'], unique=False)

    # A step counts once per session: drop later duplicates, then let the index enforce it.
    op.execute(
        "DELETE FROM funnel_events WHERE id NOT IN ("
        "SELECT keep FROM (SELECT min(id) AS keep FROM funnel_events "
        "GROUP BY wizard_session_id, step) AS firsts)"
    )
    with op.batch_alter_table('funnel_events', schema=None) as batch_op:
        batch_op.create_index('ux_funnel_events_session_step', ['wizard_session_id', 'step'], unique=True)

    with op.batch_alter_table('delegation_requests', schema=None) as batch_op:
        batch_op.create_index('ix_delegation_requests_type_expires_at', ['type', 'expires_at'], unique=False)

    with op.batch_alter_table('support_tickets', schema=None) as batch_op:
        batch_op.create_index('ix_support_tickets_category_opened_at', ['category', 'opened_at'], unique=False)

    # Backfill with the same code the seed and the benchmark use.
    from vell_core.store.funnel import rebuild_summary

    rebuild_summary(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('support_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_support_tickets_category_opened_at')

    with op.batch_alter_table('delegation_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_delegation_requests_type_expires_at')

    with op.batch_alter_table('funnel_events', schema=None) as batch_op:
        batch_op.drop_index('ux_funnel_events_session_step')

    with op.batch_alter_table('funnel_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funnel_sessions_started_at'))
        batch_op.drop_index('ix_funnel_sessions_path_connected_at')
        batch_op.drop_index(batch_op.f('ix_funnel_sessions_first_sync_at'))
        batch_op.drop_index('ix_funnel_sessions_customer_production_at')
        batch_op.drop_index('ix_funnel_sessions_customer_path_connected_at')

    op.drop_table('funnel_sessions')

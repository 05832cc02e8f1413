"""promotion runs: resumable promotion of a delegation to a permanent bounded role

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import vell_core.domain.models


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('promotion_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_delegation_id', sa.Integer(), nullable=False),
    sa.Column('work_delegation_id', sa.Integer(), nullable=True),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('aws_account_id', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('company', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('role_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('role_arn', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
    sa.Column('onboarding_launch_token', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('status', sa.Enum('running', 'waiting', 'failed', 'done', name='promotionstatus', native_enum=False, length=20), nullable=False),
    sa.Column('current_step', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('steps', sa.JSON(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('lease_expires_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('started_by_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', vell_core.domain.models.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("length(aws_account_id) = 12 AND ltrim(aws_account_id, '0123456789') = ''", name=op.f('ck_promotion_runs_account_12_digits')),
    sa.ForeignKeyConstraint(['connection_id'], ['cloud_connections.id'], name=op.f('fk_promotion_runs_connection_id_cloud_connections')),
    sa.ForeignKeyConstraint(['source_delegation_id'], ['delegation_requests.id'], name=op.f('fk_promotion_runs_source_delegation_id_delegation_requests')),
    sa.ForeignKeyConstraint(['started_by_user_id'], ['staff_users.id'], name=op.f('fk_promotion_runs_started_by_user_id_staff_users')),
    sa.ForeignKeyConstraint(['work_delegation_id'], ['delegation_requests.id'], name=op.f('fk_promotion_runs_work_delegation_id_delegation_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_runs')),
    sa.UniqueConstraint('role_name', name=op.f('uq_promotion_runs_role_name')),
    sa.UniqueConstraint('source_delegation_id', name=op.f('uq_promotion_runs_source_delegation_id'))
    )
    with op.batch_alter_table('promotion_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promotion_runs_aws_account_id'), ['aws_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotion_runs_connection_id'), ['connection_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('promotion_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promotion_runs_connection_id'))
        batch_op.drop_index(batch_op.f('ix_promotion_runs_aws_account_id'))

    op.drop_table('promotion_runs')

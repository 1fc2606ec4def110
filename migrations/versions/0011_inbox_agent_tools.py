"""Agent inbox tools: canned responses, labels, agent availability.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import niaga.db.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_labels',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbox_labels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_inbox_labels')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_inbox_labels_name')
    )
    op.create_table('inbox_settings',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('auto_assign', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbox_settings_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_inbox_settings')),
    sa.UniqueConstraint('tenant_id', name='uq_inbox_settings_tenant')
    )
    op.create_table('inbox_agent_states',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('max_open', sa.Integer(), nullable=False),
    sa.Column('last_assigned_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'user_id'], ['users.tenant_id', 'users.id'], name='fk_inbox_agent_states_user_id_users', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbox_agent_states_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_inbox_agent_states')),
    sa.UniqueConstraint('tenant_id', 'user_id', name='uq_inbox_agent_states_user')
    )
    op.create_table('inbox_canned_responses',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('shortcut', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('body', sa.String(length=4096), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'created_by'], ['users.tenant_id', 'users.id'], name='fk_inbox_canned_responses_created_by_users'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbox_canned_responses_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_inbox_canned_responses')),
    sa.UniqueConstraint('tenant_id', 'shortcut', name='uq_inbox_canned_responses_shortcut')
    )


def downgrade() -> None:
    op.drop_table('inbox_canned_responses')
    op.drop_table('inbox_agent_states')
    op.drop_table('inbox_settings')
    op.drop_table('inbox_labels')

"""Consent ledger and processing restrictions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import niaga.db.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_events',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('policy_version', sa.String(length=40), nullable=False),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('by_guardian', sa.Boolean(), nullable=False),
    sa.Column('evidence', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_consent_events_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_consent_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_consent_events'))
    )
    op.create_index('ix_consent_events_subject', 'consent_events', ['tenant_id', 'subject_id', 'purpose', 'at'], unique=False)
    op.create_index(op.f('ix_consent_events_subject_id'), 'consent_events', ['subject_id'], unique=False)
    op.create_table('processing_restrictions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('since', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_processing_restrictions_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_processing_restrictions_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_processing_restrictions'))
    )
    op.create_index('ix_processing_restrictions_subject', 'processing_restrictions', ['tenant_id', 'subject_id'], unique=False)


def downgrade() -> None:
    op.drop_table('processing_restrictions')
    op.drop_table('consent_events')

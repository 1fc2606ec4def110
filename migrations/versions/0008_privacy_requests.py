"""Data-subject requests: the public privacy center's verified requests and the staff queue.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import niaga.db.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('privacy_requests',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('address_kind', sa.String(length=10), nullable=False),
    sa.Column('received_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.String(length=20), nullable=False),
    sa.Column('due_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handler_id', sa.Uuid(), nullable=True),
    sa.Column('logged_by_id', sa.Uuid(), nullable=True),
    sa.Column('decision_ground', sa.String(length=30), nullable=True),
    sa.Column('status_token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=True),
    sa.Column('code_expires_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts_left', sa.Integer(), nullable=False),
    sa.Column('codes_sent', sa.Integer(), nullable=False),
    sa.Column('contact_detail', sa.LargeBinary(), nullable=True),
    sa.Column('details', sa.LargeBinary(), nullable=True),
    sa.Column('download_link', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name=op.f('fk_privacy_requests_tenant_id_contact_id_contacts')),
    sa.ForeignKeyConstraint(['tenant_id', 'handler_id'], ['users.tenant_id', 'users.id'], name=op.f('fk_privacy_requests_tenant_id_handler_id_users')),
    sa.ForeignKeyConstraint(['tenant_id', 'logged_by_id'], ['users.tenant_id', 'users.id'], name=op.f('fk_privacy_requests_tenant_id_logged_by_id_users')),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_privacy_requests_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_privacy_requests_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_privacy_requests'))
    )
    op.create_index('ix_privacy_requests_number', 'privacy_requests', ['tenant_id', 'number'], unique=True)
    op.create_index('ix_privacy_requests_queue', 'privacy_requests', ['tenant_id', 'status', 'due_at'], unique=False)
    op.create_index(op.f('ix_privacy_requests_subject_id'), 'privacy_requests', ['subject_id'], unique=False)
    op.create_index('ix_privacy_requests_token', 'privacy_requests', ['status_token_hash'], unique=True)
    op.create_table('privacy_request_events',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=True),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('note', sa.LargeBinary(), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'request_id'], ['privacy_requests.tenant_id', 'privacy_requests.id'], name=op.f('fk_privacy_request_events_tenant_id_request_id_privacy_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_privacy_request_events_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_privacy_request_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_privacy_request_events'))
    )
    op.create_index('ix_privacy_request_events_request', 'privacy_request_events', ['tenant_id', 'request_id', 'at'], unique=False)
    op.create_index(op.f('ix_privacy_request_events_subject_id'), 'privacy_request_events', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_privacy_request_events_subject_id'), table_name='privacy_request_events')
    op.drop_index('ix_privacy_request_events_request', table_name='privacy_request_events')
    op.drop_table('privacy_request_events')
    op.drop_index('ix_privacy_requests_token', table_name='privacy_requests')
    op.drop_index(op.f('ix_privacy_requests_subject_id'), table_name='privacy_requests')
    op.drop_index('ix_privacy_requests_queue', table_name='privacy_requests')
    op.drop_index('ix_privacy_requests_number', table_name='privacy_requests')
    op.drop_table('privacy_requests')

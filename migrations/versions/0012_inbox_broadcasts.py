"""Broadcasts to consenting contacts, their recipients (queued or skipped with a reason), unsubscribe links.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import niaga.db.base

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcasts',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email_subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('template', sa.JSON(), nullable=True),
    sa.Column('segment_tag', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('sent_by', sa.Uuid(), nullable=True),
    sa.Column('sent_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('queued_count', sa.Integer(), nullable=False),
    sa.Column('skipped_count', sa.Integer(), nullable=False),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'sent')", name=op.f('ck_broadcasts_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'channel_id'], ['channels.tenant_id', 'channels.id'], name='fk_broadcasts_channel_id_channels'),
    sa.ForeignKeyConstraint(['tenant_id', 'created_by'], ['users.tenant_id', 'users.id'], name='fk_broadcasts_created_by_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'sent_by'], ['users.tenant_id', 'users.id'], name='fk_broadcasts_sent_by_users'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_broadcasts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_broadcasts'))
    )
    op.create_index('ix_broadcasts_list', 'broadcasts', ['tenant_id', 'created_at'], unique=False)
    op.create_table('broadcast_recipients',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('broadcast_id', sa.Uuid(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("outcome IN ('queued', 'skipped')", name=op.f('ck_broadcast_recipients_outcome')),
    sa.ForeignKeyConstraint(['tenant_id', 'broadcast_id'], ['broadcasts.tenant_id', 'broadcasts.id'], name='fk_broadcast_recipients_broadcast_id_broadcasts', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_broadcast_recipients_contact_id_contacts'),
    sa.ForeignKeyConstraint(['tenant_id', 'message_id'], ['messages.tenant_id', 'messages.id'], name='fk_broadcast_recipients_message_id_messages'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_broadcast_recipients_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_broadcast_recipients')),
    sa.UniqueConstraint('tenant_id', 'broadcast_id', 'contact_id', name='uq_broadcast_recipients_contact')
    )
    op.create_table('unsubscribe_tokens',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('broadcast_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'broadcast_id'], ['broadcasts.tenant_id', 'broadcasts.id'], name='fk_unsubscribe_tokens_broadcast_id_broadcasts', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_unsubscribe_tokens_contact_id_contacts'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_unsubscribe_tokens_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_unsubscribe_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_unsubscribe_tokens_token_hash'))
    )
    op.create_index('ix_unsubscribe_tokens_contact', 'unsubscribe_tokens', ['tenant_id', 'contact_id'], unique=False)


def downgrade() -> None:
    op.drop_table('unsubscribe_tokens')
    op.drop_table('broadcast_recipients')
    op.drop_table('broadcasts')

"""Omnichannel inbox: channels, conversations, messages, inbound events, attachments.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import niaga.db.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channels',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('webhook_key', sa.String(length=40), nullable=False),
    sa.Column('account_ref', sa.String(length=200), nullable=False),
    sa.Column('verify_token', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('secrets_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('whatsapp', 'instagram', 'telegram', 'line', 'email', 'webchat')", name=op.f('ck_channels_kind')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_channels_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_channels')),
    sa.UniqueConstraint('webhook_key', name=op.f('uq_channels_webhook_key'))
    )
    op.create_index('ix_channels_account', 'channels', ['tenant_id', 'kind', 'account_ref'], unique=False)
    op.create_table('inbound_events',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('provider_event_id', sa.String(length=250), nullable=False),
    sa.Column('received_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('payload_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('processed_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done', 'ignored', 'failed')", name=op.f('ck_inbound_events_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'channel_id'], ['channels.tenant_id', 'channels.id'], name='fk_inbound_events_channel_id_channels'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_inbound_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_inbound_events')),
    sa.UniqueConstraint('tenant_id', 'channel_id', 'provider_event_id', name='uq_inbound_events_provider_id')
    )
    op.create_index('ix_inbound_events_pending', 'inbound_events', ['status', 'received_at'], unique=False)
    op.create_table('channel_identities',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('address', sa.LargeBinary(), nullable=True),
    sa.Column('display_name', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_channel_identities_contact_id_contacts', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_channel_identities_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_channel_identities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_channel_identities'))
    )
    op.create_index('ix_channel_identities_contact', 'channel_identities', ['tenant_id', 'contact_id'], unique=False)
    op.create_index(op.f('ix_channel_identities_subject_id'), 'channel_identities', ['subject_id'], unique=False)
    op.create_table('conversations',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('thread_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('assignee_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('unread_count', sa.Integer(), nullable=False),
    sa.Column('opened_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_reply_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_message_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_inbound_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('topic', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'pending', 'resolved')", name=op.f('ck_conversations_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'assignee_id'], ['users.tenant_id', 'users.id'], name='fk_conversations_assignee_id_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'channel_id'], ['channels.tenant_id', 'channels.id'], name='fk_conversations_channel_id_channels'),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_conversations_contact_id_contacts'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_conversations_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id', 'team_id'], ['teams.tenant_id', 'teams.id'], name='fk_conversations_team_id_teams'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_conversations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('tenant_id', 'channel_id', 'contact_id', 'thread_key', name='uq_conversations_thread')
    )
    op.create_index('ix_conversations_assignee', 'conversations', ['tenant_id', 'assignee_id', 'status'], unique=False)
    op.create_index('ix_conversations_contact', 'conversations', ['tenant_id', 'contact_id'], unique=False)
    op.create_index('ix_conversations_list', 'conversations', ['tenant_id', 'status', 'last_message_at'], unique=False)
    op.create_index(op.f('ix_conversations_subject_id'), 'conversations', ['subject_id'], unique=False)
    op.create_table('messages',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('provider_message_id', sa.String(length=250), nullable=True),
    sa.Column('reply_to_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('failure_code', sa.String(length=20), nullable=False),
    sa.Column('failure_reason', sa.String(length=300), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('template', sa.String(length=120), nullable=False),
    sa.Column('at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('broadcast_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("direction IN ('in', 'out')", name=op.f('ck_messages_direction')),
    sa.CheckConstraint("status IN ('received', 'queued', 'sending', 'sent', 'delivered', 'read', 'failed')", name=op.f('ck_messages_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'author_id'], ['users.tenant_id', 'users.id'], name='fk_messages_author_id_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'channel_id'], ['channels.tenant_id', 'channels.id'], name='fk_messages_channel_id_channels'),
    sa.ForeignKeyConstraint(['tenant_id', 'conversation_id'], ['conversations.tenant_id', 'conversations.id'], name='fk_messages_conversation_id_conversations'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_messages_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_messages_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_messages')),
    sa.UniqueConstraint('tenant_id', 'channel_id', 'provider_message_id', name='uq_messages_provider_id')
    )
    op.create_index('ix_messages_outbox', 'messages', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_messages_subject_id'), 'messages', ['subject_id'], unique=False)
    op.create_index('ix_messages_thread', 'messages', ['tenant_id', 'conversation_id', 'at'], unique=False)
    op.create_table('message_attachments',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('file_id', sa.Uuid(), nullable=True),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('failure_reason', sa.String(length=300), nullable=False),
    sa.Column('media_ref', sa.LargeBinary(), nullable=True),
    sa.Column('filename', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'stored', 'failed')", name=op.f('ck_message_attachments_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'message_id'], ['messages.tenant_id', 'messages.id'], name='fk_message_attachments_message_id_messages'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_message_attachments_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_message_attachments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_message_attachments'))
    )
    op.create_index('ix_message_attachments_message', 'message_attachments', ['tenant_id', 'message_id'], unique=False)
    op.create_index(op.f('ix_message_attachments_subject_id'), 'message_attachments', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_table('message_attachments')
    op.drop_table('messages')
    op.drop_table('conversations')
    op.drop_table('channel_identities')
    op.drop_table('inbound_events')
    op.drop_table('channels')

"""Service desk: tickets with their comments and history, SLA policies, business hours, holidays, activities.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import niaga.db.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('business_hours',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('opens_minute', sa.Integer(), nullable=False),
    sa.Column('closes_minute', sa.Integer(), nullable=False),
    sa.CheckConstraint('opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440', name=op.f('ck_business_hours_opening')),
    sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_business_hours_weekday')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_business_hours_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_business_hours')),
    sa.UniqueConstraint('tenant_id', 'weekday', name='uq_business_hours_weekday')
    )
    op.create_table('holidays',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_holidays_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_holidays')),
    sa.UniqueConstraint('tenant_id', 'day', name='uq_holidays_day')
    )
    op.create_table('sla_policies',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('first_response_minutes', sa.Integer(), nullable=True),
    sa.Column('resolution_minutes', sa.Integer(), nullable=True),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_sla_policies_priority')),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_sla_policies_contact_contacts', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_sla_policies_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('tenant_id', 'contact_id', 'priority', name='uq_sla_policies_contact_priority')
    )
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.create_index('uq_sla_policies_default', ['tenant_id', 'priority'], unique=True, sqlite_where=sa.text('contact_id IS NULL'), postgresql_where=sa.text('contact_id IS NULL'))

    op.create_table('tickets',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('first_responded_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_target_minutes', sa.Integer(), nullable=True),
    sa.Column('response_used_seconds', sa.Integer(), nullable=False),
    sa.Column('response_running_since', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_due_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_warn_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_target_minutes', sa.Integer(), nullable=True),
    sa.Column('resolution_used_seconds', sa.Integer(), nullable=False),
    sa.Column('resolution_running_since', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_warn_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('title', sa.LargeBinary(), nullable=True),
    sa.Column('description', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('manual', 'email', 'whatsapp', 'instagram', 'telegram', 'line', 'webchat', 'phone')", name=op.f('ck_tickets_channel')),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_tickets_priority')),
    sa.CheckConstraint("status IN ('new', 'open', 'pending', 'resolved', 'closed')", name=op.f('ck_tickets_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_tickets_contact_contacts', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'created_by'], ['users.tenant_id', 'users.id'], name='fk_tickets_created_by_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'owner_id'], ['users.tenant_id', 'users.id'], name='fk_tickets_owner_id_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_tickets_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id', 'team_id'], ['teams.tenant_id', 'teams.id'], name='fk_tickets_team_teams'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_tickets_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('tenant_id', 'number', name='uq_tickets_number')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_contact', ['tenant_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_tickets_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_tickets_owner', ['tenant_id', 'owner_id'], unique=False)
        batch_op.create_index('ix_tickets_status', ['tenant_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_subject_id'), ['subject_id'], unique=False)

    op.create_table('activities',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=False),
    sa.Column('deal_id', sa.Uuid(), nullable=True),
    sa.Column('ticket_id', sa.Uuid(), nullable=True),
    sa.Column('due_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration_minutes', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('note', 'call', 'meeting', 'task')", name=op.f('ck_activities_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'contact_id'], ['contacts.tenant_id', 'contacts.id'], name='fk_activities_contact_contacts', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id', 'created_by'], ['users.tenant_id', 'users.id'], name='fk_activities_created_by_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'deal_id'], ['deals.tenant_id', 'deals.id'], name='fk_activities_deal_deals'),
    sa.ForeignKeyConstraint(['tenant_id', 'owner_id'], ['users.tenant_id', 'users.id'], name='fk_activities_owner_id_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_activities_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id', 'team_id'], ['teams.tenant_id', 'teams.id'], name='fk_activities_team_teams'),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name='fk_activities_ticket_tickets'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_activities_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_activities'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_contact', ['tenant_id', 'contact_id', 'created_at'], unique=False)
        batch_op.create_index('ix_activities_deal', ['tenant_id', 'deal_id'], unique=False)
        batch_op.create_index('ix_activities_owner_due', ['tenant_id', 'owner_id', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index('ix_activities_ticket', ['tenant_id', 'ticket_id'], unique=False)

    op.create_table('ticket_comments',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('author_kind', sa.String(length=10), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint("author_kind IN ('staff', 'customer')", name=op.f('ck_ticket_comments_author_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'author_id'], ['users.tenant_id', 'users.id'], name='fk_ticket_comments_author_id_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_ticket_comments_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name='fk_ticket_comments_ticket_tickets', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_comments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_comments'))
    )
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_comments_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index('ix_ticket_comments_ticket', ['tenant_id', 'ticket_id', 'created_at'], unique=False)

    op.create_table('ticket_events',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.Uuid(), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('old_value', sa.String(length=40), nullable=True),
    sa.Column('new_value', sa.String(length=40), nullable=True),
    sa.Column('at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'actor_id'], ['users.tenant_id', 'users.id'], name='fk_ticket_events_actor_id_users'),
    sa.ForeignKeyConstraint(['tenant_id', 'ticket_id'], ['tickets.tenant_id', 'tickets.id'], name='fk_ticket_events_ticket_tickets', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ticket_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_events_ticket', ['tenant_id', 'ticket_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_events_ticket')

    op.drop_table('ticket_events')
    with op.batch_alter_table('ticket_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_comments_ticket')
        batch_op.drop_index(batch_op.f('ix_ticket_comments_subject_id'))

    op.drop_table('ticket_comments')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_ticket')
        batch_op.drop_index(batch_op.f('ix_activities_subject_id'))
        batch_op.drop_index('ix_activities_owner_due')
        batch_op.drop_index('ix_activities_deal')
        batch_op.drop_index('ix_activities_contact')

    op.drop_table('activities')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_subject_id'))
        batch_op.drop_index('ix_tickets_status')
        batch_op.drop_index('ix_tickets_owner')
        batch_op.drop_index('ix_tickets_created')
        batch_op.drop_index('ix_tickets_contact')

    op.drop_table('tickets')
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_index('uq_sla_policies_default', sqlite_where=sa.text('contact_id IS NULL'), postgresql_where=sa.text('contact_id IS NULL'))

    op.drop_table('sla_policies')
    op.drop_table('holidays')
    op.drop_table('business_hours')

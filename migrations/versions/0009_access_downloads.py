"""Access packages and their expiring download links.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import niaga.db.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('package_downloads',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('file_id', sa.Uuid(), nullable=False),
    sa.Column('request_id', sa.Uuid(), nullable=True),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('portable', sa.Boolean(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('download_count', sa.Integer(), nullable=False),
    sa.Column('last_downloaded_at', niaga.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_type', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_package_downloads_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_package_downloads_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_package_downloads')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_package_downloads_token_hash'))
    )
    op.create_index('ix_package_downloads_subject', 'package_downloads', ['tenant_id', 'subject_id'], unique=False)
    op.create_index(op.f('ix_package_downloads_subject_id'), 'package_downloads', ['subject_id'], unique=False)


def downgrade() -> None:
    op.drop_table('package_downloads')

"""encrypted file store: one row per stored file (the bytes live in DATA_DIR/files); covering blind-index lookup

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import niaga.db.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stored_files',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', niaga.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_type', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.LargeBinary(), nullable=True),
    sa.Column('sha256', sa.LargeBinary(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'subject_id'], ['data_subjects.tenant_id', 'data_subjects.id'], name=op.f('fk_stored_files_tenant_id_subject_id_data_subjects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_stored_files_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_stored_files'))
    )
    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stored_files_subject_id'), ['subject_id'], unique=False)

    # The lookup index covers row_id, so an exact lookup never walks a field's whole index (see models.py).
    with op.batch_alter_table('blind_index', schema=None) as batch_op:
        batch_op.drop_index('ix_blind_index_lookup')
        batch_op.create_index('ix_blind_index_lookup', ['tenant_id', 'field', 'digest', 'row_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('blind_index', schema=None) as batch_op:
        batch_op.drop_index('ix_blind_index_lookup')
        batch_op.create_index('ix_blind_index_lookup', ['tenant_id', 'field', 'digest'], unique=False)

    with op.batch_alter_table('stored_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stored_files_subject_id'))

    op.drop_table('stored_files')

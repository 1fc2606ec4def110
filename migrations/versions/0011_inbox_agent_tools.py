"""Agent inbox tools: canned responses, labels, agent availability.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""
from __future__ import annotations

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import niaga.db.base  # noqa: F401

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Tables of the privacy kernel: keys, data subjects, blind indexes, the erasure log."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from niaga.db.base import Base, TenantOwned, utcnow


class PlatformKey(Base):
    """A platform-wide key (e.g. the blind-index key for staff login emails), wrapped by the master key."""

    __tablename__ = "platform_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    master_version: Mapped[int]
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantKey(Base):
    """A tenant's data key (wraps subject keys) or index key (derives blind-index keys), per version."""

    __tablename__ = "tenant_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10), primary_key=True)  # "data" | "index"
    version: Mapped[int] = mapped_column(primary_key=True)
    master_version: Mapped[int]
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once a retired version is destroyed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class DataSubject(TenantOwned, Base):
    """A person whose data niaga holds (contact, staff member, merchant owner); holds their wrapped key."""

    __tablename__ = "data_subjects"

    kind: Mapped[str] = mapped_column(String(20))
    key_version: Mapped[int] = mapped_column(default=1)  # version of the subject key itself
    tenant_key_version: Mapped[int | None]  # tenant data key version that wraps it
    key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)  # None = erased (crypto-shredded)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[datetime | None]

    @property
    def is_erased(self) -> bool:
        """True once the subject's key is gone."""
        return self.key_wrapped is None


class BlindIndexEntry(Base):
    """One keyed HMAC of a normalised personal value; belongs to the subject, deleted with it."""

    __tablename__ = "blind_index"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(String(80), primary_key=True)  # "table.column"
    row_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    subject_id: Mapped[uuid.UUID]
    is_unique: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        # Covering (row_id included): SQLite's planner otherwise prefers the primary key's (tenant, field)
        # prefix and walks every entry of the field; PostgreSQL answers it with an index-only scan.
        Index("ix_blind_index_lookup", "tenant_id", "field", "digest", "row_id"),
        Index("ix_blind_index_subject", "tenant_id", "subject_id"),
        # Digests come from per-tenant (or platform) keys, so (field, digest) is unique across tenants
        # exactly where the value is meant to be unique.
        Index(
            "uq_blind_index_unique",
            "field",
            "digest",
            unique=True,
            sqlite_where=text("is_unique"),
            postgresql_where=text("is_unique"),
        ),
    )


class ErasureRecord(Base):
    """Append-only log of erased subjects, replayed after a backup restore. No personal data."""

    __tablename__ = "erasure_log"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(80))

"""The table of the encrypted file store: one row per stored file; the bytes live in the store directory."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from niaga.db.base import Base, TenantOwned, utcnow
from niaga.privacy.fields import Category, Purpose, Retention, SubjectOwned, personal, subject_fk


class StoredFile(TenantOwned, SubjectOwned, Base):
    """An attachment or document of one person, encrypted under that person's key (policies K3)."""

    __tablename__ = "stored_files"

    # Uploaded names are often "KTP Siti.jpg": the name is the person's, like the content.
    filename = personal(
        Category.IDENTITY, [Purpose.U1], retention=Retention.RELATIONSHIP,
        description="Original name of an uploaded file (it often contains the person's name)",
    )
    # A plain content hash would let anyone holding a copy of a document confirm that niaga holds it,
    # even after erasure; sealed under the person's key it disappears with them.
    sha256 = personal(
        Category.IDENTIFICATION, [Purpose.U1, Purpose.U9], retention=Retention.RELATIONSHIP,
        description="SHA-256 of a stored file's content, checked on every read",
    )
    kind: Mapped[str] = mapped_column(String(40))  # a registered FileKind
    content_type: Mapped[str] = mapped_column(String(100))  # detected from the bytes
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_type: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[uuid.UUID | None]

    __table_args__ = (subject_fk(),)


__all__ = ["StoredFile"]

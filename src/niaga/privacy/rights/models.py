"""The download link of an access package: a hash of a one-time-shown token, an expiry and a count."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from niaga.db.base import Base, TenantOwned, utcnow
from niaga.privacy.fields import SubjectOwned, subject_fk


class PackageDownload(TenantOwned, SubjectOwned, Base):
    """One prepared access package of a person and the link that downloads it.

    The package itself is a file of the encrypted file store, sealed under the person's key (`file_id`), so
    erasing the person makes it unreadable. `file_id` has no foreign key on purpose: merging two contacts
    moves stored files by copying them under the surviving person's key, and the old link then reads as
    no longer available instead of blocking the merge.
    """

    __tablename__ = "package_downloads"

    file_id: Mapped[uuid.UUID]
    request_id: Mapped[uuid.UUID | None]  # the privacy request it answers, when there is one
    # SHA-256 of a 256-bit random token: the token itself is shown once and never stored.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    language: Mapped[str] = mapped_column(String(5))
    portable: Mapped[bool] = mapped_column(default=False)
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    download_count: Mapped[int] = mapped_column(default=0)
    last_downloaded_at: Mapped[datetime | None]
    created_by_type: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[uuid.UUID | None]

    __table_args__ = (subject_fk(), Index("ix_package_downloads_subject", "tenant_id", "subject_id"))


__all__ = ["PackageDownload"]

"""Broadcast tables: a marketing message to a segment, who got it or was skipped and why, unsubscribe links.

None of these rows holds a personal value: the message text is the business's own promotion, the same for
everyone; a recipient row links a broadcast to a contact by id with a reason code; an unsubscribe token is
stored only as its SHA-256.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from niaga.db.base import Base, TenantOwned, Timestamped, UTCDateTime, utcnow
from niaga.web.i18n import N_

BROADCAST_STATUSES = ("draft", "sent")
RECIPIENT_OUTCOMES = ("queued", "skipped")


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], [f"{target}.tenant_id", f"{target}.id"],
                                name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


class Broadcast(TenantOwned, Timestamped, Base):
    """One marketing message to the consenting contacts of a segment on one channel."""

    __tablename__ = "broadcasts"

    channel_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(120), info={"not_personal": N_(
        "A label the business gives its own campaign, such as 'Promo Lebaran'")})
    email_subject: Mapped[str] = mapped_column(String(200), default="", info={"not_personal": N_(
        "The subject line of a promotional email, the same for every recipient")})
    body: Mapped[str] = mapped_column(Text, default="", info={"not_personal": N_(
        "The business's promotional text, the same for every recipient")})
    template: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # an approved WhatsApp template
    segment_tag: Mapped[str] = mapped_column(String(60), default="", info={"not_personal": N_(
        "A contact tag chosen as the audience, such as 'pelanggan-setia'")})
    status: Mapped[str] = mapped_column(String(10), default="draft")
    created_by: Mapped[uuid.UUID | None]
    sent_by: Mapped[uuid.UUID | None]
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    queued_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        _fk("broadcasts", "channel_id", "channels"),
        _fk("broadcasts", "created_by", "users"),
        _fk("broadcasts", "sent_by", "users"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in BROADCAST_STATUSES)})", name="status"),
        Index("ix_broadcasts_list", "tenant_id", "created_at"),
    )


class BroadcastRecipient(TenantOwned, Base):
    """One contact of a sent broadcast: queued (with its message) or skipped with the reason."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[uuid.UUID]
    contact_id: Mapped[uuid.UUID]
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(30))  # a code: ok, no-consent, withdrawn, restricted, …
    message_id: Mapped[uuid.UUID | None]

    __table_args__ = (
        _fk("broadcast_recipients", "broadcast_id", "broadcasts", ondelete="CASCADE"),
        _fk("broadcast_recipients", "contact_id", "contacts"),
        _fk("broadcast_recipients", "message_id", "messages"),
        CheckConstraint(f"outcome IN ({', '.join(repr(s) for s in RECIPIENT_OUTCOMES)})", name="outcome"),
        UniqueConstraint("tenant_id", "broadcast_id", "contact_id", name="uq_broadcast_recipients_contact"),
    )


class UnsubscribeToken(TenantOwned, Base):
    """A link in a marketing email that withdraws one purpose's consent for one contact (stored hashed)."""

    __tablename__ = "unsubscribe_tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    contact_id: Mapped[uuid.UUID]
    purpose: Mapped[str] = mapped_column(String(40))
    broadcast_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        _fk("unsubscribe_tokens", "contact_id", "contacts"),
        _fk("unsubscribe_tokens", "broadcast_id", "broadcasts", ondelete="CASCADE"),
        Index("ix_unsubscribe_tokens_contact", "tenant_id", "contact_id"),
    )

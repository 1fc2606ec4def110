"""Inbox tables: channels, the people behind channel ids, conversations, messages, attachments, raw deliveries.

A conversation and its messages are records *about one contact*: every personal value in them (message
text, structured content, channel user ids, file names) is sealed under that contact's key, so erasing the
contact shreds the conversation too. Raw provider deliveries arrive before anyone knows whose they are:
they are sealed under the tenant's data key, processed within seconds, and their payload is emptied as soon
as the messages are stored under each person's key (see `inbox/ingest.py`).

Messages double as the transactional outbox: an agent's reply is a `messages` row with direction "out" and
status "queued", written in the request's transaction; the send job picks it up after commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from niaga.db.base import Base, TenantOwned, Timestamped, UTCDateTime, utcnow
from niaga.privacy.fields import (
    Category,
    Purpose,
    Retention,
    SubjectOwned,
    personal,
    subject_fk,
)
from niaga.web.i18n import N_

U1, U2, U5, U6 = Purpose.U1, Purpose.U2, Purpose.U5, Purpose.U6
REL = Retention.RELATIONSHIP

CHANNEL_KINDS = ("whatsapp", "instagram", "telegram", "line", "email", "webchat")
CONVERSATION_STATUSES = ("open", "pending", "resolved")
DIRECTIONS = ("in", "out")
# received: an inbound message; queued → sending → sent → delivered → read for outbound; failed is terminal.
MESSAGE_STATUSES = ("received", "queued", "sending", "sent", "delivered", "read", "failed")
STATUS_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
MESSAGE_KINDS = ("text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive",
                 "button", "reaction", "template", "note", "system", "unsupported")
EVENT_STATUSES = ("pending", "done", "ignored", "failed")
ATTACHMENT_STATUSES = ("pending", "stored", "failed")

PROVIDER_ID = N_("An opaque id the messaging provider gives a message or delivery; it names no one")


def _within(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _fk(table: str, column: str, target: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id", column], [f"{target}.tenant_id", f"{target}.id"],
                                name=f"fk_{table}_{column}_{target}")


class Channel(TenantOwned, Timestamped, Base):
    """One connected account of the business on a messaging channel (a WhatsApp number, a bot, a mailbox)."""

    __tablename__ = "channels"

    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80), info={"not_personal": N_(
        "A label the business gives its own channel account, such as 'WhatsApp Toko'")})
    # Random, unguessable, globally unique: the webhook URL names it (/webhooks/<kind>/<webhook_key>).
    webhook_key: Mapped[str] = mapped_column(String(40), unique=True)
    # The provider's id of the business's own account (WhatsApp phone_number_id, Instagram account id, LINE
    # destination, bot id, the mailbox address of the business): deliveries are routed on it.
    account_ref: Mapped[str] = mapped_column(String(200), default="", info={"not_personal": N_(
        "The provider's id of the business's own account (its WhatsApp number id, bot, mailbox)")})
    # Meta's webhook handshake token; shown to the business on the channel's settings page.
    verify_token: Mapped[str] = mapped_column(String(64), default="")
    # Non-secret configuration (API version, IMAP host, per-channel limits, polling state).
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    # Tokens, app secrets and passwords: JSON sealed under the tenant's data key (inbox/secrets.py).
    secrets_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint(_within("kind", CHANNEL_KINDS), name="kind"),
        Index("ix_channels_account", "tenant_id", "kind", "account_ref"),
    )


class ChannelIdentity(TenantOwned, SubjectOwned, Base):
    """A customer's id on a channel that has no phone or email (Instagram, Telegram, LINE, web chat).

    The id is stored as `<kind>:<id>` so that one blind index, unique in the tenant, finds the contact behind
    it (the same Telegram user on two bots of one business is one person).
    """

    __tablename__ = "channel_identities"

    contact_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(12))
    address = personal(Category.CONTACT, [U1, U2, U5], retention=REL, index="exact", unique=True,
                       description="The customer's id on a messaging channel (Instagram, Telegram, LINE, web chat)")
    display_name = personal(Category.IDENTITY, [U1, U2], retention=REL,
                            description="The customer's profile name on a messaging channel")

    __table_args__ = (
        subject_fk(),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE",
                             name="fk_channel_identities_contact_id_contacts"),
        Index("ix_channel_identities_contact", "tenant_id", "contact_id"),
    )


class Conversation(TenantOwned, SubjectOwned, Timestamped, Base):
    """The messages between the business and one contact on one channel (one email thread for email).

    Chat channels keep one conversation per (channel, contact), reopened when the customer writes again, so
    a burst of messages from a new sender can never open two (the unique constraint decides the race).
    """

    __tablename__ = "conversations"

    channel_id: Mapped[uuid.UUID]
    contact_id: Mapped[uuid.UUID]
    # "" for chat channels; for email a digest of the thread's root Message-ID.
    thread_key: Mapped[str] = mapped_column(String(64), default="", info={"not_personal": N_(
        "A digest of an email thread's first Message-ID; it names no one")})
    # Not "subject": that name is the SubjectOwned link to the person's key.
    topic = personal(Category.COMMUNICATION, [U1, U2], retention=REL, description="Email subject line")
    status: Mapped[str] = mapped_column(String(10), default="open")
    assignee_id: Mapped[uuid.UUID | None]
    team_id: Mapped[uuid.UUID | None]
    labels: Mapped[list] = mapped_column(JSON, default=list)
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, info={"not_personal": N_(
        "When the conversation last changed, for sorting the inbox; the message itself is encrypted")})
    # The customer's last message: WhatsApp (and Instagram) allow free-form replies for 24 hours after it.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        subject_fk(),
        _fk("conversations", "channel_id", "channels"),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"],
                             name="fk_conversations_contact_id_contacts"),
        _fk("conversations", "assignee_id", "users"),
        _fk("conversations", "team_id", "teams"),
        CheckConstraint(_within("status", CONVERSATION_STATUSES), name="status"),
        UniqueConstraint("tenant_id", "channel_id", "contact_id", "thread_key", name="uq_conversations_thread"),
        Index("ix_conversations_list", "tenant_id", "status", "last_message_at"),
        Index("ix_conversations_assignee", "tenant_id", "assignee_id", "status"),
        Index("ix_conversations_contact", "tenant_id", "contact_id"),
    )


class Message(TenantOwned, SubjectOwned, Base):
    """One message in a conversation, inbound or outbound, or an agent's internal note."""

    __tablename__ = "messages"

    conversation_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    direction: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(12), default="text")
    body = personal(Category.COMMUNICATION, [U1, U2], retention=REL, description="Message text")
    content = personal(Category.COMMUNICATION, [U1, U2], retention=REL, python_type=dict,
                       description="Structured message content: location, buttons, template parameters, reactions, "
                                   "email headers")
    # The provider's message id (wamid, Instagram mid, Telegram message id, LINE id, email Message-ID).
    provider_message_id: Mapped[str | None] = mapped_column(String(250), nullable=True,
                                                            info={"not_personal": PROVIDER_ID})
    reply_to_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(10), default="received")
    failure_code: Mapped[str] = mapped_column(String(20), default="")
    failure_reason: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[uuid.UUID | None]  # the staff member who wrote an outbound message or note
    private: Mapped[bool] = mapped_column(Boolean, default=False)  # an internal note, never sent
    template: Mapped[str] = mapped_column(String(120), default="")  # approved WhatsApp template name
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # sent (inbound: by the customer)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Outbox bookkeeping.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    broadcast_id: Mapped[uuid.UUID | None]

    __table_args__ = (
        subject_fk(),
        _fk("messages", "conversation_id", "conversations"),
        _fk("messages", "channel_id", "channels"),
        _fk("messages", "author_id", "users"),
        CheckConstraint(_within("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_within("status", MESSAGE_STATUSES), name="status"),
        UniqueConstraint("tenant_id", "channel_id", "provider_message_id", name="uq_messages_provider_id"),
        Index("ix_messages_thread", "tenant_id", "conversation_id", "at"),
        Index("ix_messages_outbox", "status", "next_attempt_at"),
    )


class Attachment(TenantOwned, SubjectOwned, Base):
    """A file sent with a message: fetched from the provider, then kept encrypted in the file store."""

    __tablename__ = "message_attachments"

    message_id: Mapped[uuid.UUID]
    file_id: Mapped[uuid.UUID | None]  # stored_files row once downloaded
    media_ref = personal(Category.COMMUNICATION, [U1, U2], retention=REL,
                         description="The provider's reference to a media file (id or link), until it is downloaded")
    filename = personal(Category.COMMUNICATION, [U1, U2], retention=REL, description="Attachment file name")
    content_type: Mapped[str] = mapped_column(String(100), default="", info={"not_personal": N_(
        "The file's format (image/jpeg, application/pdf), detected from its bytes")})
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    failure_reason: Mapped[str] = mapped_column(String(300), default="")

    __table_args__ = (
        subject_fk(),
        _fk("message_attachments", "message_id", "messages"),
        CheckConstraint(_within("status", ATTACHMENT_STATUSES), name="status"),
        Index("ix_message_attachments_message", "tenant_id", "message_id"),
    )


class InboundEvent(TenantOwned, Base):
    """One provider event (a message, a status, an email) stored before the webhook is acknowledged.

    Unique per (channel, provider event id): a redelivery is a no-op. The payload is sealed under the
    tenant's data key and emptied once processed; what remains is the id, for deduplication.
    """

    __tablename__ = "inbound_events"

    channel_id: Mapped[uuid.UUID]
    provider_event_id: Mapped[str] = mapped_column(String(250), info={"not_personal": PROVIDER_ID})
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, info={"transient_personal": N_(
        "A provider's raw delivery, sealed under the business's key until its messages are stored under each "
        "customer's own key (seconds); emptied after processing")})
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        _fk("inbound_events", "channel_id", "channels"),
        CheckConstraint(_within("status", EVENT_STATUSES), name="status"),
        UniqueConstraint("tenant_id", "channel_id", "provider_event_id", name="uq_inbound_events_provider_id"),
        Index("ix_inbound_events_pending", "status", "received_at"),
    )

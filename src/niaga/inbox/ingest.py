"""Inbound: store provider events durably (then acknowledge), and process them in a job.

`store_events` runs inside the webhook request: each event is one `inbound_events` row, unique per
(channel, provider id), so a redelivered event is recognised and not stored twice. The request commits and
answers 200; `process_inbound` (a job, enqueued after commit, re-enqueued by the sweeper if lost) turns the
event into contacts, conversations, messages and attachments. It downloads media *before* marking the event
done: a failed download raises, the job's transaction rolls back, and the event is tried again later — so a
retry can never be mistaken for a duplicate and the file is never lost.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.db.base import new_id, utcnow
from niaga.inbox import secrets as channel_secrets
from niaga.inbox.adapters import (
    DeliveryEvent,
    InboundMessage,
    MediaRef,
    PermanentFailure,
    StatusUpdate,
    TemporaryFailure,
    adapter_for,
)
from niaga.inbox.models import (
    STATUS_RANK,
    Attachment,
    Channel,
    ChannelIdentity,
    Conversation,
    InboundEvent,
    Message,
)
from niaga.kit.phone import normalize_phone
from niaga.privacy import files
from niaga.privacy.audit import Actor
from niaga.privacy.blind_index import find_rows
from niaga.privacy.fields import registered_fields

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Hooks other parts of the inbox add (STOP keywords, auto-assignment, live updates): fn(session, message).
AFTER_INBOUND: list = []


@dataclass(frozen=True)
class StoredDelivery:
    """What `store_events` did with a delivery."""

    stored: list[uuid.UUID]  # new event ids (to process)
    duplicates: int
    unrouted: int  # events for an account of no channel of this tenant


def for_this_channel(channel: Channel, account_ref: str | None) -> bool:
    """True when an event is for the webhook's own channel (not another account behind the same app)."""
    return not account_ref or account_ref == channel.account_ref or not channel.account_ref


def _sibling(session: Session, channel: Channel, account_ref: str | None) -> Channel | None:
    """The tenant's channel an event is for: the webhook's own, or another account behind the same app."""
    if for_this_channel(channel, account_ref):
        return channel
    return session.scalar(select(Channel).where(
        Channel.tenant_id == channel.tenant_id, Channel.kind == channel.kind,
        Channel.account_ref == account_ref, Channel.active.is_(True)))


def prepare_events(session: Session, channel: Channel, events: list[DeliveryEvent]) -> tuple[list[dict], int]:
    """The `inbound_events` rows (sealed) for a delivery's events, and how many name no channel of ours.

    Reads only: the webhook prepares outside the write transaction, so that many deliveries can then be
    written under one lock (see inbox/group_commit.py).
    """
    rows: list[dict] = []
    unrouted = 0
    version_key = channel_secrets.payload_key(session, channel.tenant_id)  # siblings are of the same tenant
    for event in events:
        target = _sibling(session, channel, event.account_ref)
        if target is None:
            unrouted += 1
            continue
        rows.append(event_row(target, event, version_key))
    return rows, unrouted


def event_row(channel: Channel, event: DeliveryEvent, version_key: tuple[int, bytes]) -> dict:
    """The `inbound_events` row of one event for `channel`, its payload sealed under the given tenant key."""
    event_id = new_id()
    return {"tenant_id": channel.tenant_id, "id": event_id, "channel_id": channel.id,
            "provider_event_id": event.event_id[:250],
            "payload_sealed": channel_secrets.seal_payload_under(version_key, channel.tenant_id, event_id,
                                                                 event.payload)}


def insert_new_events(session: Session, rows: list[dict]) -> list[bool]:
    """Insert each row unless its provider id was stored before (the unique index decides); True if new.

    INSERT … ON CONFLICT DO NOTHING for all rows at once, no savepoints: a concurrent delivery of the
    same event simply inserts nothing, and RETURNING says which rows went in (the row count is no guide:
    psycopg reports -1 for it). The job of each new event is enqueued when the session commits.
    """
    from niaga.inbox.tasks import process_inbound_job
    from niaga.worker import enqueue_after_commit

    if not rows:
        return []
    connection = session.connection()
    inserted = set(connection.execute(_insert_new_statement(connection.dialect.name), rows).scalars())
    for row in rows:
        if row["id"] in inserted:
            enqueue_after_commit(session, process_inbound_job, str(row["tenant_id"]), str(row["id"]))
    return [row["id"] in inserted for row in rows]


@functools.cache
def _insert_new_statement(dialect: str):  # noqa: ANN202 - an Insert of either dialect
    # Built once: SQLAlchemy sends a list of rows as multi-row VALUES (“insertmanyvalues”), RETURNING included.
    table = InboundEvent.__table__
    dialect_insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return dialect_insert(table).on_conflict_do_nothing(
        index_elements=["tenant_id", "channel_id", "provider_event_id"]).returning(table.c.id)


def store_events(session: Session, channel: Channel, events: list[DeliveryEvent]) -> StoredDelivery:
    """Store new events (sealed) and skip those seen before; enqueue their processing after commit."""
    rows, unrouted = prepare_events(session, channel, events)
    fresh = insert_new_events(session, rows)
    return StoredDelivery([row["id"] for row, new in zip(rows, fresh) if new], fresh.count(False), unrouted)


# -- processing ------------------------------------------------------------------------------------

def process_event(session: Session, tenant_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """Process one stored event; returns its final status. Raises TemporaryFailure to be retried."""
    event = session.get(InboundEvent, (tenant_id, event_id))
    if event is None or event.status != "pending":
        return event.status if event is not None else "missing"
    channel = session.get(Channel, (tenant_id, event.channel_id))
    adapter = adapter_for(channel.kind)
    payload = channel_secrets.open_payload(session, tenant_id, event.id, event.payload_sealed)
    items = adapter.parse(channel, payload)
    acted = False
    for item in items:
        if isinstance(item, InboundMessage):
            stored = receive_message(session, channel, item)
            acted |= stored is not None
            if stored is not None and item.kind == "interactive" and hasattr(adapter, "acknowledge"):
                _acknowledge_after_commit(session, channel, item.provider_message_id)
        elif isinstance(item, StatusUpdate):
            acted |= apply_status(session, channel, item)
    event.status = "done" if acted or not items else "ignored"
    event.payload_sealed = None  # the messages now hold it under each person's key
    event.processed_at = utcnow()
    return event.status


def record_failure(session: Session, tenant_id: uuid.UUID, event_id: uuid.UUID, reason: str) -> None:
    """Count a failed attempt (in its own transaction); after MAX_ATTEMPTS the event is marked failed."""
    event = session.get(InboundEvent, (tenant_id, event_id))
    if event is None or event.status != "pending":
        return
    event.attempts += 1
    event.last_error = reason[:300]
    if event.attempts >= MAX_ATTEMPTS:
        event.status = "failed"


def _identity_spec():
    return next(s for s in registered_fields(ChannelIdentity) if s.column == "address")


def _sender_phone(channel: Channel, item: InboundMessage) -> str | None:
    return normalize_phone(item.sender_phone) if item.sender_phone else None


def resolve_contact(session: Session, channel: Channel, item: InboundMessage) -> Contact:
    """The contact behind a sender: by E.164 phone, email, or channel id; a new contact when unknown."""
    tenant_id = channel.tenant_id
    phone = _sender_phone(channel, item)
    email = item.sender_email.strip().lower() if item.sender_email else None
    if phone or email:
        contact = contacts.contact_for_channel_sender(session, tenant_id, phone=phone, email=email)
        if contact is None:
            contact = contacts.create_channel_contact(session, tenant_id, name=item.sender_name or phone or email,
                                                      source=channel.kind, phone=phone, email=email)
        return contact
    address = f"{channel.kind}:{item.sender_id}"
    ids = find_rows(session, tenant_id, _identity_spec(), address)
    if ids:
        identity = session.get(ChannelIdentity, (tenant_id, ids[0]))
        contact = session.get(Contact, (tenant_id, identity.contact_id))
        while contact.status == "merged" and contact.merged_into_id is not None:
            contact = session.get(Contact, (tenant_id, contact.merged_into_id))
        return contact
    name = item.sender_name or _profile_name(session, channel, item.sender_id)
    contact = contacts.create_channel_contact(session, tenant_id, name=name or item.sender_id, source=channel.kind)
    session.add(ChannelIdentity(tenant_id=tenant_id, subject_id=contact.subject_id, contact_id=contact.id,
                                kind=channel.kind, address=address, display_name=name))
    session.flush()
    return contact


def _profile_name(session: Session, channel: Channel, sender_id: str) -> str | None:
    """A new sender's name from the provider, for channels whose deliveries carry none (None if it cannot say).

    Asked once, when the sender becomes a contact; without it the contact is named by their channel id,
    which staff can rename. A failure never holds up the message.
    """
    lookup = getattr(adapter_for(channel.kind), "profile_name", None)
    if lookup is None:
        return None
    try:
        return lookup(channel, channel_secrets.open_secrets(session, channel.tenant_id, channel.id,
                                                            channel.secrets_sealed), sender_id)
    except (TemporaryFailure, PermanentFailure) as exc:
        log.info("sender profile not available: %s", type(exc).__name__)  # the kind only: no ids, no names
        return None


def thread_key(thread_ref: str | None) -> str:
    """The conversation key of an email thread (a digest of its root Message-ID); '' for chats."""
    if not thread_ref:
        return ""
    return hashlib.sha256(thread_ref.strip().encode()).hexdigest()[:64]


def conversation_for(session: Session, channel: Channel, contact: Contact, key: str = "",
                     topic: str | None = None) -> Conversation:
    """The conversation with a contact on a channel (thread), created when there is none."""
    query = select(Conversation).where(
        Conversation.tenant_id == channel.tenant_id, Conversation.channel_id == channel.id,
        Conversation.contact_id == contact.id, Conversation.thread_key == key)
    found = session.scalar(query)
    if found is not None:
        return found
    conversation = Conversation(tenant_id=channel.tenant_id, subject_id=contact.subject_id, channel_id=channel.id,
                                contact_id=contact.id, thread_key=key, topic=topic, status="open", labels=[],
                                team_id=contact.team_id)
    session.add(conversation)
    session.flush()  # the unique constraint refuses a concurrent twin: the job retries and finds this one
    return conversation


def receive_message(session: Session, channel: Channel, item: InboundMessage) -> Message | None:
    """Store one inbound message (or echo) with its media; None when it was stored before."""
    existing = session.scalar(select(Message.id).where(
        Message.tenant_id == channel.tenant_id, Message.channel_id == channel.id,
        Message.provider_message_id == item.provider_message_id))
    if existing is not None:
        return None
    contact = resolve_contact(session, channel, item)
    conversation = conversation_for(session, channel, contact, thread_key(item.thread_ref), item.subject)
    reply_to = None
    if item.reply_to_provider_id:
        reply_to = session.scalar(select(Message.id).where(
            Message.tenant_id == channel.tenant_id, Message.channel_id == channel.id,
            Message.provider_message_id == item.reply_to_provider_id))
    message = Message(
        tenant_id=channel.tenant_id, subject_id=contact.subject_id, conversation_id=conversation.id,
        channel_id=channel.id, direction="out" if item.outgoing else "in", kind=item.kind, body=item.text,
        content=item.content, provider_message_id=item.provider_message_id, reply_to_id=reply_to,
        status="sent" if item.outgoing else "received", at=item.at,
    )
    session.add(message)
    session.flush()
    for media in item.media:
        _store_media(session, channel, message, media)
    _touch(conversation, message, inbound=not item.outgoing)
    for hook in AFTER_INBOUND:
        hook(session, message)
    return message


def _touch(conversation: Conversation, message: Message, *, inbound: bool) -> None:
    conversation.last_message_at = max(conversation.last_message_at or message.at, message.at)
    if inbound:
        conversation.last_inbound_at = max(conversation.last_inbound_at or message.at, message.at)
        conversation.unread_count = (conversation.unread_count or 0) + 1
        if conversation.status == "resolved":  # the customer wrote again: the same conversation reopens
            conversation.status = "open"
            conversation.opened_at = message.at
            conversation.first_reply_at = None
            conversation.resolved_at = None


def _store_media(session: Session, channel: Channel, message: Message, media: MediaRef) -> None:
    """Download and keep one file now; a temporary failure propagates so the whole event is retried."""
    attachment = Attachment(tenant_id=channel.tenant_id, subject_id=message.subject_id, message_id=message.id,
                            media_ref=media.ref, filename=media.filename or None, content_type=media.content_type)
    session.add(attachment)
    secrets = channel_secrets.open_secrets(session, channel.tenant_id, channel.id, channel.secrets_sealed)
    try:
        data, content_type, filename = adapter_for(channel.kind).fetch_media(channel, secrets, media)
        if media.sha256 and hashlib.sha256(data).hexdigest() != media.sha256.lower():
            raise TemporaryFailure("media checksum mismatch")
        stored = files.store_file(session, Actor.system(), message.subject_id, data, filename or media.filename or "file",
                                  kind="attachment", tenant_id=channel.tenant_id)
    except PermanentFailure as exc:
        attachment.status, attachment.failure_reason = "failed", exc.reason[:300]
        return
    except (files.FileTooLarge, files.UnsupportedFileType) as exc:
        attachment.status, attachment.failure_reason = "failed", str(exc)[:300]
        return
    attachment.file_id, attachment.status = stored.id, "stored"
    # The type detected from the bytes, never the one the sender or provider claims.
    attachment.content_type, attachment.size = stored.content_type, stored.size
    attachment.filename = filename or media.filename or None
    attachment.media_ref = None  # the provider's link is no longer needed


def apply_status(session: Session, channel: Channel, update_: StatusUpdate) -> bool:
    """Move an outbound message's status forward (never back); `failed` is terminal and keeps the reason."""
    message = session.scalar(select(Message).where(
        Message.tenant_id == channel.tenant_id, Message.channel_id == channel.id,
        Message.provider_message_id == update_.provider_message_id))
    if message is None:
        # The provider may report on a send before our send job has recorded the provider's id (the answer
        # is stored in a second transaction): while a send of this channel is in flight, try again shortly.
        in_flight = session.scalar(select(Message.id).where(
            Message.tenant_id == channel.tenant_id, Message.channel_id == channel.id, Message.status == "sending")
            .limit(1))
        if in_flight is not None:
            raise TemporaryFailure("status arrived before its message's id was recorded")
        return False
    if message.direction != "out":
        return False
    if message.status == "failed":
        return True
    if update_.status == "failed":
        message.status, message.failure_code = "failed", update_.code[:20]
        message.failure_reason = update_.reason[:300]
        message.status_at = update_.at
        return True
    if STATUS_RANK.get(update_.status, -1) > STATUS_RANK.get(message.status, -1):
        message.status, message.status_at = update_.status, update_.at
    return True


def pending_events(session: Session, older_than: timedelta = timedelta(seconds=30), limit: int = 500
                   ) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, event) of events still pending after a while: their job was lost or is retrying."""
    cutoff = utcnow() - older_than
    return list(session.execute(select(InboundEvent.tenant_id, InboundEvent.id).where(
        InboundEvent.status == "pending", InboundEvent.received_at < cutoff).limit(limit)).tuples())


FAILED_PAYLOAD_DAYS = 7


def purge_failed_payloads(session: Session, older_than: timedelta = timedelta(days=FAILED_PAYLOAD_DAYS)) -> int:
    """Empty the raw payload of events that failed for good a week ago: kept that long for staff to look into
    the cause with the provider, never longer (they are sealed under the tenant key, not a person's)."""
    cutoff = utcnow() - older_than
    result = session.execute(update(InboundEvent).where(
        InboundEvent.status == "failed", InboundEvent.payload_sealed.is_not(None), InboundEvent.received_at < cutoff)
        .values(payload_sealed=None), execution_options={"synchronize_session": False})
    return result.rowcount or 0


def mark_read(session: Session, conversation: Conversation) -> None:
    """The agent has seen the conversation: no unread messages; the customer is told where the provider can."""
    if conversation.unread_count:
        _send_read_receipt(session, conversation)
    session.execute(update(Conversation).where(
        Conversation.tenant_id == conversation.tenant_id, Conversation.id == conversation.id).values(unread_count=0))
    conversation.unread_count = 0


def _send_read_receipt(session: Session, conversation: Conversation) -> None:
    """Enqueue a read receipt for the newest customer message, on channels that have them (once per read)."""
    from niaga.inbox.tasks import read_receipt_job
    from niaga.worker import enqueue_after_commit

    channel = session.get(Channel, (conversation.tenant_id, conversation.channel_id))
    if channel is None or not hasattr(adapter_for(channel.kind), "mark_read"):
        return
    newest = session.scalar(select(Message.id).where(
        Message.tenant_id == conversation.tenant_id, Message.conversation_id == conversation.id,
        Message.direction == "in", Message.provider_message_id.is_not(None))
        .order_by(Message.at.desc(), Message.id.desc()).limit(1))
    if newest is not None:
        enqueue_after_commit(session, read_receipt_job, str(conversation.tenant_id), str(newest))


def _acknowledge_after_commit(session: Session, channel: Channel, provider_message_id: str) -> None:
    """Answer a stored button press once the event's transaction commits (a job: no call inside it)."""
    from niaga.inbox.tasks import acknowledge_job
    from niaga.worker import enqueue_after_commit

    enqueue_after_commit(session, acknowledge_job, str(channel.tenant_id), str(channel.id), provider_message_id)

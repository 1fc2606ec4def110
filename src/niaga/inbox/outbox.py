"""Outbound: a transactional outbox over `messages`, sent by a job with retries and backoff.

An agent's reply is written as a queued message in the request's transaction; the send job is enqueued only
after that commits (and the sweeper finds it again if the enqueue was lost). A send is two transactions:
`begin_attempt` records the attempt (status "sending", attempts + 1) and commits *before* the provider is
called, then `finish_attempt` stores the provider's message id, or schedules a retry for 429 / 5xx /
timeouts honouring `retry_after`, or marks the message failed with the provider's reason. A message left in
"sending" by a crash is not resent blindly: WhatsApp and Telegram have no idempotency key, so a resend
could reach the customer twice; it is marked failed with a reason asking staff to check and retry.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact, ContactEmail, ContactPhone
from niaga.db.base import utcnow
from niaga.identity.principal import Principal
from niaga.inbox import secrets as channel_secrets
from niaga.inbox.adapters import (
    OutboundRequest,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    adapter_for,
)
from niaga.inbox.models import (
    Attachment,
    Channel,
    ChannelIdentity,
    Conversation,
    Message,
)
from niaga.kit.errors import Conflict, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.fields import is_readable

MAX_SEND_ATTEMPTS = 8
MAX_TEXT = 4096
# Free-form replies are allowed this long after the customer's last message; after that only an approved
# template (WhatsApp) or nothing (Instagram without the human-agent tag).
REPLY_WINDOWS = {"whatsapp": timedelta(hours=24), "instagram": timedelta(hours=24)}
STUCK_AFTER = timedelta(minutes=10)
# fn(message) run once a message is settled: accepted by the provider or failed for good (e.g. mask a
# one-time code kept in it).
AFTER_SEND: list = []
INTERRUPTED = "Sending was interrupted; it may or may not have reached the customer. Check, then retry."


class OutsideReplyWindow(Conflict):
    """More than 24 hours since the customer's last message: only a template may be sent."""

    code = "outside-reply-window"


def reply_window_open(conversation: Conversation, kind: str) -> bool:
    """True when a free-form message may be sent on this conversation now."""
    window = REPLY_WINDOWS.get(kind)
    if window is None:
        return True
    return conversation.last_inbound_at is not None and utcnow() - conversation.last_inbound_at <= window


def queue_message(session: Session, principal: Principal, conversation: Conversation, *, text: str | None,
                  private: bool = False, template: dict | None = None) -> Message:
    """Write an agent's reply (queued for sending) or internal note; refuses what cannot be sent."""
    text = (text or "").strip()
    if template is None and not text:
        raise ValidationFailed({"body": Msg("Write a message first.")})
    if len(text) > MAX_TEXT:
        raise ValidationFailed({"body": Msg("A message has at most {n} characters.", n=MAX_TEXT)})
    channel = session.get(Channel, (conversation.tenant_id, conversation.channel_id))
    if not private and template is None and not reply_window_open(conversation, channel.kind):
        raise OutsideReplyWindow(Msg("The customer's last message was more than 24 hours ago: "
                                     "only an approved template can be sent now."), field="body")
    now = utcnow()
    message = Message(
        tenant_id=conversation.tenant_id, subject_id=conversation.subject_id, conversation_id=conversation.id,
        channel_id=channel.id, direction="out", kind="note" if private else ("template" if template else "text"),
        body=text or None, content={"template": template} if template else None, private=private,
        template=(template or {}).get("name", "")[:120], author_id=principal.user_id,
        status="sent" if private else "queued", at=now, next_attempt_at=None if private else now,
    )
    session.add(message)
    session.flush()
    conversation.last_message_at = now
    if not private:
        if conversation.first_reply_at is None:
            conversation.first_reply_at = now
        enqueue_delivery(session, message)
    audit.record(session, conversation.tenant_id, "inbox.note_added" if private else "inbox.message_queued",
                 principal.actor, target_type="message", target_id=message.id, subject_id=conversation.subject_id,
                 purpose="U2", details={"channel": channel.kind, "template": message.template or None})
    return message


def enqueue_delivery(session: Session, message: Message, delay: float = 0) -> None:
    """Have the send job pick the message up after this transaction commits."""
    from niaga.inbox.tasks import schedule_delivery
    from niaga.worker import enqueue_after_commit

    enqueue_after_commit(session, schedule_delivery, str(message.tenant_id), str(message.id), delay)


def retry_message(session: Session, principal: Principal, message: Message) -> None:
    """Queue a failed outbound message again (staff decided it should go)."""
    if message.direction != "out" or message.private or message.status != "failed":
        raise Conflict(Msg("Only a failed message can be sent again."))
    message.status, message.failure_code, message.failure_reason = "queued", "", ""
    message.attempts, message.next_attempt_at = 0, utcnow()
    enqueue_delivery(session, message)
    audit.record(session, message.tenant_id, "inbox.message_retried", principal.actor, target_type="message",
                 target_id=message.id, subject_id=message.subject_id, purpose="U2", details={})


def _recipient(session: Session, channel: Channel, conversation: Conversation) -> str | None:
    """The customer's address on this channel."""
    tenant_id = channel.tenant_id
    if channel.kind == "whatsapp":
        phones = session.scalars(select(ContactPhone).where(
            ContactPhone.tenant_id == tenant_id, ContactPhone.contact_id == conversation.contact_id)
            .order_by(ContactPhone.position)).all()
        phone = next((p.phone for p in phones if p.whatsapp and is_readable(p.phone)), None)
        return phone.lstrip("+") if phone else None
    if channel.kind == "email":
        emails = session.scalars(select(ContactEmail).where(
            ContactEmail.tenant_id == tenant_id, ContactEmail.contact_id == conversation.contact_id)
            .order_by(ContactEmail.position)).all()
        return next((e.email for e in emails if is_readable(e.email)), None)
    identity = session.scalar(select(ChannelIdentity).where(
        ChannelIdentity.tenant_id == tenant_id, ChannelIdentity.contact_id == conversation.contact_id,
        ChannelIdentity.kind == channel.kind))
    if identity is None or not is_readable(identity.address):
        return None
    return identity.address.split(":", 1)[1]


def _thread(session: Session, message: Message) -> tuple[str | None, list[str]]:
    """(the provider id replied to, the thread's Message-IDs oldest first) for threading replies."""
    ids = session.scalars(select(Message.provider_message_id).where(
        Message.tenant_id == message.tenant_id, Message.conversation_id == message.conversation_id,
        Message.provider_message_id.is_not(None), Message.at <= message.at).order_by(Message.at)).all()
    last_inbound = session.scalar(select(Message.provider_message_id).where(
        Message.tenant_id == message.tenant_id, Message.conversation_id == message.conversation_id,
        Message.direction == "in", Message.provider_message_id.is_not(None)).order_by(Message.at.desc()).limit(1))
    return last_inbound, list(ids)


@dataclass
class Attempt:
    """A send in progress: what to send, on which channel, with which secrets."""

    tenant_id: uuid.UUID
    message_id: uuid.UUID
    channel: Channel
    secrets: dict
    request: OutboundRequest


def channel_able_to(session: Session, tenant_id: uuid.UUID, channel_id: uuid.UUID, action: str) -> tuple | None:
    """(adapter, channel, secrets) of an active channel whose adapter has the optional `action`; else None."""
    channel = session.get(Channel, (tenant_id, channel_id))
    if channel is None or not channel.active or not hasattr(adapter_for(channel.kind), action):
        return None
    return adapter_for(channel.kind), channel, channel_secrets.open_secrets(session, tenant_id, channel.id,
                                                                           channel.secrets_sealed)


def read_receipt_target(session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID) -> tuple | None:
    """(adapter, channel, secrets, provider id) to mark a customer's message read; None when there is none."""
    message = session.get(Message, (tenant_id, message_id))
    if message is None or message.direction != "in" or not message.provider_message_id:
        return None
    found = channel_able_to(session, tenant_id, message.channel_id, "mark_read")
    return (*found, message.provider_message_id) if found is not None else None


def begin_attempt(session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID) -> Attempt | None:
    """Claim a queued message for sending (commit before calling the provider); None when not due."""
    message = session.get(Message, (tenant_id, message_id))
    if message is None or message.status != "queued" or message.private:
        return None
    if message.next_attempt_at is not None and message.next_attempt_at > utcnow() + timedelta(seconds=1):
        return None
    conversation = session.get(Conversation, (tenant_id, message.conversation_id))
    channel = session.get(Channel, (tenant_id, message.channel_id))
    to = _recipient(session, channel, conversation)
    if to is None or not channel.active:
        message.status = "failed"
        message.failure_reason = ("The customer has no address on this channel (erased or removed)." if to is None
                                  else "The channel is switched off.")
        return None
    reply_to, references = _thread(session, message)
    content = message.content if is_readable(message.content) else None
    request = OutboundRequest(
        message_id=str(message.id), to=to, kind=message.kind, text=message.body if is_readable(message.body) else None,
        template=(content or {}).get("template"), reply_to_provider_id=reply_to,
        subject=conversation.topic if is_readable(conversation.topic) else None, references=references,
        extra=dict((content or {}).get("extra") or {}),  # e.g. a broadcast's unsubscribe link for email
    )
    message.status, message.attempts = "sending", message.attempts + 1
    message.next_attempt_at = utcnow()  # when the claim was made: a claim this old was interrupted
    secrets = channel_secrets.open_secrets(session, tenant_id, channel.id, channel.secrets_sealed)
    session.expunge(channel)
    return Attempt(tenant_id, message_id, channel, secrets, request)


def send(attempt: Attempt) -> SendResult | TemporaryFailure | PermanentFailure:
    """Call the provider (outside any transaction); the outcome, never an exception."""
    try:
        return adapter_for(attempt.channel.kind).send(attempt.channel, attempt.secrets, attempt.request)
    except (TemporaryFailure, PermanentFailure) as exc:
        return exc
    except (OSError, TimeoutError) as exc:  # connection refused, reset, DNS: the provider was not reached
        return TemporaryFailure(type(exc).__name__)


def backoff_seconds(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter, at least the provider's retry_after, at most an hour."""
    base = min(3600.0, 5.0 * 2 ** max(0, attempts - 1))
    return max(retry_after or 0.0, base * random.uniform(0.8, 1.2))


def finish_attempt(session: Session, attempt: Attempt, outcome: SendResult | TemporaryFailure | PermanentFailure
                   ) -> str:
    """Record a send's outcome; returns the message's new status."""
    message = session.get(Message, (attempt.tenant_id, attempt.message_id))
    if message is None:
        return "missing"
    now = utcnow()
    if isinstance(outcome, SendResult):
        _drop_echo_of(session, message, outcome.provider_message_id[:250])
        message.provider_message_id = outcome.provider_message_id[:250]
        if message.status in ("sending", "queued"):  # a status webhook may already have moved it on
            message.status = "sent"
            message.status_at = now
        message.next_attempt_at = None
        for hook in AFTER_SEND:
            hook(message)
    elif isinstance(outcome, TemporaryFailure) and message.attempts < MAX_SEND_ATTEMPTS:
        delay = backoff_seconds(message.attempts, outcome.retry_after)
        message.status, message.next_attempt_at = "queued", now + timedelta(seconds=delay)
        message.failure_reason = outcome.reason[:300]
        enqueue_delivery(session, message, delay)
    else:
        message.status = "failed"
        message.failure_code = getattr(outcome, "code", "")[:20]
        message.failure_reason = outcome.reason[:300]
        message.next_attempt_at = None
        for hook in AFTER_SEND:
            hook(message)
    return message.status


def _drop_echo_of(session: Session, message: Message, provider_id: str) -> None:
    """Instagram echoes our own sends with the same id, and the echo can be processed before the send's answer
    is recorded: that echo is this message, stored twice. Drop it so the id stays unique (no failed finish)."""
    echo = session.scalar(select(Message).where(
        Message.tenant_id == message.tenant_id, Message.channel_id == message.channel_id,
        Message.provider_message_id == provider_id, Message.id != message.id))
    if echo is None or echo.direction != "out" or echo.author_id is not None:
        return
    session.execute(delete(Attachment).where(Attachment.tenant_id == echo.tenant_id,
                                             Attachment.message_id == echo.id))
    session.delete(echo)
    session.flush()


def send_now(session: Session, tenant_id: uuid.UUID, message_id: uuid.UUID) -> str:
    """Claim, send and record one message in one session (tests and the CLI; the job commits in between)."""
    attempt = begin_attempt(session, tenant_id, message_id)
    if attempt is None:
        message = session.get(Message, (tenant_id, message_id))
        return message.status if message is not None else "missing"
    session.flush()
    return finish_attempt(session, attempt, send(attempt))


def due_messages(session: Session, limit: int = 500) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, message) of queued messages whose time has come (lost jobs are found again here)."""
    now = utcnow()
    return list(session.execute(select(Message.tenant_id, Message.id).where(
        Message.status == "queued", or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
        .limit(limit)).tuples())


def fail_interrupted(session: Session) -> int:
    """Messages left in 'sending' by a crash: failed with a reason, for staff to check and retry."""
    cutoff = utcnow() - STUCK_AFTER
    stuck = session.scalars(select(Message).where(Message.status == "sending",
                                                  Message.next_attempt_at < cutoff)).all()
    for message in stuck:
        message.status, message.failure_reason = "failed", INTERRUPTED
    return len(stuck)


def contact_of(session: Session, conversation: Conversation) -> Contact | None:
    """The conversation's contact."""
    return session.get(Contact, (conversation.tenant_id, conversation.contact_id))

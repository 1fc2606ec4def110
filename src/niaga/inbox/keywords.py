"""Opt-out by chat keyword (policies.md U6 "WhatsApp opt-out", R4, R5).

A customer who writes only STOP, BERHENTI or UNSUBSCRIBE (any case, surrounding spaces ignored) withdraws
their consent to promotions on that channel: the withdrawal is recorded in the consent ledger (method
chat_keyword, evidence: the message's id), so the next broadcast skips them, and a short confirmation is
queued as a service message — allowed, since the customer has just written (the reply window is open).
Registered as an `ingest.AFTER_INBOUND` hook when this module is imported (the inbox jobs import it).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from niaga.inbox import ingest
from niaga.inbox.broadcasts import PURPOSE_BY_KIND, queue_system_message
from niaga.inbox.models import Channel, Conversation, Message
from niaga.privacy.audit import Actor
from niaga.privacy.consent import ConsentMethod, record_consent
from niaga.privacy.fields import is_readable
from niaga.privacy.models import DataSubject

STOP_WORDS = frozenset({"stop", "berhenti", "unsubscribe"})
KEYWORD_KINDS = ("text", "button", "interactive")  # typed, or a template's opt-out quick-reply button
CONFIRMATION = (
    "Anda tidak akan menerima pesan promosi lagi dari kami di saluran ini. Pesan layanan (misalnya tentang "
    "pesanan Anda) tetap kami kirim.\n\n"
    "You will not receive promotional messages from us on this channel any more. Service messages (about your "
    "orders, for example) will still reach you."
)


def is_stop_keyword(text: object) -> bool:
    """True when the whole message, trimmed, is one of the opt-out words."""
    return isinstance(text, str) and text.strip().casefold() in STOP_WORDS


def handle_stop_keyword(session: Session, message: Message) -> None:
    """AFTER_INBOUND hook: a STOP message withdraws the channel's marketing consent and is confirmed."""
    if message.direction != "in" or message.kind not in KEYWORD_KINDS or not is_readable(message.body) \
            or not is_stop_keyword(message.body):
        return
    channel = session.get(Channel, (message.tenant_id, message.channel_id))
    purpose = PURPOSE_BY_KIND.get(channel.kind) if channel is not None else None
    subject = session.get(DataSubject, (message.tenant_id, message.subject_id))
    if purpose is None or subject is None or subject.is_erased:
        return
    record_consent(session, subject, purpose, False, method=ConsentMethod.CHAT_KEYWORD, actor=Actor.system(),
                   channel=channel.kind, evidence={"message_id": str(message.id),
                                                   "keyword": message.body.strip().casefold()})
    conversation = session.get(Conversation, (message.tenant_id, message.conversation_id))
    queue_system_message(session, conversation, CONFIRMATION)


if handle_stop_keyword not in ingest.AFTER_INBOUND:
    ingest.AFTER_INBOUND.append(handle_stop_keyword)

"""Marketing broadcasts, only to people who said yes (policies.md U6, R4, R5, H3; issue capability 6).

A broadcast is a message for a segment of contacts (a tag, or everyone) on one channel. Sending it asks the
consent ledger about every contact (`privacy.consent.marketing_audience`): active consent for that channel's
marketing purpose, no restriction or objection, not erased — and a child (under 18) only with a guardian's
consent. Included contacts get a queued message in their conversation (created when needed) through the
outbox; every skipped contact is recorded with the reason, shown on the broadcast page and in the API.

Email broadcasts carry a working unsubscribe link: a random token (stored as its SHA-256) tied to the tenant,
the contact and the purpose, opening the public page `/unsubscribe/<token>`. The link goes into the body and
into the message content's `extra` dict under the key `list_unsubscribe`; the email adapter turns that into
the `List-Unsubscribe` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers.
"""

from __future__ import annotations

import hashlib
import secrets as random_tokens
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.contacts.repository import tag_clause
from niaga.crm.contacts.validation import clean_tags
from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.identity.principal import Principal
from niaga.inbox import ingest, outbox
from niaga.inbox.broadcast_models import Broadcast, BroadcastRecipient, UnsubscribeToken
from niaga.inbox.models import Channel, Conversation, Message
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.audit import Actor
from niaga.privacy.consent import (
    ConsentMethod,
    ConsentPurpose,
    current_consents,
    is_child,
    marketing_audience,
    record_consent,
)
from niaga.privacy.fields import is_readable
from niaga.privacy.models import DataSubject
from niaga.web.i18n import N_

PURPOSE_BY_KIND = {
    "whatsapp": ConsentPurpose.MARKETING_WHATSAPP,
    "email": ConsentPurpose.MARKETING_EMAIL,
    "telegram": ConsentPurpose.MARKETING_TELEGRAM,
    "line": ConsentPurpose.MARKETING_LINE,
    "instagram": ConsentPurpose.MARKETING_INSTAGRAM,
}
# Why a contact did not get the broadcast (the codes of marketing_audience plus our own).
REASONS = {
    "ok": N_("Sent"),
    "no-consent": N_("Never agreed to promotions on this channel"),
    "withdrawn": N_("Withdrew consent to promotions on this channel"),
    "restricted": N_("Asked to restrict processing"),
    "objected": N_("Objected to marketing"),
    "erased": N_("Data erased"),
    "child-no-guardian": N_("Under 18 without a guardian's consent"),
    "no-address": N_("No address on this channel"),
}
MAX_TEXT = outbox.MAX_TEXT
UNSUBSCRIBE_TTL = timedelta(days=365)
EMAIL_FOOTER = "\n\n--\nBerhenti menerima email promosi / Unsubscribe: {url}"


# -- a message written by the system (broadcasts, STOP confirmations) ---------------------------------------
def queue_system_message(session: Session, conversation: Conversation, text: str | None, *,
                         template: dict | None = None, extra: dict[str, Any] | None = None,
                         broadcast_id: uuid.UUID | None = None, author_id: uuid.UUID | None = None) -> Message:
    """Queue an outbound message that is not an agent's reply (no reply-time metrics are touched)."""
    now = utcnow()
    content: dict[str, Any] = {}
    if template:
        content["template"] = template
    if extra:
        content["extra"] = extra
    message = Message(
        tenant_id=conversation.tenant_id, subject_id=conversation.subject_id, conversation_id=conversation.id,
        channel_id=conversation.channel_id, direction="out", kind="template" if template else "text",
        body=text or None, content=content or None, template=(template or {}).get("name", "")[:120],
        author_id=author_id, status="queued", at=now, next_attempt_at=now, broadcast_id=broadcast_id,
    )
    session.add(message)
    session.flush()
    conversation.last_message_at = now
    outbox.enqueue_delivery(session, message)
    return message


# -- creating and reading ------------------------------------------------------------------------------------
def _check_template(raw: Any, errors: dict[str, Msg]) -> dict | None:
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip() \
            or len(raw["name"]) > 120:
        errors["template"] = Msg("Give the approved template's name.")
        return None
    language = raw.get("language") or "id"
    parameters = raw.get("parameters") or []
    if not isinstance(language, str) or len(language) > 10 or not isinstance(parameters, list) \
            or not all(isinstance(p, str) and len(p) <= 1000 for p in parameters) or len(parameters) > 10:
        errors["template"] = Msg("The template's language or parameters are not valid.")
        return None
    return {"name": raw["name"].strip(), "language": language, "parameters": parameters}


def create_broadcast(session: Session, principal: Principal, data: dict[str, Any]) -> Broadcast:
    """A draft broadcast: channel, audience (a tag or everyone), and the text (or a WhatsApp template)."""
    errors: dict[str, Msg] = {}
    channel = None
    try:
        channel = session.get(Channel, (principal.tenant_id, uuid.UUID(str(data.get("channel_id") or ""))))
    except ValueError:
        pass
    if channel is None:
        errors["channel_id"] = Msg("Choose a channel.")
    elif channel.kind not in PURPOSE_BY_KIND:
        errors["channel_id"] = Msg("Promotions cannot be sent on this channel.")
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 120:
        errors["name"] = Msg("Give the broadcast a name of at most {n} characters.", n=120)
    body = str(data.get("body") or "").strip()
    template = _check_template(data.get("template"), errors)
    if channel is not None and channel.kind == "whatsapp" and template is None and "template" not in errors:
        errors["template"] = Msg("WhatsApp promotions must use an approved template.")
    if template is None and not body:
        errors["body"] = Msg("Write a message first.")
    if len(body) > MAX_TEXT - 200:  # room for the unsubscribe link
        errors["body"] = Msg("A message has at most {n} characters.", n=MAX_TEXT - 200)
    tag = _segment_tag(data.get("segment_tag"), errors)
    subject = str(data.get("email_subject") or "").strip()
    if len(subject) > 200:
        errors["email_subject"] = Msg("Use at most {n} characters.", n=200)
    if errors:
        raise ValidationFailed(errors)
    broadcast = Broadcast(tenant_id=principal.tenant_id, channel_id=channel.id, name=name, body=body,
                          template=template, segment_tag=tag, email_subject=subject or name, status="draft",
                          created_by=principal.user_id, queued_count=0, skipped_count=0)
    session.add(broadcast)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.broadcast_created", principal.actor, target_type="broadcast",
                 target_id=broadcast.id, purpose="U6", details={"channel": channel.kind})
    return broadcast


def get_broadcast(session: Session, principal: Principal, broadcast_id: uuid.UUID) -> Broadcast:
    """A broadcast of the principal's tenant; 404 otherwise."""
    found = session.get(Broadcast, (principal.tenant_id, broadcast_id))
    if found is None:
        raise NotFound(Msg("No such broadcast."))
    return found


def list_broadcasts(session: Session, principal: Principal, limit: int = 100) -> list[Broadcast]:
    """The tenant's broadcasts, newest first."""
    return list(session.scalars(select(Broadcast).where(Broadcast.tenant_id == principal.tenant_id)
                                .order_by(Broadcast.created_at.desc()).limit(limit)))


def recipients(session: Session, broadcast: Broadcast) -> list[tuple[BroadcastRecipient, Contact]]:
    """Who got a sent broadcast and who was skipped (with the reason), skipped first."""
    rows = session.execute(
        select(BroadcastRecipient, Contact).join(Contact, (Contact.tenant_id == BroadcastRecipient.tenant_id)
                                                 & (Contact.id == BroadcastRecipient.contact_id))
        .where(BroadcastRecipient.tenant_id == broadcast.tenant_id, BroadcastRecipient.broadcast_id == broadcast.id)
        .order_by(BroadcastRecipient.outcome.desc(), BroadcastRecipient.id)).all()
    return [(recipient, contact) for recipient, contact in rows]


# -- deciding and sending ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """Whether one contact of the segment gets the broadcast."""

    contact: Contact
    reason: str  # a REASONS key; "ok" means included

    @property
    def included(self) -> bool:
        return self.reason == "ok"


def _segment_tag(value: Any, errors: dict[str, Msg]) -> str:
    """One tag, folded as contacts' tags are stored (so the database can match it); '' for everyone."""
    found: dict[str, Msg] = {}
    tags = clean_tags(str(value or ""), found, "segment_tag")
    if found or len(tags) > 1:
        errors["segment_tag"] = found.get("segment_tag") or Msg("Choose one tag, or none for everyone.")
        return ""
    return tags[0] if tags else ""


def segment(session: Session, tenant_id: uuid.UUID, tag: str) -> list[Contact]:
    """The active (not merged) contacts with the tag, or all of them when the tag is empty (selected in SQL)."""
    query = select(Contact).where(Contact.tenant_id == tenant_id, Contact.status == "active")
    if tag:
        folded = _segment_tag(tag, {})  # drafts saved before tags were folded here
        if not folded:
            return []
        query = query.where(tag_clause(folded))
    return list(session.scalars(query.order_by(Contact.id)))


def _has_address(session: Session, channel: Channel, contact: Contact) -> bool:
    return outbox._recipient(session, channel, SimpleNamespace(contact_id=contact.id)) is not None


def decide(session: Session, broadcast: Broadcast) -> list[Decision]:
    """The consent ledger's answer for every contact of the segment, plus the child and address checks."""
    channel = session.get(Channel, (broadcast.tenant_id, broadcast.channel_id))
    purpose = PURPOSE_BY_KIND[channel.kind]
    contacts = segment(session, broadcast.tenant_id, broadcast.segment_tag)
    by_subject = {c.subject_id: c for c in contacts}
    decisions = []
    for verdict in marketing_audience(session, broadcast.tenant_id, purpose, list(by_subject)):
        contact, reason = by_subject[verdict.subject_id], verdict.reason
        if reason == "ok" and is_readable(contact.birth_date) and is_child(contact.birth_date):
            state = current_consents(session, broadcast.tenant_id, contact.subject_id)[purpose]
            if not state.by_guardian:
                reason = "child-no-guardian"  # H3: a child's consent counts only when a guardian gave it
        if reason == "ok" and not _has_address(session, channel, contact):
            reason = "no-address"
        decisions.append(Decision(contact, reason))
    return decisions


def send_broadcast(session: Session, principal: Principal, broadcast: Broadcast, base_url: str) -> Broadcast:
    """Queue the broadcast for every consenting contact and record everyone skipped; once only."""
    if broadcast.status != "draft":
        raise Conflict(Msg("This broadcast was already sent."))
    channel = session.get(Channel, (broadcast.tenant_id, broadcast.channel_id))
    if not channel.active:
        raise Conflict(Msg("The channel is switched off."))
    purpose = PURPOSE_BY_KIND[channel.kind]
    queued = skipped = 0
    for decision in decide(session, broadcast):
        contact = decision.contact
        recipient = BroadcastRecipient(tenant_id=broadcast.tenant_id, broadcast_id=broadcast.id,
                                       contact_id=contact.id, outcome="queued" if decision.included else "skipped",
                                       reason=decision.reason)
        if decision.included:
            recipient.message_id = _queue_for(session, principal, broadcast, channel, contact, purpose, base_url).id
            queued += 1
        else:
            skipped += 1
        session.add(recipient)
    broadcast.status, broadcast.sent_at, broadcast.sent_by = "sent", utcnow(), principal.user_id
    broadcast.queued_count, broadcast.skipped_count = queued, skipped
    session.flush()
    audit.record(session, broadcast.tenant_id, "inbox.broadcast_sent", principal.actor, target_type="broadcast",
                 target_id=broadcast.id, purpose="U6",
                 details={"channel": channel.kind, "queued": queued, "skipped": skipped})
    return broadcast


def _queue_for(session: Session, principal: Principal, broadcast: Broadcast, channel: Channel, contact: Contact,
               purpose: ConsentPurpose, base_url: str) -> Message:
    """The contact's message: in their chat conversation, or a new email thread for this broadcast."""
    email = channel.kind == "email"
    key = ingest.thread_key(f"broadcast:{broadcast.id}") if email else ""
    found = session.scalar(select(Conversation).where(
        Conversation.tenant_id == channel.tenant_id, Conversation.channel_id == channel.id,
        Conversation.contact_id == contact.id, Conversation.thread_key == key))
    conversation = found or ingest.conversation_for(session, channel, contact, key,
                                                    broadcast.email_subject if email else None)
    if found is None:  # a promotion is no open case: the conversation opens when the customer answers
        conversation.status, conversation.resolved_at = "resolved", utcnow()
    text, extra = broadcast.body or None, None
    if email:
        token = issue_unsubscribe_token(session, contact, purpose, broadcast.id)
        url = f"{base_url.rstrip('/')}/unsubscribe/{token}"
        text, extra = (text or "") + EMAIL_FOOTER.format(url=url), {"list_unsubscribe": url}
    return queue_system_message(session, conversation, text, template=broadcast.template, extra=extra,
                                broadcast_id=broadcast.id, author_id=principal.user_id)


# -- unsubscribe links ------------------------------------------------------------------------------------------
def token_digest(token: str) -> bytes:
    """What is stored for an unsubscribe token (the token itself never is)."""
    return hashlib.sha256(token.encode()).digest()


def issue_unsubscribe_token(session: Session, contact: Contact, purpose: ConsentPurpose,
                            broadcast_id: uuid.UUID | None = None) -> str:
    """A new unsubscribe token for one contact and purpose (returned once; stored hashed)."""
    token = random_tokens.token_urlsafe(32)
    session.add(UnsubscribeToken(tenant_id=contact.tenant_id, token_hash=token_digest(token), contact_id=contact.id,
                                 purpose=purpose.value, broadcast_id=broadcast_id,
                                 expires_at=utcnow() + UNSUBSCRIBE_TTL))
    return token


def find_unsubscribe(session: Session, token: str) -> tuple[UnsubscribeToken, DataSubject]:
    """The live token row and its person; NotFound for anything unknown, expired or no longer applicable."""
    row = None
    if 20 <= len(token) <= 100:
        row = session.scalar(select(UnsubscribeToken).where(UnsubscribeToken.token_hash == token_digest(token)))
    subject = None
    if row is not None and row.expires_at > utcnow():
        contact = session.get(Contact, (row.tenant_id, row.contact_id))
        while contact is not None and contact.status == "merged" and contact.merged_into_id is not None:
            contact = session.get(Contact, (row.tenant_id, contact.merged_into_id))
        subject = session.get(DataSubject, (row.tenant_id, contact.subject_id)) if contact is not None else None
    if subject is None or subject.is_erased:
        raise NotFound(Msg("This unsubscribe link is not valid or has expired."))
    return row, subject


def unsubscribe(session: Session, token: str, *, one_click: bool) -> UnsubscribeToken:
    """Withdraw the link's marketing consent (R4, R5); repeating it changes nothing."""
    row, subject = find_unsubscribe(session, token)
    purpose = ConsentPurpose(row.purpose)
    if row.used_at is None:
        record_consent(session, subject, purpose, False, method=ConsentMethod.FORM, actor=Actor("subject", subject.id),
                       channel="email", evidence={"via": "unsubscribe-link", "one_click": one_click,
                                                  "broadcast_id": str(row.broadcast_id) if row.broadcast_id else None})
        row.used_at = utcnow()
    return row

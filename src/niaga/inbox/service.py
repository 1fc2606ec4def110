"""Inbox services other code calls: channels (with sealed secrets), who sees which conversation, timeline.

Visibility (DESIGN rule 3, one place): owners, admins, managers and auditors see every conversation;
agents see those assigned to them, to their teams, and unassigned ones (so they can pick them up).
"""

from __future__ import annotations

import secrets as random_tokens
import uuid
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, update
from sqlalchemy.orm import Session

from niaga.crm.contacts.merge import BEFORE_REPOINT, register_contact_reference
from niaga.crm.timeline import TimelineItem, register_source
from niaga.identity.models import TeamMember
from niaga.identity.permissions import FULL_VISIBILITY, Perm
from niaga.identity.principal import Principal
from niaga.inbox import secrets as channel_secrets
from niaga.inbox.adapters import ADAPTERS, load_adapters
from niaga.inbox.models import (
    CHANNEL_KINDS,
    Channel,
    ChannelIdentity,
    Conversation,
    Message,
)
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit


def create_channel(session: Session, principal: Principal, *, kind: str, name: str, account_ref: str = "",
                   config: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> Channel:
    """Connect a channel account; its webhook key and verify token are generated here."""
    errors: dict[str, Msg] = {}
    if kind not in CHANNEL_KINDS:
        errors["kind"] = Msg("Choose a channel type.")
    name = (name or "").strip()
    if not name or len(name) > 80:
        errors["name"] = Msg("Give the channel a name of at most {n} characters.", n=80)
    if len(account_ref or "") > 200:
        errors["account_ref"] = Msg("Use at most {n} characters.", n=200)
    if errors:
        raise ValidationFailed(errors)
    channel = Channel(tenant_id=principal.tenant_id, kind=kind, name=name, account_ref=(account_ref or "").strip(),
                      webhook_key=random_tokens.token_urlsafe(24), verify_token=random_tokens.token_urlsafe(24),
                      config=dict(config or {}), active=True)
    session.add(channel)
    session.flush()
    # An adapter may complete the secrets on creation (Telegram: a generated webhook secret token).
    prepare = getattr(ADAPTERS.get(kind) or (load_adapters() or ADAPTERS.get(kind)), "prepare_secrets", None)
    if prepare is not None:
        secrets = prepare(channel, dict(secrets or {}))
    if secrets:
        channel.secrets_sealed = channel_secrets.seal_secrets(session, principal.tenant_id, channel.id, secrets)
    audit.record(session, principal.tenant_id, "inbox.channel_created", principal.actor, target_type="channel",
                 target_id=channel.id, purpose="U1", details={"kind": kind})
    return channel


def set_channel_secrets(session: Session, principal: Principal, channel: Channel, secrets: dict[str, Any]) -> None:
    """Replace a channel's secrets (merged over the stored ones; an empty value removes a secret)."""
    current = channel_secrets.open_secrets(session, channel.tenant_id, channel.id, channel.secrets_sealed)
    for key, value in secrets.items():
        if value in (None, ""):
            current.pop(key, None)
        else:
            current[key] = value
    channel.secrets_sealed = channel_secrets.seal_secrets(session, channel.tenant_id, channel.id, current)
    audit.record(session, channel.tenant_id, "inbox.channel_secrets_changed", principal.actor,
                 target_type="channel", target_id=channel.id, purpose="U1", details={"keys": sorted(secrets)})


def channel_secrets_of(session: Session, channel: Channel) -> dict[str, Any]:
    """A channel's secrets, unsealed (for adapters and the settings page's 'is set' marks only)."""
    return channel_secrets.open_secrets(session, channel.tenant_id, channel.id, channel.secrets_sealed)


def get_channel(session: Session, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    """A channel of the tenant; 404 otherwise."""
    channel = session.get(Channel, (tenant_id, channel_id))
    if channel is None:
        raise NotFound(Msg("No such channel."))
    return channel


def list_channels(session: Session, tenant_id: uuid.UUID) -> list[Channel]:
    """The tenant's channels, by kind and name."""
    return list(session.scalars(select(Channel).where(Channel.tenant_id == tenant_id)
                                .order_by(Channel.kind, Channel.name)))


def webhook_path(channel: Channel) -> str:
    """The path providers deliver to; the settings page prefixes the public base URL."""
    return f"/webhooks/{channel.kind}/{channel.webhook_key}"


def visible_clause(principal: Principal) -> ColumnElement[bool]:
    """SQL condition: the conversations this principal may see."""
    if not principal.can(Perm.INBOX_READ):
        return false()
    if principal.role in FULL_VISIBILITY:
        return Conversation.tenant_id == principal.tenant_id
    teams = select(TeamMember.team_id).where(TeamMember.tenant_id == principal.tenant_id,
                                             TeamMember.user_id == principal.user_id)
    return (Conversation.tenant_id == principal.tenant_id) & or_(
        Conversation.assignee_id == principal.user_id,
        Conversation.assignee_id.is_(None),
        Conversation.team_id.in_(teams),
    )


def get_conversation(session: Session, principal: Principal, conversation_id: uuid.UUID) -> Conversation:
    """A conversation the principal may see; 404 otherwise (another tenant's: the same answer)."""
    found = session.scalar(select(Conversation).where(Conversation.id == conversation_id, visible_clause(principal)))
    if found is None:
        raise NotFound(Msg("No such conversation."))
    return found


def _timeline(session: Session, principal: Principal, contact: Any, limit: int) -> list[TimelineItem]:
    """The contact's recent messages for the CRM timeline (only conversations the principal may see)."""
    rows = session.execute(
        select(Message, Channel.kind).join(Conversation, (Conversation.tenant_id == Message.tenant_id)
                                           & (Conversation.id == Message.conversation_id))
        .join(Channel, (Channel.tenant_id == Message.tenant_id) & (Channel.id == Message.channel_id))
        .where(Message.tenant_id == contact.tenant_id, Conversation.contact_id == contact.id,
               visible_clause(principal), Message.private.is_(False))
        .order_by(Message.at.desc()).limit(limit)
    ).all()
    items = []
    for message, kind in rows:
        title = Msg("Message received on {channel}", channel=kind) if message.direction == "in" else \
            Msg("Message sent on {channel}", channel=kind)
        items.append(TimelineItem(at=message.at, kind="message", title=title, detail=message.body,
                                  link=f"/inbox/conversations/{message.conversation_id}"))
    return items


def _fold_conversations(session: Session, tenant_id: uuid.UUID, keep: Any, duplicate: Any) -> None:
    """Merging contacts: a duplicate's conversation on a channel where the kept contact has one joins it."""
    kept = {(c.channel_id, c.thread_key): c for c in session.scalars(select(Conversation).where(
        Conversation.tenant_id == tenant_id, Conversation.contact_id == keep.id))}
    for conversation in session.scalars(select(Conversation).where(
            Conversation.tenant_id == tenant_id, Conversation.contact_id == duplicate.id)).all():
        twin = kept.get((conversation.channel_id, conversation.thread_key))
        if twin is None:
            continue
        session.execute(update(Message).where(Message.tenant_id == tenant_id,
                                              Message.conversation_id == conversation.id)
                        .values(conversation_id=twin.id), execution_options={"synchronize_session": False})
        twin.unread_count = (twin.unread_count or 0) + (conversation.unread_count or 0)
        twin.last_message_at = max(twin.last_message_at, conversation.last_message_at)
        if conversation.last_inbound_at and (twin.last_inbound_at is None
                                             or conversation.last_inbound_at > twin.last_inbound_at):
            twin.last_inbound_at = conversation.last_inbound_at
        if twin.status == "resolved" and conversation.status != "resolved":
            twin.status = conversation.status
        session.delete(conversation)
    session.flush()


register_source("messages", _timeline)
BEFORE_REPOINT.append(_fold_conversations)
register_contact_reference(Conversation)
register_contact_reference(ChannelIdentity)

"""The agent inbox as a service: lists with filters, unread counts, reading, replying, status and labels.

Visibility comes from one place (`service.visible_clause`): every query here goes through it, so an agent
never lists, counts, reads or changes a colleague's conversation, and another business's conversation is
"not found". Reading a conversation marks it read and is audited (purpose U2: answering the customer);
audit details carry ids and fixed words only, never what the customer wrote.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.identity.principal import Principal
from niaga.inbox import canned, ingest, outbox
from niaga.inbox.agent_models import MAX_LABEL, ConversationLabel
from niaga.inbox.models import (
    CHANNEL_KINDS,
    CONVERSATION_STATUSES,
    Attachment,
    Channel,
    Conversation,
    Message,
)
from niaga.inbox.service import get_conversation, visible_clause
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit, files

VIEWS = ("mine", "unassigned", "all")
PAGE_SIZE = 50
MAX_LABELS = 10
LABEL_NAME = re.compile(rf"^[a-z0-9][a-z0-9 _-]{{0,{MAX_LABEL - 1}}}$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MAX_TEMPLATE_VALUES = 10
STATUS_MESSAGE = Msg("Choose a status: open, pending or resolved.")


@dataclass
class ListFilter:
    """What the conversation list shows."""

    view: str = "all"
    status: str | None = "open"  # None: every status
    channel_id: uuid.UUID | None = None
    label: str | None = None
    before: uuid.UUID | None = None  # cursor: continue after this conversation
    limit: int = PAGE_SIZE

    def query(self) -> dict[str, str]:
        """The filter as query parameters (ids and fixed words only)."""
        values = {"view": self.view, "status": self.status or "all", "channel_id": str(self.channel_id or ""),
                  "label": self.label or ""}
        return {k: v for k, v in values.items() if v}


def _parse_id(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def check_filter(values: dict[str, Any]) -> ListFilter:
    """A filter from query parameters; unknown values are refused with a message."""
    errors: dict[str, str] = {}
    flt = ListFilter()
    view = values.get("view") or "all"
    if view not in VIEWS:
        errors["view"] = Msg("Choose mine, unassigned or all.")
    flt.view = view
    status = values.get("status") or "open"
    if status != "all" and status not in CONVERSATION_STATUSES:
        errors["status"] = STATUS_MESSAGE
    flt.status = None if status == "all" else status
    for key in ("channel_id", "before"):
        raw = values.get(key) or None
        parsed = _parse_id(raw) if raw else None
        if raw and parsed is None:
            errors[key] = Msg("Not a valid id.")
        setattr(flt, key, parsed)
    label = (values.get("label") or "").strip().lower() or None
    if label is not None and not LABEL_NAME.match(label):
        errors["label"] = Msg("No such label.")
    flt.label = label
    limit = values.get("limit")
    if limit not in (None, ""):
        try:
            flt.limit = max(1, min(200, int(limit)))
        except (TypeError, ValueError):
            errors["limit"] = Msg("Not a valid number.")
    if errors:
        raise ValidationFailed(errors)
    return flt


def _view_clause(principal: Principal, view: str):
    if view == "mine":
        return Conversation.assignee_id == principal.user_id
    if view == "unassigned":
        return Conversation.assignee_id.is_(None)
    return Conversation.tenant_id == principal.tenant_id


def _label_clause(label: str):
    # Label names are plain words, so the quoted name appears in the stored JSON list exactly when it is one.
    return cast(Conversation.labels, String).contains(f'"{label}"', autoescape=True)


def _filtered(principal: Principal, flt: ListFilter):
    query = select(Conversation).where(visible_clause(principal), _view_clause(principal, flt.view))
    if flt.status:
        query = query.where(Conversation.status == flt.status)
    if flt.channel_id:
        query = query.where(Conversation.channel_id == flt.channel_id)
    if flt.label:
        query = query.where(_label_clause(flt.label))
    return query


def list_conversations(session: Session, principal: Principal, flt: ListFilter) -> tuple[list[Conversation], bool]:
    """Visible conversations matching the filter, latest activity first; returns (page, more after it)."""
    query = _filtered(principal, flt)
    if flt.before is not None:
        anchor = session.scalar(select(Conversation).where(visible_clause(principal), Conversation.id == flt.before))
        if anchor is not None:
            query = query.where(or_(Conversation.last_message_at < anchor.last_message_at,
                                    (Conversation.last_message_at == anchor.last_message_at)
                                    & (Conversation.id < anchor.id)))
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(flt.limit + 1)
    rows = list(session.scalars(query))
    return rows[:flt.limit], len(rows) > flt.limit


def unread_counts(session: Session, principal: Principal) -> dict[str, int]:
    """Conversations with unread messages per view (resolved ones left out)."""
    counts = {}
    for view in VIEWS:
        counts[view] = session.scalar(select(func.count()).select_from(Conversation).where(
            visible_clause(principal), _view_clause(principal, view), Conversation.unread_count > 0,
            Conversation.status != "resolved")) or 0
    return counts


def list_stamp(session: Session, principal: Principal, flt: ListFilter) -> str:
    """A digest of what the list shows (no decryption): the page polls it to know when to refresh."""
    query = _filtered(principal, flt).with_only_columns(
        Conversation.id, Conversation.status, Conversation.assignee_id, Conversation.unread_count,
        Conversation.last_message_at, cast(Conversation.labels, String)
    ).order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(flt.limit + 1)
    return _digest(session.execute(query).all())


def thread_stamp(session: Session, conversation: Conversation) -> str:
    """A digest of a conversation's messages and their statuses."""
    rows = session.execute(select(Message.id, Message.status).where(
        Message.tenant_id == conversation.tenant_id, Message.conversation_id == conversation.id)
        .order_by(Message.at, Message.id)).all()
    return _digest([*rows, (conversation.status, conversation.assignee_id, str(conversation.labels))])


def _digest(rows: list) -> str:
    return hashlib.sha256(repr([tuple(str(v) for v in row) for row in rows]).encode()).hexdigest()[:20]


# -- one conversation ---------------------------------------------------------------------------------
def read_conversation(session: Session, principal: Principal, conversation_id: uuid.UUID, *,
                      record: bool = True) -> Conversation:
    """A visible conversation opened by staff: marked read, and the read audited."""
    conversation = get_conversation(session, principal, conversation_id)
    if conversation.unread_count:
        ingest.mark_read(session, conversation)
    if record:
        audit.record(session, principal.tenant_id, "inbox.conversation_read", principal.actor,
                     target_type="conversation", target_id=conversation.id, subject_id=conversation.subject_id,
                     purpose="U2")
    return conversation


def mark_read(session: Session, principal: Principal, conversation_id: uuid.UUID) -> Conversation:
    """Mark a visible conversation read without opening it."""
    conversation = get_conversation(session, principal, conversation_id)
    ingest.mark_read(session, conversation)
    return conversation


def messages_of(session: Session, conversation: Conversation) -> list[Message]:
    """A conversation's messages and notes, oldest first."""
    return list(session.scalars(select(Message).where(
        Message.tenant_id == conversation.tenant_id, Message.conversation_id == conversation.id)
        .order_by(Message.at, Message.id)))


def attachments_of(session: Session, messages: list[Message]) -> dict[uuid.UUID, list[Attachment]]:
    """The attachments of some messages, by message id."""
    if not messages:
        return {}
    tenant_id = messages[0].tenant_id
    found: dict[uuid.UUID, list[Attachment]] = {}
    for row in session.scalars(select(Attachment).where(Attachment.tenant_id == tenant_id,
                                                        Attachment.message_id.in_([m.id for m in messages]))):
        found.setdefault(row.message_id, []).append(row)
    return found


def channel_of(session: Session, conversation: Conversation) -> Channel:
    """The channel a conversation is on."""
    return session.get(Channel, (conversation.tenant_id, conversation.channel_id))


def channels_by_id(session: Session, tenant_id: uuid.UUID) -> dict[uuid.UUID, Channel]:
    """The business's channels by id."""
    return {c.id: c for c in session.scalars(select(Channel).where(Channel.tenant_id == tenant_id))}


def set_status(session: Session, principal: Principal, conversation: Conversation, status: Any) -> Conversation:
    """Open, pending (waiting on the customer) or resolved; reopening clears the resolution time."""
    if status not in CONVERSATION_STATUSES:
        raise ValidationFailed({"status": STATUS_MESSAGE})
    old = conversation.status
    if old == status:
        return conversation
    conversation.status = status
    if status == "resolved":
        conversation.resolved_at = utcnow()
    elif old == "resolved":
        conversation.resolved_at = None
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.status_changed", principal.actor, target_type="conversation",
                 target_id=conversation.id, subject_id=conversation.subject_id, purpose="U2",
                 details={"from": old, "to": status})
    return conversation


# -- labels -------------------------------------------------------------------------------------------
def list_labels(session: Session, tenant_id: uuid.UUID) -> list[ConversationLabel]:
    """The business's labels, by name."""
    return list(session.scalars(select(ConversationLabel).where(ConversationLabel.tenant_id == tenant_id)
                                .order_by(ConversationLabel.name)))


def create_label(session: Session, principal: Principal, name: Any, color: Any = "") -> ConversationLabel:
    """Define a label conversations can carry."""
    clean = " ".join(str(name or "").split()).lower()
    errors: dict[str, str] = {}
    if not LABEL_NAME.match(clean):
        errors["name"] = Msg("A label is a word or two of lowercase letters, digits, '-' or '_' (at most {n}).",
                             n=MAX_LABEL)
    elif session.scalar(select(ConversationLabel.id).where(ConversationLabel.tenant_id == principal.tenant_id,
                                                           ConversationLabel.name == clean)):
        errors["name"] = Msg("This label exists already.")
    color = str(color or "").strip() or "#5b6b7a"
    if not COLOR.match(color):
        errors["color"] = Msg("Choose a colour such as #1f7a4d.")
    if errors:
        raise ValidationFailed(errors)
    row = ConversationLabel(tenant_id=principal.tenant_id, name=clean, color=color.lower())
    session.add(row)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.label_created", principal.actor, target_type="inbox_label",
                 target_id=row.id, details={"name": clean})
    return row


def delete_label(session: Session, principal: Principal, label_id: uuid.UUID) -> None:
    """Remove a label definition and take it off every conversation."""
    row = session.get(ConversationLabel, (principal.tenant_id, label_id))
    if row is None:
        raise NotFound(Msg("No such label."))
    for conversation in session.scalars(select(Conversation).where(
            Conversation.tenant_id == principal.tenant_id, _label_clause(row.name))):
        conversation.labels = [n for n in conversation.labels or [] if n != row.name]
    session.delete(row)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.label_deleted", principal.actor, target_type="inbox_label",
                 target_id=label_id, details={"name": row.name})


def label_stylesheet(labels: list[ConversationLabel]) -> str:
    """CSS giving each label its colour (pages may not carry inline styles: the CSP allows only 'self')."""
    rules = []
    for label in labels:
        if not LABEL_NAME.match(label.name) or not COLOR.match(label.color or ""):
            continue  # names and colours are checked when saved; anything else never reaches the CSS
        red, green, blue = (int(label.color[i:i + 2], 16) for i in (1, 3, 5))
        text = "#1b1b1b" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#ffffff"  # readable on it
        rules.append(f'.ib-label[data-label="{label.name}"]{{background:{label.color};color:{text}}}')
    return "\n".join(rules) + "\n"


def set_labels(session: Session, principal: Principal, conversation: Conversation, names: list[Any]
               ) -> Conversation:
    """Give a conversation exactly these labels (each one the business has defined)."""
    wanted = []
    for raw in names:
        name = " ".join(str(raw or "").split()).lower()
        if name and name not in wanted:
            wanted.append(name)
    known = {label.name for label in list_labels(session, principal.tenant_id)}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValidationFailed({"labels": Msg("No such label; choose labels from the list.")})
    if len(wanted) > MAX_LABELS:
        raise ValidationFailed({"labels": Msg("At most {n} labels per conversation.", n=MAX_LABELS)})
    old = list(conversation.labels or [])
    if sorted(old) == sorted(wanted):
        return conversation
    conversation.labels = sorted(wanted)
    session.flush()
    audit.record(session, principal.tenant_id, "inbox.labels_changed", principal.actor, target_type="conversation",
                 target_id=conversation.id, subject_id=conversation.subject_id, purpose="U2",
                 details={"labels": sorted(wanted)})
    return conversation


# -- replying -----------------------------------------------------------------------------------------
def channel_templates(channel: Channel) -> list[dict[str, Any]]:
    """The approved message templates stored on a WhatsApp channel, for the picker.

    Stored as [{name, language, body_params}] or, as the WhatsApp settings keep them, [{name, language,
    status, body, parameters}]: the number of values comes from `parameters`, `body_params` (a count or a
    list) or the body's {{n}} placeholders; templates not approved are left out.
    """
    found = []
    for item in (channel.config or {}).get("templates") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            continue
        if str(item.get("status") or "APPROVED").upper() != "APPROVED":
            continue
        body = item.get("body") if isinstance(item.get("body"), str) else ""
        count = item.get("parameters", item.get("body_params"))
        if isinstance(count, list):
            count = len(count)
        if not isinstance(count, int) or isinstance(count, bool):
            count = len(set(PLACEHOLDER.findall(body)))
        language = str(item.get("language") or "id")[:12]
        found.append({"name": item["name"][:120], "language": language, "body": body[:1024],
                      "body_params": max(0, min(count, MAX_TEMPLATE_VALUES)), "key": f"{item['name'][:120]}|{language}"})
    return found


def template_for(channel: Channel, key: Any, params: list[Any]) -> dict[str, Any]:
    """The template a reply names ('name|language' or a name), values filled; refused when unknown or incomplete."""
    chosen = next((t for t in channel_templates(channel) if key in (t["key"], t["name"])), None)
    if chosen is None:
        raise ValidationFailed({"template": Msg("Choose one of the channel's approved templates.")})
    values = [str(v or "").strip() for v in params][:chosen["body_params"]]
    if len(values) < chosen["body_params"] or any(not v or len(v) > 1000 for v in values):
        raise ValidationFailed({"template": Msg("Fill in every value of the template (at most {n} characters each).",
                                                n=1000)})
    return {"name": chosen["name"], "language": chosen["language"], "parameters": values}


def reply(session: Session, principal: Principal, conversation: Conversation, *, text: Any, private: bool = False,
          template: str | None = None, params: list[Any] | None = None) -> Message:
    """Queue a reply (a saved reply's '/shortcut' expanded, or an approved template), or add an internal note."""
    channel = channel_of(session, conversation)
    if template:
        if private:
            raise ValidationFailed({"template": Msg("A template is sent to the customer; it cannot be a note.")})
        filled = template_for(channel, template, params or [])
        return outbox.queue_message(session, principal, conversation, text=None, template=filled)
    body = text if isinstance(text, str) else ""
    body = canned.expand(session, principal.tenant_id, body)
    return outbox.queue_message(session, principal, conversation, text=body, private=private)


def retry(session: Session, principal: Principal, message_id: uuid.UUID) -> Message:
    """Send a failed message again (in a conversation the staff member may see)."""
    message = session.get(Message, (principal.tenant_id, message_id))
    if message is None:
        raise NotFound(Msg("No such message."))
    get_conversation(session, principal, message.conversation_id)
    outbox.retry_message(session, principal, message)
    return message


def download(session: Session, principal: Principal, attachment_id: uuid.UUID) -> files.FileContent:
    """An attachment's file for staff who may see its conversation (the read is audited by the file store)."""
    attachment = session.get(Attachment, (principal.tenant_id, attachment_id))
    if attachment is None:
        raise NotFound(Msg("No such file."))
    message = session.get(Message, (principal.tenant_id, attachment.message_id))
    get_conversation(session, principal, message.conversation_id)
    if attachment.file_id is None:
        raise NotFound(Msg("No such file."))
    return files.read_file(session, principal, attachment.file_id, tenant_id=principal.tenant_id, purpose="U2")


def kinds() -> tuple[str, ...]:
    """The channel kinds, for filters."""
    return CHANNEL_KINDS

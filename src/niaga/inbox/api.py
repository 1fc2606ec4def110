"""JSON API of the agent inbox under /api/v1/inbox: conversations, messages, assignment, labels, saved replies,
agents and the report. The same services as the pages, so both refuse the same things with the same words.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.orm import Session

from niaga.crm.service_desk import sla_settings
from niaga.db.base import utcnow
from niaga.identity.models import User
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.inbox import assignment, canned, conversations, reports
from niaga.inbox.models import Conversation, Message
from niaga.inbox.service import get_conversation
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy.fields import Unreadable
from niaga.web.deps import Require, TransactionalRoute, db

router = APIRouter(prefix="/inbox", tags=["inbox"], route_class=TransactionalRoute)
READ, REPLY, MANAGE = Require(Perm.INBOX_READ), Require(Perm.INBOX_REPLY), Require(Perm.INBOX_MANAGE)


def _personal(value: Any) -> Any:
    return str(value) if isinstance(value, Unreadable) else value


PersonalStr = Annotated[str | None, BeforeValidator(_personal)]
PersonalAny = Annotated[Any, BeforeValidator(_personal)]
Short = Annotated[str, Field(max_length=200)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shapes ----------------------------------------------------------------------------------------------
class ConversationRead(BaseModel):
    """A conversation as lists show it (the contact's name decrypted)."""

    id: uuid.UUID
    channel_id: uuid.UUID
    channel_kind: str
    contact_id: uuid.UUID
    contact_name: PersonalStr = None
    status: str
    assignee_id: uuid.UUID | None
    team_id: uuid.UUID | None
    labels: list[str]
    unread_count: int
    opened_at: datetime
    first_reply_at: datetime | None
    resolved_at: datetime | None
    last_message_at: datetime
    reply_window_open: bool


class ConversationPage(BaseModel):
    """One page of conversations and the cursor of the next."""

    items: list[ConversationRead]
    next_cursor: uuid.UUID | None
    unread: dict[str, int]


class AttachmentRead(BaseModel):
    """A file sent with a message; `download` is the staff page that serves it."""

    id: uuid.UUID
    filename: PersonalStr = None
    content_type: str
    size: int
    status: str
    download: str | None


class MessageRead(BaseModel):
    """One message or internal note."""

    id: uuid.UUID
    direction: str
    kind: str
    private: bool
    body: PersonalStr = None
    content: PersonalAny = None
    template: str
    status: str
    failure_code: str
    failure_reason: str
    author_id: uuid.UUID | None
    at: datetime
    status_at: datetime | None
    attachments: list[AttachmentRead] = []


class ReplyCreate(_Input):
    """A reply (a text that is exactly '/shortcut' becomes the saved reply), a note, or an approved template."""

    body: Annotated[str, Field(max_length=20_000)] | None = None
    private: bool = False
    template: Short | None = None
    params: Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=10)] = []


class AssignWrite(_Input):
    """`assignee`: 'me', a user id, or '' for nobody; `team_id`: omitted keeps the team, '' removes it."""

    assignee: Annotated[str, Field(max_length=64)] = ""
    team_id: Annotated[str, Field(max_length=64)] | None = None


class StatusWrite(_Input):
    """open, pending or resolved."""

    status: Annotated[str, Field(max_length=20)]


class LabelsWrite(_Input):
    """The conversation's labels, each defined by the business."""

    labels: Annotated[list[Annotated[str, Field(max_length=60)]], Field(max_length=50)]


class LabelCreate(_Input):
    """A new label."""

    name: Annotated[str, Field(max_length=60)]


class LabelRead(BaseModel):
    """A label definition."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str


class CannedWrite(_Input):
    """A saved reply."""

    shortcut: Annotated[str, Field(max_length=60)]
    title: Short = ""
    body: Annotated[str, Field(max_length=20_000)]


class CannedRead(BaseModel):
    """A saved reply."""

    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    shortcut: str
    title: str
    body: str


class AgentWrite(_Input):
    """An agent's availability and open-conversation limit."""

    available: bool | None = None
    max_open: int | None = Field(None, ge=-1_000_000, le=1_000_000)


class AgentRead(BaseModel):
    """An agent's availability, limit and current load."""

    user_id: uuid.UUID
    available: bool
    max_open: int
    open_conversations: int


class AvailabilityWrite(_Input):
    """The caller's own availability."""

    available: bool


class AssignmentSettings(_Input):
    """Automatic round-robin assignment on or off."""

    auto_assign: bool


def _conversation(session: Session, conversation: Conversation) -> ConversationRead:
    from niaga.inbox import outbox
    from niaga.inbox.outbox import contact_of

    channel = conversations.channel_of(session, conversation)
    contact = contact_of(session, conversation)
    return ConversationRead(
        id=conversation.id, channel_id=channel.id, channel_kind=channel.kind, contact_id=conversation.contact_id,
        contact_name=contact.full_name if contact is not None else None, status=conversation.status,
        assignee_id=conversation.assignee_id, team_id=conversation.team_id, labels=list(conversation.labels or []),
        unread_count=conversation.unread_count, opened_at=conversation.opened_at,
        first_reply_at=conversation.first_reply_at, resolved_at=conversation.resolved_at,
        last_message_at=conversation.last_message_at,
        reply_window_open=outbox.reply_window_open(conversation, channel.kind))


def _messages(session: Session, rows: list[Message]) -> list[MessageRead]:
    files = conversations.attachments_of(session, rows)
    result = []
    for m in rows:
        attachments = [AttachmentRead(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size,
                                      status=a.status,
                                      download=f"/inbox/attachments/{a.id}" if a.status == "stored" else None)
                       for a in files.get(m.id, [])]
        result.append(MessageRead(
            id=m.id, direction=m.direction, kind=m.kind, private=m.private, body=m.body, content=m.content,
            template=m.template, status=m.status, failure_code=m.failure_code, failure_reason=m.failure_reason,
            author_id=m.author_id, at=m.at, status_at=m.status_at, attachments=attachments))
    return result


# -- conversations ---------------------------------------------------------------------------------------
@router.get("/conversations", response_model=ConversationPage)
def list_conversations(
    p: Principal = Depends(READ), session: Session = Depends(db),
    view: str = Query("all", max_length=20, description="mine, unassigned or all"),
    status: str = Query("open", max_length=20, description="open, pending, resolved or all"),
    channel_id: str | None = Query(None, max_length=64), label: str | None = Query(None, max_length=60),
    before: str | None = Query(None, max_length=64, description="The last conversation id of the previous page."),
    limit: str | None = Query(None, max_length=4),
) -> ConversationPage:
    """Visible conversations, latest activity first."""
    flt = conversations.check_filter({"view": view, "status": status, "channel_id": channel_id, "label": label,
                                      "before": before, "limit": limit})
    rows, more = conversations.list_conversations(session, p, flt)
    return ConversationPage(items=[_conversation(session, c) for c in rows],
                            next_cursor=rows[-1].id if more and rows else None,
                            unread=conversations.unread_counts(session, p))


@router.get("/unread")
def unread(p: Principal = Depends(READ), session: Session = Depends(db)) -> dict[str, int]:
    """Conversations with unread messages: mine, unassigned, all."""
    return conversations.unread_counts(session, p)


@router.get("/conversations/{conversation_id}", response_model=ConversationRead)
def read_conversation(conversation_id: uuid.UUID, p: Principal = Depends(READ),
                      session: Session = Depends(db)) -> ConversationRead:
    """One conversation (reading it marks it read; the read is audited)."""
    return _conversation(session, conversations.read_conversation(session, p, conversation_id))


@router.get("/conversations/{conversation_id}/messages", response_model=list[MessageRead])
def list_messages(conversation_id: uuid.UUID, p: Principal = Depends(READ),
                  session: Session = Depends(db)) -> list[MessageRead]:
    """The conversation's messages and notes, oldest first (marks it read; audited)."""
    conversation = conversations.read_conversation(session, p, conversation_id)
    return _messages(session, conversations.messages_of(session, conversation))


@router.post("/conversations/{conversation_id}/messages", response_model=MessageRead, status_code=201)
def send_message(conversation_id: uuid.UUID, body: ReplyCreate, p: Principal = Depends(REPLY),
                 session: Session = Depends(db)) -> MessageRead:
    """Queue a reply or template for sending, or add an internal note (never sent)."""
    conversation = get_conversation(session, p, conversation_id)
    message = conversations.reply(session, p, conversation, text=body.body, private=body.private,
                                  template=body.template, params=body.params)
    return _messages(session, [message])[0]


@router.post("/conversations/{conversation_id}/read", status_code=204)
def mark_read(conversation_id: uuid.UUID, p: Principal = Depends(READ), session: Session = Depends(db)) -> Response:
    """Mark the conversation read."""
    conversations.mark_read(session, p, conversation_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/assign", response_model=ConversationRead)
def assign(conversation_id: uuid.UUID, body: AssignWrite, p: Principal = Depends(REPLY),
           session: Session = Depends(db)) -> ConversationRead:
    """Give the conversation to me, a colleague, or nobody; optionally to a team."""
    conversation = get_conversation(session, p, conversation_id)
    assignment.assign(session, p, conversation, assignee=body.assignee, team=body.team_id)
    return _conversation(session, conversation)


@router.post("/conversations/{conversation_id}/status", response_model=ConversationRead)
def change_status(conversation_id: uuid.UUID, body: StatusWrite, p: Principal = Depends(REPLY),
                  session: Session = Depends(db)) -> ConversationRead:
    """Resolve, reopen or set pending."""
    conversation = get_conversation(session, p, conversation_id)
    return _conversation(session, conversations.set_status(session, p, conversation, body.status))


@router.put("/conversations/{conversation_id}/labels", response_model=ConversationRead)
def change_labels(conversation_id: uuid.UUID, body: LabelsWrite, p: Principal = Depends(REPLY),
                  session: Session = Depends(db)) -> ConversationRead:
    """Set the conversation's labels."""
    conversation = get_conversation(session, p, conversation_id)
    return _conversation(session, conversations.set_labels(session, p, conversation, body.labels))


@router.post("/messages/{message_id}/retry", response_model=MessageRead)
def retry(message_id: uuid.UUID, p: Principal = Depends(REPLY), session: Session = Depends(db)) -> MessageRead:
    """Queue a failed message again."""
    return _messages(session, [conversations.retry(session, p, message_id)])[0]


# -- labels and saved replies ----------------------------------------------------------------------------
@router.get("/labels", response_model=list[LabelRead])
def list_labels(p: Principal = Depends(READ), session: Session = Depends(db)) -> list:
    """The business's labels."""
    return conversations.list_labels(session, p.tenant_id)


@router.post("/labels", response_model=LabelRead, status_code=201)
def create_label(body: LabelCreate, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> object:
    """Define a label."""
    return conversations.create_label(session, p, body.name)


@router.delete("/labels/{label_id}", status_code=204)
def delete_label(label_id: uuid.UUID, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Delete a label (it comes off every conversation)."""
    conversations.delete_label(session, p, label_id)
    return Response(status_code=204)


@router.get("/canned", response_model=list[CannedRead])
def list_canned(p: Principal = Depends(READ), session: Session = Depends(db)) -> list:
    """Saved replies, by shortcut."""
    return canned.list_canned(session, p.tenant_id)


@router.post("/canned", response_model=CannedRead, status_code=201)
def create_canned(body: CannedWrite, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> object:
    """Save a reply under a shortcut."""
    return canned.create_canned(session, p, body.model_dump())


@router.put("/canned/{canned_id}", response_model=CannedRead)
def update_canned(canned_id: uuid.UUID, body: CannedWrite, p: Principal = Depends(MANAGE),
                  session: Session = Depends(db)) -> object:
    """Change a saved reply."""
    return canned.update_canned(session, p, canned.get_canned(session, p.tenant_id, canned_id), body.model_dump())


@router.delete("/canned/{canned_id}", status_code=204)
def delete_canned(canned_id: uuid.UUID, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Delete a saved reply."""
    canned.delete_canned(session, p, canned.get_canned(session, p.tenant_id, canned_id))
    return Response(status_code=204)


# -- agents and assignment -------------------------------------------------------------------------------
def _agent(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> AgentRead:
    state = assignment.state_of(session, tenant_id, user_id)
    return AgentRead(user_id=user_id, available=state.available, max_open=state.max_open,
                     open_conversations=assignment.open_counts(session, tenant_id).get(user_id, 0))


@router.get("/agents", response_model=list[AgentRead])
def list_agents(p: Principal = Depends(READ), session: Session = Depends(db)) -> list[AgentRead]:
    """Staff who answer conversations, with availability, limit and open conversations."""
    return [_agent(session, p.tenant_id, u.id) for u in assignment.reply_agents(session, p.tenant_id)]


@router.put("/agents/{user_id}", response_model=AgentRead)
def update_agent(user_id: uuid.UUID, body: AgentWrite, p: Principal = Depends(MANAGE),
                 session: Session = Depends(db)) -> AgentRead:
    """Set an agent's availability and/or limit."""
    if session.get(User, (p.tenant_id, user_id)) is None:
        raise NotFound(Msg("No such staff member."))
    if body.available is None and body.max_open is None:
        raise ValidationFailed({"available": Msg("Give at least one field to change.")})
    if body.max_open is not None:
        assignment.set_limit(session, p, user_id, body.max_open)
    if body.available is not None:
        assignment.set_availability(session, p, user_id, body.available)
    return _agent(session, p.tenant_id, user_id)


@router.put("/availability", response_model=AgentRead)
def my_availability(body: AvailabilityWrite, p: Principal = Depends(REPLY),
                    session: Session = Depends(db)) -> AgentRead:
    """The caller takes new conversations, or stops taking them."""
    assignment.set_availability(session, p, p.user_id, body.available)
    return _agent(session, p.tenant_id, p.user_id)


@router.get("/assignment", response_model=AssignmentSettings)
def read_assignment(p: Principal = Depends(READ), session: Session = Depends(db)) -> AssignmentSettings:
    """Whether new conversations are assigned automatically."""
    return AssignmentSettings(auto_assign=assignment.settings_of(session, p.tenant_id).auto_assign)


@router.put("/assignment", response_model=AssignmentSettings)
def write_assignment(body: AssignmentSettings, p: Principal = Depends(MANAGE),
                     session: Session = Depends(db)) -> AssignmentSettings:
    """Switch automatic round-robin assignment on or off."""
    return AssignmentSettings(auto_assign=assignment.set_auto_assign(session, p, body.auto_assign).auto_assign)


# -- report ----------------------------------------------------------------------------------------------
@router.get("/reports")
def report(p: Principal = Depends(Require(Perm.INBOX_REPORTS)), session: Session = Depends(db),
           since: str | None = Query(None, max_length=10), until: str | None = Query(None, max_length=10)) -> dict:
    """First response and resolution (business minutes, the business's zone) and volumes for a period."""
    today: date = sla_settings.tenant_calendar(session, p.tenant_id).local_date(utcnow())
    start, end = reports.period(since, until, today)
    return reports.inbox_report(session, p, start, end).as_dict()

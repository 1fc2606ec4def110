"""Tenant A's agent-inbox records for the route matrix (tests/test_route_matrix.py), and the bodies that would
change them if authorization or tenancy failed."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.inbox import canned, conversations, ingest, service
from niaga.inbox.adapters import InboundMessage
from niaga.inbox.agent_models import (
    AgentState,
    CannedResponse,
    ConversationLabel,
    InboxSettings,
)
from niaga.inbox.models import Attachment, Conversation, Message

CUSTOMER = "Pelanggan Obrolan Rahasia"
MESSAGE = "Pesan Obrolan Rahasia Sinar"
SAVED = "Balasan Tersimpan Rahasia Sinar"
API_BODIES = {
    ("POST", "/api/v1/inbox/conversations/{conversation_id}/messages"): {"body": "Balasan penyusup"},
    ("POST", "/api/v1/inbox/conversations/{conversation_id}/assign"): {"assignee": "me"},
    ("POST", "/api/v1/inbox/conversations/{conversation_id}/status"): {"status": "resolved"},
    ("PUT", "/api/v1/inbox/conversations/{conversation_id}/labels"): {"labels": []},
    ("POST", "/api/v1/inbox/labels"): {"name": "penyusup"},
    ("POST", "/api/v1/inbox/canned"): {"shortcut": "penyusup", "body": "Teks penyusup"},
    ("PUT", "/api/v1/inbox/canned/{canned_id}"): {"shortcut": "diambil", "body": "Diambil alih"},
    ("PUT", "/api/v1/inbox/agents/{user_id}"): {"available": True, "max_open": 1},
    ("PUT", "/api/v1/inbox/availability"): {"available": True},
    ("PUT", "/api/v1/inbox/assignment"): {"auto_assign": True},
}
PAGE_FORMS = {
    "/inbox/conversations/{conversation_id}/reply": {"body": "Balasan penyusup"},
    "/inbox/conversations/{conversation_id}/assign": {"assignee_id": "me"},
    "/inbox/conversations/{conversation_id}/status": {"status": "resolved"},
    "/inbox/conversations/{conversation_id}/labels": {"labels": ""},
    "/inbox/tools/canned": {"shortcut": "penyusup", "body": "Teks penyusup"},
    "/inbox/tools/canned/{canned_id}": {"action": "delete"},
    "/inbox/tools/labels": {"label_name": "penyusup"},
    "/inbox/tools/agents/{user_id}": {"available": "1", "max_open": "1"},
    "/inbox/tools/assignment": {"auto_assign": "1"},
    "/inbox/availability": {"available": "1"},
}


def records(session: Session, tenant) -> tuple[dict[str, str], list[str]]:  # noqa: ANN001
    """A conversation with a customer's message, a failed reply, an attachment, a saved reply and a label."""
    owner = tenant.principal()
    channel = service.create_channel(session, owner, kind="webchat", name="Obrolan Situs Sinar")
    message = ingest.receive_message(session, channel, InboundMessage(
        provider_message_id="matrix-1", sender_id="pengunjung-matrix", at=utcnow(), text=MESSAGE,
        sender_name=CUSTOMER))
    conversation = session.get(Conversation, (tenant.id, message.conversation_id))
    failed = Message(tenant_id=tenant.id, subject_id=conversation.subject_id, conversation_id=conversation.id,
                     channel_id=channel.id, direction="out", kind="text", body="Balasan gagal", status="failed",
                     failure_reason="Provider refused", author_id=owner.user_id, at=utcnow())
    session.add(failed)
    attachment = Attachment(tenant_id=tenant.id, subject_id=conversation.subject_id, message_id=message.id,
                            filename="nota.pdf", content_type="application/pdf", status="failed")
    session.add(attachment)
    saved = canned.create_canned(session, owner, {"shortcut": "rahasia", "body": SAVED})
    label = conversations.create_label(session, owner, "label-sinar")
    session.commit()
    params = {"conversation_id": str(conversation.id), "message_id": str(failed.id),
              "attachment_id": str(attachment.id), "canned_id": str(saved.id), "label_id": str(label.id)}
    return params, [CUSTOMER, MESSAGE, SAVED]


def fingerprint(session: Session, tenant_id: uuid.UUID) -> tuple:
    """What tenant A's inbox looks like."""
    def rows(model) -> int:  # noqa: ANN001
        return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id))

    talks = [(c.status, c.assignee_id, c.team_id, tuple(c.labels or []), c.unread_count)
             for c in session.scalars(select(Conversation).where(Conversation.tenant_id == tenant_id))]
    statuses = sorted(session.scalars(select(Message.status).where(Message.tenant_id == tenant_id)))
    saved = sorted((c.shortcut, c.body) for c in session.scalars(
        select(CannedResponse).where(CannedResponse.tenant_id == tenant_id)))
    agents = sorted((str(a.user_id), a.available, a.max_open) for a in session.scalars(
        select(AgentState).where(AgentState.tenant_id == tenant_id)))
    auto = session.scalar(select(InboxSettings.auto_assign).where(InboxSettings.tenant_id == tenant_id))
    return (tuple(talks), tuple(statuses), rows(Message), tuple(saved), rows(ConversationLabel), tuple(agents), auto)

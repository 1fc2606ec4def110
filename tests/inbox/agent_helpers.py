"""Helpers for the agent-inbox tests: a recording channel adapter, customers' messages arriving through the
inbound pipeline, staff principals, and counting rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.identity.models import Team, TeamMember, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.inbox import adapters, ingest, service
from niaga.inbox.adapters import InboundMessage, OutboundRequest, SendResult
from niaga.inbox.models import Channel, Conversation, Message


class RecordingChannel:
    """A provider we cannot reach, as seen by the outbox: it records each send and answers as scripted."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sent: list[OutboundRequest] = []
        self.outcomes: list[object] = []

    def verify(self, channel: Any, secrets: Any, headers: Any, body: bytes) -> bool:
        return False

    def split(self, channel: Any, body: bytes) -> list:
        raise adapters.MalformedDelivery("not used")

    def parse(self, channel: Any, payload: bytes) -> list:
        return []

    def fetch_media(self, channel: Any, secrets: Any, media: Any) -> tuple[bytes, str, str]:
        raise adapters.PermanentFailure("no media here")

    def send(self, channel: Any, secrets: Any, request: OutboundRequest) -> SendResult:
        self.sent.append(request)
        outcome = self.outcomes.pop(0) if self.outcomes else SendResult(f"prov-{uuid.uuid4().hex[:12]}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def providers(monkeypatch) -> dict[str, RecordingChannel]:  # noqa: ANN001
    """Recording adapters for web chat and WhatsApp (the providers themselves are out of reach)."""
    fakes = {kind: RecordingChannel(kind) for kind in ("webchat", "whatsapp")}
    for kind, fake in fakes.items():
        monkeypatch.setitem(adapters.ADAPTERS, kind, fake)
    return fakes


def principal_of(user: User) -> Principal:
    """The principal of a staff member signed in by session."""
    role = Role(user.role)
    return Principal(tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=role,
                     permissions=ROLE_PERMISSIONS[role], via="session")


def new_channel(session: Session, world: Any, kind: str = "webchat", name: str | None = None,
                config: dict | None = None) -> Channel:
    """A channel of the business."""
    return service.create_channel(session, world.principal(), kind=kind, name=name or f"Saluran {kind}",
                                  config=config)


def arrive(session: Session, channel: Channel, sender: str, text: str, *, at: datetime | None = None,
           name: str | None = None) -> Message:
    """A customer's message through the inbound pipeline (contact, conversation, message, hooks)."""
    phone = f"+{sender}" if channel.kind == "whatsapp" else None
    item = InboundMessage(provider_message_id=f"in-{uuid.uuid4().hex}", sender_id=sender, at=at or utcnow(),
                          text=text, sender_name=name, sender_phone=phone)
    message = ingest.receive_message(session, channel, item)
    session.flush()
    return message


def conversation_of(session: Session, message: Message) -> Conversation:
    """The conversation a message belongs to."""
    return session.get(Conversation, (message.tenant_id, message.conversation_id))


def team_of(session: Session, world: Any, name: str, *members: User) -> Team:
    """A team with members."""
    team = Team(tenant_id=world.id, name=name)
    session.add(team)
    session.flush()
    for user in members:
        session.add(TeamMember(tenant_id=world.id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


def count(session: Session, model: Any, **where: Any) -> int:
    """Rows of a model matching column values."""
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return session.scalar(query)

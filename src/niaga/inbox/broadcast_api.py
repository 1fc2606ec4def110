"""JSON API for broadcasts: /api/v1/broadcasts (create a draft, read it with its recipients, send it)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.inbox import broadcasts
from niaga.inbox.broadcast_models import Broadcast
from niaga.web.deps import Require, TransactionalRoute, db

router = APIRouter(tags=["inbox"], route_class=TransactionalRoute)


class TemplateWrite(BaseModel):
    """An approved WhatsApp template."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=120)
    language: str = Field("id", max_length=10)
    parameters: list[str] = Field(default_factory=list, max_length=10)


class BroadcastCreate(BaseModel):
    """A new draft broadcast."""

    model_config = ConfigDict(extra="forbid")
    channel_id: uuid.UUID
    name: str = Field(max_length=200)
    body: str = Field("", max_length=5000)
    template: TemplateWrite | None = None
    segment_tag: str = Field("", max_length=100, description="Only contacts with this tag; empty: every contact.")
    email_subject: str = Field("", max_length=300)


class RecipientRead(BaseModel):
    """One contact of a sent broadcast."""

    contact_id: uuid.UUID
    outcome: str = Field(description="queued or skipped")
    reason: str = Field(description="ok, no-consent, withdrawn, restricted, objected, erased, child-no-guardian, "
                                    "no-address")
    message_id: uuid.UUID | None


class BroadcastRead(BaseModel):
    """A broadcast; `recipients` once it is sent."""

    id: uuid.UUID
    channel_id: uuid.UUID
    name: str
    body: str
    template: dict[str, Any] | None
    segment_tag: str
    email_subject: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    queued_count: int
    skipped_count: int
    recipients: list[RecipientRead] = Field(default_factory=list)


def _read(session: Session, broadcast: Broadcast, with_recipients: bool = True) -> BroadcastRead:
    rows = broadcasts.recipients(session, broadcast) if with_recipients and broadcast.status == "sent" else []
    return BroadcastRead(
        id=broadcast.id, channel_id=broadcast.channel_id, name=broadcast.name, body=broadcast.body,
        template=broadcast.template, segment_tag=broadcast.segment_tag, email_subject=broadcast.email_subject,
        status=broadcast.status, created_at=broadcast.created_at, sent_at=broadcast.sent_at,
        queued_count=broadcast.queued_count, skipped_count=broadcast.skipped_count,
        recipients=[RecipientRead(contact_id=r.contact_id, outcome=r.outcome, reason=r.reason,
                                  message_id=r.message_id) for r, _contact in rows],
    )


@router.get("/broadcasts", response_model=list[BroadcastRead])
def list_broadcasts(p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                    session: Session = Depends(db)) -> list[BroadcastRead]:
    """The tenant's broadcasts, newest first (without recipients)."""
    return [_read(session, b, with_recipients=False) for b in broadcasts.list_broadcasts(session, p)]


@router.post("/broadcasts", response_model=BroadcastRead, status_code=201)
def create_broadcast(body: BroadcastCreate, p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                     session: Session = Depends(db)) -> BroadcastRead:
    """Save a draft broadcast."""
    data = body.model_dump()
    data["channel_id"] = str(body.channel_id)
    return _read(session, broadcasts.create_broadcast(session, p, data))


@router.get("/broadcasts/{broadcast_id}", response_model=BroadcastRead)
def read_broadcast(broadcast_id: uuid.UUID, p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                   session: Session = Depends(db)) -> BroadcastRead:
    """One broadcast with every recipient: queued, or skipped with the reason."""
    return _read(session, broadcasts.get_broadcast(session, p, broadcast_id))


@router.post("/broadcasts/{broadcast_id}/send", response_model=BroadcastRead)
def send_broadcast(broadcast_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.BROADCASTS_SEND)),
                   session: Session = Depends(db)) -> BroadcastRead:
    """Queue the broadcast for the consenting contacts (once; a second call is 409)."""
    broadcast = broadcasts.get_broadcast(session, p, broadcast_id)
    broadcasts.send_broadcast(session, p, broadcast, request.app.state.settings.base_url)
    return _read(session, broadcast)

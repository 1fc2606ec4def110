"""JSON API for connected channels: /api/v1/inbox/channels (staff with inbox.manage).

Secrets go in and never come out: answers say which secrets are set, not what they are. A web chat
channel's identity secret is generated and shown once on the settings page; an API client that needs it
sets its own with PUT .../secrets.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.inbox import channel_settings, service
from niaga.inbox.models import Channel
from niaga.kit.errors import ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db

router = APIRouter(prefix="/inbox/channels", tags=["inbox"], route_class=TransactionalRoute)

Value = Annotated[str, Field(max_length=5000)] | int | list[Annotated[str, Field(max_length=300)]]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelCreate(_Input):
    """A channel to connect: its kind, a name, and the kind's settings (see GET /inbox/channels/kinds)."""

    kind: Annotated[str, Field(max_length=20)]
    name: Annotated[str, Field(max_length=200)]
    settings: Annotated[dict[Annotated[str, Field(max_length=40)], Value], Field(max_length=30)] = {}


class ChannelUpdate(_Input):
    """Changes: a new name, settings (only those given change; secrets only when given), on or off."""

    name: Annotated[str, Field(max_length=200)] | None = None
    settings: Annotated[dict[Annotated[str, Field(max_length=40)], Value], Field(max_length=30)] | None = None
    active: bool | None = None


class SecretsWrite(_Input):
    """New values of some of the channel's secrets."""

    secrets: Annotated[dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=2000)]],
                       Field(max_length=10)]


class ChannelRead(BaseModel):
    """A channel as staff see it: where providers deliver, its settings, which secrets are set."""

    id: uuid.UUID
    kind: str
    name: str
    active: bool
    account_ref: str
    webhook_url: str
    verify_token: str
    settings: dict[str, Any]
    secrets_set: dict[str, bool]
    embed_snippet: str | None = None
    created_at: datetime


class KindRead(BaseModel):
    """The settings a channel kind asks for."""

    kind: str
    fields: list[dict[str, Any]]


def channel_read(request: Request, session: Session, channel: Channel) -> ChannelRead:
    """The API (and page) view of a channel; never a secret value."""
    base = request.app.state.settings.base_url.rstrip("/")
    settings = {**channel_settings.public_config(channel)}
    account_field = next((f.name for f in channel_settings.kind_fields(channel.kind) if f.where == "account"), None)
    if account_field:
        settings[account_field] = channel.account_ref
    from niaga.inbox.channels import webchat

    return ChannelRead(
        id=channel.id, kind=channel.kind, name=channel.name, active=channel.active, account_ref=channel.account_ref,
        webhook_url=base + service.webhook_path(channel), verify_token=channel.verify_token, settings=settings,
        secrets_set=channel_settings.secrets_set(session, channel),
        embed_snippet=webchat.embed_snippet(base, channel) if channel.kind == "webchat" else None,
        created_at=channel.created_at,
    )


@router.get("/kinds", response_model=list[KindRead])
def list_kinds(p: Principal = Depends(Require(Perm.INBOX_MANAGE))) -> list[KindRead]:
    """Every channel kind and the settings it asks for."""
    return [KindRead(kind=kind, fields=[{"name": f.name, "where": f.where, "required": f.required,
                                         "max_length": f.max_len} for f in fields])
            for kind, fields in channel_settings.FIELDS.items()]


@router.get("", response_model=list[ChannelRead])
def list_channels(request: Request, p: Principal = Depends(Require(Perm.INBOX_MANAGE)),
                  session: Session = Depends(db)) -> list[ChannelRead]:
    """The business's channels."""
    return [channel_read(request, session, c) for c in service.list_channels(session, p.tenant_id)]


@router.post("", response_model=ChannelRead, status_code=201)
def create_channel(body: ChannelCreate, request: Request, p: Principal = Depends(Require(Perm.INBOX_MANAGE)),
                   session: Session = Depends(db)) -> ChannelRead:
    """Connect a channel (web chat: the identity secret is generated; set your own with PUT .../secrets)."""
    channel, _shown_once = channel_settings.create(session, p, body.kind, body.name, dict(body.settings))
    return channel_read(request, session, channel)


@router.get("/{channel_id}", response_model=ChannelRead)
def read_channel(channel_id: uuid.UUID, request: Request, p: Principal = Depends(Require(Perm.INBOX_MANAGE)),
                 session: Session = Depends(db)) -> ChannelRead:
    """One channel."""
    return channel_read(request, session, service.get_channel(session, p.tenant_id, channel_id))


@router.patch("/{channel_id}", response_model=ChannelRead)
def update_channel(channel_id: uuid.UUID, body: ChannelUpdate, request: Request,
                   p: Principal = Depends(Require(Perm.INBOX_MANAGE)), session: Session = Depends(db)) -> ChannelRead:
    """Rename, change settings, or switch a channel off (false) and on (true)."""
    data = body.model_dump(exclude_unset=True)
    if not data:
        raise ValidationFailed({"body": Msg("Give at least one field to change.")})
    channel = service.get_channel(session, p.tenant_id, channel_id)
    channel_settings.update(session, p, channel, name=data.get("name"), values=data.get("settings"),
                            active=data.get("active"))
    return channel_read(request, session, channel)


@router.put("/{channel_id}/secrets", response_model=ChannelRead)
def set_secrets(channel_id: uuid.UUID, body: SecretsWrite, request: Request,
                p: Principal = Depends(Require(Perm.INBOX_MANAGE)), session: Session = Depends(db)) -> ChannelRead:
    """Replace some secrets of a channel (the answer says which are set, never their values)."""
    channel = service.get_channel(session, p.tenant_id, channel_id)
    allowed = channel_settings.secret_names(channel.kind)
    errors: dict[str, Msg] = {}
    for name, value in body.secrets.items():
        if name not in allowed:
            errors[name] = Msg("This channel type has no such secret.")
        elif not value.strip() or value != value.strip() or any(ord(ch) < 32 for ch in value):
            errors[name] = Msg("Give the secret as one line without spaces around it.")
    if not body.secrets:
        errors["secrets"] = Msg("Give at least one secret.")
    if errors:
        raise ValidationFailed(errors)
    if channel.kind == "telegram" and "bot_token" in body.secrets:
        channel_settings.clean_settings("telegram", {"bot_token": body.secrets["bot_token"]}, creating=True)
        channel.account_ref = body.secrets["bot_token"].split(":", 1)[0]
    service.set_channel_secrets(session, p, channel, dict(body.secrets))
    return channel_read(request, session, channel)

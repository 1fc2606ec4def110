"""Staff pages for connected channels (/inbox/channels): list, connect, settings, switch off and on.

A channel's page shows the webhook URL and verify token to paste into the provider's console, which
secrets are set (never their values), the settings form (an empty secret box keeps the stored secret),
and for web chat the embed snippet and the identity secret, shown once when it is generated or rotated.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
from niaga.inbox import channel_settings, service
from niaga.inbox.adapters import PermanentFailure, TemporaryFailure
from niaga.inbox.channel_api import channel_read
from niaga.inbox.models import CHANNEL_KINDS, Channel
from niaga.kit.errors import Conflict, DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.web.deps import Require, TransactionalRoute, db
from niaga.web.forms import form_data
from niaga.web.templating import render

router = APIRouter(route_class=TransactionalRoute)
MANAGE = Require(Perm.INBOX_MANAGE)


def _settings_of(form: dict[str, str], kind: str) -> dict[str, str]:
    return {f.name: form.get(f.name, "") for f in channel_settings.kind_fields(kind)}


@router.get("/inbox/channels")
def channels_page(request: Request, p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """The business's channels and the kinds it can connect."""
    return render(request, "inbox/channels.html", {
        "channels": service.list_channels(session, p.tenant_id), "kinds": CHANNEL_KINDS,
        "kind_labels": channel_settings.KIND_LABELS})


def _new_page(request: Request, kind: str, values: dict, errors: dict, status_code: int = 200) -> Response:
    return render(request, "inbox/channels_new.html", {
        "kind": kind, "fields": channel_settings.kind_fields(kind), "kind_labels": channel_settings.KIND_LABELS,
        "kinds": CHANNEL_KINDS, "values": values, "errors": errors, "creating": True}, status_code=status_code)


@router.get("/inbox/channels/new")
def new_channel_page(request: Request, kind: str = "", p: Principal = Depends(MANAGE)) -> Response:
    """Choose a kind, then fill in its settings."""
    kind = kind if kind in CHANNEL_KINDS else ""
    return _new_page(request, kind, dict(channel_settings.DEFAULTS), {})


def _detail(request: Request, session: Session, channel: Channel, *, errors: dict | None = None,
            values: dict | None = None, shown_once: str | None = None, notice: str | None = None,
            status_code: int = 200) -> Response:
    return render(request, "inbox/channels_detail.html", {
        "channel": channel, "view": channel_read(request, session, channel),
        "fields": channel_settings.kind_fields(channel.kind), "kind_labels": channel_settings.KIND_LABELS,
        "values": values if values is not None else {"name": channel.name, **channel_settings.form_values(channel)},
        "errors": errors or {}, "shown_once": shown_once, "notice": notice,
        "can_register_telegram": channel.kind == "telegram" and _telegram_register() is not None,
        "creating": False}, status_code=status_code)


@router.post("/inbox/channels/new")
def create_channel(request: Request, form: dict = Depends(form_data), p: Principal = Depends(MANAGE),
                   session: Session = Depends(db)) -> Response:
    """Connect a channel; web chat shows its new identity secret once."""
    kind = form.get("kind", "")
    if kind not in CHANNEL_KINDS:
        return _new_page(request, "", {}, {"kind": Msg("Choose a channel type.")}, status_code=422)
    try:
        with session.begin_nested():
            channel, shown_once = channel_settings.create(session, p, kind, form.get("name", ""),
                                                          _settings_of(form, kind))
    except ValidationFailed as exc:
        typed = {k: v for k, v in form.items() if k not in channel_settings.secret_names(kind) and k != "csrf_token"}
        return _new_page(request, kind, typed, exc.errors, status_code=422)
    if shown_once:
        return _detail(request, session, channel, shown_once=shown_once)
    return RedirectResponse(f"/inbox/channels/{channel.id}?saved=1", status_code=303)


@router.get("/inbox/channels/{channel_id}")
def channel_page(channel_id: uuid.UUID, request: Request, p: Principal = Depends(MANAGE),
                 session: Session = Depends(db)) -> Response:
    """A channel's webhook address, settings and secrets set."""
    channel = service.get_channel(session, p.tenant_id, channel_id)
    return _detail(request, session, channel)


@router.post("/inbox/channels/{channel_id}")
def save_channel(channel_id: uuid.UUID, request: Request, form: dict = Depends(form_data),
                 p: Principal = Depends(MANAGE), session: Session = Depends(db)) -> Response:
    """Save the name and settings (empty secret boxes keep the stored secrets)."""
    channel = service.get_channel(session, p.tenant_id, channel_id)
    try:
        with session.begin_nested():
            channel_settings.update(session, p, channel, name=form.get("name", ""),
                                    values=_settings_of(form, channel.kind))
    except ValidationFailed as exc:
        session.refresh(channel)
        typed = {k: v for k, v in form.items()
                 if k not in channel_settings.secret_names(channel.kind) and k != "csrf_token"}
        return _detail(request, session, channel, errors=exc.errors, values=typed, status_code=422)
    return RedirectResponse(f"/inbox/channels/{channel.id}?saved=1", status_code=303)


@router.post("/inbox/channels/{channel_id}/active")
def switch_channel(channel_id: uuid.UUID, form: dict = Depends(form_data), p: Principal = Depends(MANAGE),
                   session: Session = Depends(db)) -> Response:
    """Switch a channel off (deliveries refused, nothing sent) or on again."""
    channel = service.get_channel(session, p.tenant_id, channel_id)
    wanted = form.get("active", "")
    if wanted not in ("on", "off"):
        raise ValidationFailed({"active": Msg("Choose on or off.")})
    channel_settings.update(session, p, channel, active=wanted == "on")
    return RedirectResponse(f"/inbox/channels/{channel.id}", status_code=303)


@router.post("/inbox/channels/{channel_id}/identity-secret")
def rotate_identity_secret(channel_id: uuid.UUID, request: Request, p: Principal = Depends(MANAGE),
                           session: Session = Depends(db)) -> Response:
    """A new identity secret for web chat: shown once; the old one stops working at once."""
    channel = service.get_channel(session, p.tenant_id, channel_id)
    secret = channel_settings.rotate_identity_secret(session, p, channel)
    return _detail(request, session, channel, shown_once=secret)


def _telegram_register():
    """The Telegram helper's register_webhook, when that channel module provides one."""
    try:
        from niaga.inbox.channels import telegram
    except ImportError:
        return None
    return getattr(telegram, "register_webhook", None)


@router.post("/inbox/channels/{channel_id}/telegram-webhook")
def register_telegram_webhook(channel_id: uuid.UUID, request: Request, p: Principal = Depends(MANAGE),
                              session: Session = Depends(db)) -> Response:
    """Tell Telegram to deliver this bot's updates to our webhook URL (with the channel's secret token)."""
    channel = service.get_channel(session, p.tenant_id, channel_id)
    register = _telegram_register()
    if channel.kind != "telegram" or register is None:
        raise Conflict(Msg("Only a Telegram channel can register its webhook here."))
    url = channel_read(request, session, channel).webhook_url
    try:
        register(channel, service.channel_secrets_of(session, channel), url)
    except (PermanentFailure, TemporaryFailure) as exc:
        return _detail(request, session, channel, errors={"telegram": Msg(
            "Telegram refused: {reason}", reason=exc.reason[:200])}, status_code=502)
    except (OSError, DomainError):
        return _detail(request, session, channel, errors={"telegram": Msg(
            "Telegram could not be reached. Try again later.")}, status_code=502)
    return _detail(request, session, channel, notice=Msg("Telegram now delivers this bot's messages here."))

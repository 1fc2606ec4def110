"""Channel settings staff fill in: the fields of each channel kind, checked the same way for pages and API.

Each kind names its fields and where each goes: the account reference deliveries are routed on, the
non-secret config, or the sealed secrets (never shown again; the settings say only whether one is set).
Names the adapters read: WhatsApp and Instagram `access_token`, `app_secret` (config `waba_id`); Telegram
`bot_token`, `webhook_secret` (generated); LINE `channel_secret`, `channel_access_token` (config
`channel_id`); email config `imap_*`, `smtp_*`, `username`, secret `password`; web chat config
`allowed_origins`, secret `identity_secret` (generated, shown once).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.identity.accounts import clean_email
from niaga.identity.principal import Principal
from niaga.inbox import service
from niaga.inbox.adapters import ADAPTERS, load_adapters
from niaga.inbox.channels import webchat
from niaga.inbox.models import CHANNEL_KINDS, Channel
from niaga.kit.errors import Conflict, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.web.i18n import N_

MAX_VALUE = 2000  # tokens are long; nothing a person types is longer
KIND_LABELS = {"whatsapp": N_("WhatsApp Business"), "instagram": N_("Instagram"), "telegram": N_("Telegram"),
               "line": N_("LINE"), "email": N_("Email"), "webchat": N_("Web chat")}
SECURITY_CHOICES = ("tls", "starttls", "none")


@dataclass(frozen=True)
class Field:
    """One setting of a channel kind."""

    name: str
    label: str
    where: str  # "account" (Channel.account_ref) | "config" | "secret"
    required: bool = True
    check: str = "text"  # text | digits | email | port | security | origins | bot_token
    max_len: int = 200
    hint: str | None = None


FIELDS: dict[str, tuple[Field, ...]] = {
    "whatsapp": (
        Field("phone_number_id", N_("Phone number ID"), "account", check="digits", max_len=40,
              hint=N_("From Meta's WhatsApp Manager: the ID of the business phone number, not the number itself.")),
        Field("waba_id", N_("WhatsApp Business Account ID"), "config", check="digits", max_len=40),
        Field("access_token", N_("Access token"), "secret", max_len=MAX_VALUE),
        Field("app_secret", N_("App secret"), "secret", max_len=200),
    ),
    "instagram": (
        Field("account_id", N_("Instagram account ID"), "account", check="digits", max_len=40),
        Field("access_token", N_("Page access token"), "secret", max_len=MAX_VALUE),
        Field("app_secret", N_("App secret"), "secret", max_len=200),
    ),
    "telegram": (
        Field("bot_token", N_("Bot token"), "secret", check="bot_token", max_len=200,
              hint=N_("The token BotFather gave you, like 123456789:AA…")),
    ),
    "line": (
        Field("destination", N_("Bot user ID (destination)"), "account", max_len=100),
        Field("channel_id", N_("Channel ID"), "config", required=False, check="digits", max_len=40),
        Field("channel_secret", N_("Channel secret"), "secret", max_len=200),
        Field("channel_access_token", N_("Channel access token"), "secret", max_len=MAX_VALUE),
    ),
    "email": (
        Field("address", N_("Email address"), "account", check="email", max_len=254),
        Field("imap_host", N_("IMAP server"), "config", max_len=200),
        Field("imap_port", N_("IMAP port"), "config", check="port", max_len=5),
        Field("imap_security", N_("IMAP security"), "config", check="security", max_len=10),
        Field("smtp_host", N_("SMTP server"), "config", max_len=200),
        Field("smtp_port", N_("SMTP port"), "config", check="port", max_len=5),
        Field("smtp_security", N_("SMTP security"), "config", check="security", max_len=10),
        Field("username", N_("User name"), "config", max_len=254),
        Field("password", N_("Password"), "secret", max_len=500),
    ),
    "webchat": (
        Field("allowed_origins", N_("Allowed sites"), "config", required=False, check="origins", max_len=5000,
              hint=N_("One address per line, like https://toko.example. Only these sites can show the chat.")),
    ),
}
DEFAULTS = {"imap_port": "993", "imap_security": "tls", "smtp_port": "587", "smtp_security": "starttls"}
_DIGITS = re.compile(r"^\d{1,40}$")
_BOT_TOKEN = re.compile(r"^(\d{3,20}):[A-Za-z0-9_-]{20,100}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")


def kind_fields(kind: str) -> tuple[Field, ...]:
    """The settings of a kind (none for an unknown kind)."""
    return FIELDS.get(kind, ())


def secret_names(kind: str) -> list[str]:
    """The secrets a kind keeps, including generated ones."""
    names = [f.name for f in kind_fields(kind) if f.where == "secret"]
    return names + {"telegram": ["webhook_secret"], "webchat": ["identity_secret"]}.get(kind, [])


def _check(field: Field, raw: Any, errors: dict[str, Msg]) -> Any:
    """The cleaned value of one field, or None (with a message in errors when it is wrong)."""
    if field.check == "origins":
        if raw is None:
            return []
        if not isinstance(raw, (str, list)):
            errors[field.name] = Msg("Give one site address per line.")
            return None
        if isinstance(raw, str) and len(raw) > field.max_len:
            errors[field.name] = Msg("Use at most {n} characters.", n=field.max_len)
            return None
        origins, problem = webchat.clean_origins(raw)
        if problem:
            errors[field.name] = problem
            return None
        return origins
    if raw is not None and not isinstance(raw, (str, int)) or isinstance(raw, bool):
        errors[field.name] = Msg("Must be text.")
        return None
    value = str(raw if raw is not None else "").strip()
    if not value:
        if field.required:
            errors[field.name] = Msg("This field is required.")
        return None
    if len(value) > field.max_len or not _PRINTABLE.match(value):
        errors[field.name] = Msg("Use at most {n} characters, on one line.", n=field.max_len)
        return None
    if field.check == "digits" and not _DIGITS.match(value):
        errors[field.name] = Msg("Only digits.")
    elif field.check == "email":
        cleaned = clean_email(value)
        if cleaned is None:
            errors[field.name] = Msg("Enter a valid email address.")
        return cleaned
    elif field.check == "port":
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            errors[field.name] = Msg("A port is a number from 1 to 65535.")
            return None
        return int(value)
    elif field.check == "security" and value not in SECURITY_CHOICES:
        errors[field.name] = Msg("Choose TLS, STARTTLS or none.")
    elif field.check == "bot_token" and not _BOT_TOKEN.match(value):
        errors[field.name] = Msg("This is not a Telegram bot token (digits, a colon, then the secret part).")
    return None if field.name in errors else value


@dataclass
class CleanSettings:
    """Checked settings split by where they go; `None` account means unchanged."""

    account_ref: str | None
    config: dict[str, Any]
    secrets: dict[str, str]


def clean_settings(kind: str, values: dict[str, Any], *, creating: bool) -> CleanSettings:
    """Check the settings of a kind; on edit an empty secret keeps the stored one. 422 with every problem."""
    if not isinstance(values, dict):
        raise ValidationFailed({"settings": Msg("Settings must be an object of field names and values.")})
    errors: dict[str, Msg] = {}
    known = {f.name for f in kind_fields(kind)}
    for name in values:
        if name not in known:
            errors[str(name)[:40]] = Msg("This channel type has no such setting.")
    account, config, secrets = None, {}, {}
    for field in kind_fields(kind):
        raw = values.get(field.name)
        if field.where == "secret" and not creating and (raw is None or raw == ""):
            continue  # kept as stored; secrets are never shown, so an empty box means "unchanged"
        value = _check(field, raw, errors)
        if value is None:
            continue
        if field.where == "account":
            account = value
        elif field.where == "config":
            config[field.name] = value
        else:
            secrets[field.name] = value
    if kind == "telegram" and "bot_token" in secrets:
        account = secrets["bot_token"].split(":", 1)[0]  # the bot's id: not secret, routes deliveries
    if errors:
        raise ValidationFailed(errors)
    return CleanSettings(account, config, secrets)


def _check_account_free(session: Session, tenant_id: uuid.UUID, kind: str, account: str | None,
                        channel_id: uuid.UUID | None = None) -> None:
    if not account:
        return
    query = select(Channel.id).where(Channel.tenant_id == tenant_id, Channel.kind == kind,
                                     Channel.account_ref == account)
    if channel_id is not None:
        query = query.where(Channel.id != channel_id)
    if session.scalar(query.limit(1)) is not None:
        field = next((f.name for f in kind_fields(kind) if f.where == "account"), "bot_token")
        raise ValidationFailed({field: Msg("Another channel of yours already uses this account.")})


def _prepare(channel: Channel, secrets: dict[str, Any]) -> dict[str, Any]:
    """Let the kind's adapter add what it generates (Telegram: the webhook secret)."""
    if not ADAPTERS:
        load_adapters()
    prepare = getattr(ADAPTERS.get(channel.kind), "prepare_secrets", None)
    return prepare(channel, dict(secrets)) if prepare is not None else secrets


def create(session: Session, principal: Principal, kind: Any, name: Any, values: dict[str, Any]
           ) -> tuple[Channel, str | None]:
    """Connect a channel from staff's settings; returns it and, for web chat, the identity secret (shown once)."""
    if not isinstance(kind, str) or kind not in CHANNEL_KINDS:
        raise ValidationFailed({"kind": Msg("Choose a channel type.")})
    if not isinstance(name, str):
        raise ValidationFailed({"name": Msg("Give the channel a name of at most {n} characters.", n=80)})
    errors: dict[str, Msg] = {}
    if not name.strip() or len(name.strip()) > 80:
        errors["name"] = Msg("Give the channel a name of at most {n} characters.", n=80)
    try:
        settings = clean_settings(kind, values, creating=True)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        settings = None
    if errors:
        raise ValidationFailed(errors)
    _check_account_free(session, principal.tenant_id, kind, settings.account_ref)
    shown_once = None
    secrets = dict(settings.secrets)
    config = dict(settings.config)
    if kind == "webchat":
        shown_once = secrets["identity_secret"] = webchat.new_identity_secret()
        config.setdefault("allowed_origins", [])
    channel = service.create_channel(session, principal, kind=kind, name=name, account_ref=settings.account_ref or "",
                                     config=config)
    secrets = _prepare(channel, secrets)
    if secrets:
        service.set_channel_secrets(session, principal, channel, secrets)
    return channel, shown_once


def update(session: Session, principal: Principal, channel: Channel, *, name: Any = None,
           values: dict[str, Any] | None = None, active: Any = None) -> Channel:
    """Rename, change settings (secrets only when given), or switch a channel on or off."""
    errors: dict[str, Msg] = {}
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name.strip()) > 80):
        errors["name"] = Msg("Give the channel a name of at most {n} characters.", n=80)
    if active is not None and not isinstance(active, bool):
        errors["active"] = Msg("Must be true or false.")
    settings = None
    if values is not None:
        try:
            if not isinstance(values, dict):
                raise ValidationFailed({"settings": Msg("Settings must be an object of field names and values.")})
            # What is not given stays as stored (the API may send only what changes).
            settings = clean_settings(channel.kind, {**form_values(channel), **values}, creating=False)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    changed: list[str] = []
    if name is not None and name.strip() != channel.name:
        channel.name = name.strip()
        changed.append("name")
    if settings is not None:
        if settings.account_ref is not None and settings.account_ref != channel.account_ref:
            _check_account_free(session, channel.tenant_id, channel.kind, settings.account_ref, channel.id)
            channel.account_ref = settings.account_ref
            changed.append("account_ref")
        config = {**(channel.config or {})}
        for field in kind_fields(channel.kind):
            if field.where != "config":
                continue
            if field.name in settings.config:
                config[field.name] = settings.config[field.name]
            elif field.check == "origins":
                config[field.name] = []
            else:
                config.pop(field.name, None)
        if config != (channel.config or {}):
            channel.config = config
            changed.append("config")
        if settings.secrets:
            service.set_channel_secrets(session, principal, channel, settings.secrets)
    if active is not None and active != channel.active:
        channel.active = active
        changed.append("active")
    if changed:
        audit.record(session, channel.tenant_id, "inbox.channel_changed", principal.actor, target_type="channel",
                     target_id=channel.id, purpose="U1", details={"fields": changed})
    session.flush()
    return channel


def rotate_identity_secret(session: Session, principal: Principal, channel: Channel) -> str:
    """A new identity secret for a web chat channel (the old one stops working now); returned to show once."""
    if channel.kind != "webchat":
        raise Conflict(Msg("Only a web chat channel has an identity secret."))
    secret = webchat.new_identity_secret()
    service.set_channel_secrets(session, principal, channel, {"identity_secret": secret})
    return secret


def secrets_set(session: Session, channel: Channel) -> dict[str, bool]:
    """Which of the kind's secrets are stored (never their values)."""
    stored = service.channel_secrets_of(session, channel)
    return {name: bool(stored.get(name)) for name in secret_names(channel.kind)}


def form_values(channel: Channel) -> dict[str, str]:
    """The non-secret settings as form values."""
    values: dict[str, str] = {}
    for field in kind_fields(channel.kind):
        if field.where == "account":
            values[field.name] = channel.account_ref or ""
        elif field.where == "config":
            value = (channel.config or {}).get(field.name)
            values[field.name] = "\n".join(value) if isinstance(value, list) else ("" if value is None else str(value))
    return values


def public_config(channel: Channel) -> dict[str, Any]:
    """The config values staff set (not the adapter's own bookkeeping such as polling state)."""
    names = {f.name for f in kind_fields(channel.kind) if f.where == "config"}
    return {k: v for k, v in (channel.config or {}).items() if k in names}

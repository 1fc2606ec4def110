"""Web chat: the business's own site talks to niaga through a small widget (static/webchat/widget.js).

There is no provider: the widget is the client. A visitor gets a random visitor id inside a token signed for
one channel (`issue_token`), so no row is written for a mere page view and a token of another channel (or a
forged one) is refused. The visitor's messages enter the inbox the way every channel's do: stored as events
(deduplicated on the visitor id plus a message id the widget generates) and processed by the same pipeline,
which finds or creates the contact behind the channel identity "webchat:<visitor id>" (an anonymous visitor
becomes a contact named "Pengunjung web"). Replies are "sent" by marking them sent with our own id; the
widget polls for them (`conversation_messages`).

Identity verification: a site that knows its signed-in user passes the user's id, email and name with an
HMAC-SHA256 of the user id under the channel's `identity_secret` (computed on the site's server). A valid
one links the visitor to the contact with that email (or a new one); a wrong one is refused and ignored.

Secrets of this channel: `identity_secret`. Config: `allowed_origins` (list of "https://toko.example").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets as random_tokens
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.identity.accounts import clean_email
from niaga.inbox.adapters import (
    DeliveryEvent,
    InboundItem,
    InboundMessage,
    MalformedDelivery,
    MediaRef,
    OutboundRequest,
    PermanentFailure,
    SendResult,
    register_adapter,
)
from niaga.inbox.models import Channel, ChannelIdentity, Conversation, Message
from niaga.kit.errors import Unauthorized, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.audit import Actor
from niaga.privacy.blind_index import find_rows
from niaga.privacy.fields import is_readable, registered_fields
from niaga.privacy.vault import get_vault

KIND = "webchat"
ANONYMOUS_NAME = "Pengunjung web"  # the contact name of a visitor the site did not identify
MAX_TEXT = 4096
TOKEN_VERSION = "v1"
TOKEN_LIFETIME = timedelta(days=180)  # after this the widget starts a new visitor
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")
HASH = re.compile(r"^[0-9a-fA-F]{64}$")
# A poll returns what became visible since the cursor, re-reading this much before it: a message whose
# transaction committed a moment after a later one's is still seen (the widget drops repeats by id).
POLL_OVERLAP = timedelta(seconds=30)
POLL_LIMIT = 200
MAX_ORIGINS = 20


# -- the adapter ---------------------------------------------------------------------------------------
class WebChatAdapter:
    """The inbox's view of web chat: events come from the public endpoints, never from a webhook."""

    kind = KIND

    def verify(self, channel: Channel, secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
        """Nobody delivers web chat to /webhooks: always refused (the widget uses /webchat/...)."""
        return False

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """Not used: web chat events are cut by the public endpoint (`visitor_event`)."""
        raise MalformedDelivery("web chat has no webhook deliveries")

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """One stored visitor message."""
        try:
            data = json.loads(payload)
            visitor, client_id, text = data["visitor"], data["id"], data["text"]
            at = datetime.fromisoformat(data["at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedDelivery("not a web chat event") from exc
        return [InboundMessage(provider_message_id=f"{visitor}:{client_id}", sender_id=visitor, at=at, kind="text",
                               text=text, sender_name=ANONYMOUS_NAME)]

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """The widget sends text only."""
        raise PermanentFailure("web chat carries no files")

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """Delivered by being readable: the widget's poll returns sent replies of the visitor's conversation."""
        if request.kind not in ("text",) or not request.text:
            raise PermanentFailure("web chat can only carry text", code="unsupported")
        return SendResult(provider_message_id=request.message_id)


register_adapter(WebChatAdapter())


def _mark_visible(session: Session, message: Message) -> None:
    """Inbound web chat messages: remember when they became readable (the poll's cursor runs on it)."""
    channel = session.get(Channel, (message.tenant_id, message.channel_id))
    if channel is not None and channel.kind == KIND:
        message.status_at = utcnow()


def _install_hook() -> None:
    from niaga.inbox.ingest import AFTER_INBOUND

    if _mark_visible not in AFTER_INBOUND:
        AFTER_INBOUND.append(_mark_visible)


_install_hook()


# -- visitor tokens ------------------------------------------------------------------------------------
def _token_key(session: Session) -> bytes:
    return get_vault().platform_secret(session, "webchat-visitor")


def _token_mac(session: Session, channel: Channel, visitor_id: str, issued: int) -> str:
    message = f"{TOKEN_VERSION}:{channel.tenant_id.hex}:{channel.id.hex}:{visitor_id}:{issued}".encode()
    digest = hmac.new(_token_key(session), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_visitor_id() -> str:
    """A random visitor id (128 bits, hex)."""
    return random_tokens.token_hex(16)


def issue_token(session: Session, channel: Channel, visitor_id: str, issued: int | None = None) -> str:
    """The token the widget keeps: the visitor id, when it was issued, and a MAC binding both to the channel."""
    issued = int(time.time()) if issued is None else issued
    return f"{TOKEN_VERSION}.{visitor_id}.{issued}.{_token_mac(session, channel, visitor_id, issued)}"


def visitor_of(session: Session, channel: Channel, token: str | None) -> str:
    """The visitor id of a valid token for this channel; 401 for anything else."""
    refused = Unauthorized(Msg("This chat session is not valid any more. Reload the page to start a new one."))
    parts = (token or "").strip().split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION or not VISITOR_ID.match(parts[1]) or not parts[2].isdigit() \
            or len(parts[2]) > 12 or len(parts[3]) > 64:
        raise refused
    visitor_id, issued = parts[1], int(parts[2])
    if not hmac.compare_digest(parts[3], _token_mac(session, channel, visitor_id, issued)):
        raise refused
    age = time.time() - issued
    if age < -300 or age > TOKEN_LIFETIME.total_seconds():
        raise refused
    return visitor_id


# -- origins -------------------------------------------------------------------------------------------
def clean_origin(raw: str) -> str | None:
    """'https://toko.example' from what staff typed (a trailing slash is dropped); None when not an origin."""
    value = (raw or "").strip().rstrip("/").lower()
    match = re.fullmatch(r"(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?", value)
    if match is None or len(value) > 200 or ".." in match.group(2):
        return None
    return value


def clean_origins(raw: str | list[str]) -> tuple[list[str], Msg | None]:
    """The allowed origins (one per line or a list), or an error naming the first bad one."""
    items = raw.replace(",", "\n").splitlines() if isinstance(raw, str) else list(raw)
    origins: list[str] = []
    for item in items:
        if not isinstance(item, str):
            return [], Msg("Each site address must be text.")
        if not item.strip():
            continue
        origin = clean_origin(item)
        if origin is None:
            return [], Msg("'{value}' is not a site address like https://toko.example.", value=item.strip()[:80])
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        return [], Msg("At most {n} site addresses.", n=MAX_ORIGINS)
    return origins, None


def origin_allowed(channel: Channel, origin: str) -> bool:
    """True when the channel's settings list this exact origin."""
    allowed = (channel.config or {}).get("allowed_origins") or []
    return origin.strip().rstrip("/").lower() in allowed


# -- identity verification -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteUser:
    """A signed-in user of the business's site, as the site vouches for them."""

    user_id: str
    email: str
    name: str
    hash: str


def site_user(data: Any) -> SiteUser:
    """Check the shape of the identity the widget passed (422 with field messages when malformed)."""
    if not isinstance(data, dict):
        raise ValidationFailed({"user": Msg("The site's user must be an object with id, email, name and hash.")})
    errors: dict[str, Msg] = {}
    values = {key: data.get(key) for key in ("id", "email", "name", "hash")}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            errors[key] = Msg("Must be text.")
    if errors:
        raise ValidationFailed(errors)
    user_id, email = (values["id"] or "").strip(), clean_email(values["email"] or "")
    name, digest = " ".join((values["name"] or "").split()), (values["hash"] or "").strip()
    if not user_id or len(user_id) > 200:
        errors["id"] = Msg("Give the user's id on your site (at most {n} characters).", n=200)
    if email is None or len(email) > 254:
        errors["email"] = Msg("Give the user's email address.")
    if len(name) > 120:
        errors["name"] = Msg("Use at most {n} characters.", n=120)
    if not HASH.match(digest):
        errors["hash"] = Msg("The hash must be 64 hexadecimal characters.")
    if errors:
        raise ValidationFailed(errors)
    return SiteUser(user_id, email or "", name, digest.lower())


def identity_hash(secret: str, user_id: str) -> str:
    """What the site's server computes: hex HMAC-SHA256(identity secret, user id)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_site_user(secrets: Mapping[str, Any], user: SiteUser) -> None:
    """401 unless the hash is the HMAC of the user id under this channel's identity secret."""
    secret = secrets.get("identity_secret")
    expected = identity_hash(secret, user.user_id) if isinstance(secret, str) and secret else ""
    if not expected or not hmac.compare_digest(expected, user.hash):
        raise Unauthorized(Msg("The site's signature of this user is wrong; the chat continues without it."))


def _address_spec():
    return next(s for s in registered_fields(ChannelIdentity) if s.column == "address")


def link_visitor(session: Session, channel: Channel, visitor_id: str, user: SiteUser) -> Contact:
    """Tie a new visitor id to the contact with the verified email (created when there is none)."""
    contact = contacts.contact_for_channel_sender(session, channel.tenant_id, email=user.email)
    created = contact is None
    if contact is None:
        try:
            with session.begin_nested():  # the same new user in two tabs at once: the email's unique index decides
                contact = contacts.create_channel_contact(session, channel.tenant_id, name=user.name or user.email,
                                                          source=KIND, email=user.email)
        except IntegrityError:
            contact = contacts.contact_for_channel_sender(session, channel.tenant_id, email=user.email)
            if contact is None:
                raise
            created = False
    session.add(ChannelIdentity(tenant_id=channel.tenant_id, subject_id=contact.subject_id, contact_id=contact.id,
                                kind=KIND, address=f"{KIND}:{visitor_id}", display_name=user.name or None))
    session.flush()
    audit.record(session, channel.tenant_id, "inbox.webchat_identity_verified", Actor.system(), target_type="contact",
                 target_id=contact.id, subject_id=contact.subject_id, purpose="U1",
                 details={"channel_id": str(channel.id), "new_contact": created})
    return contact


# -- visitor messages ----------------------------------------------------------------------------------
def clean_visitor_message(data: Any) -> tuple[str, str]:
    """(client message id, text) of a visitor's message; 422 with field messages when unusable."""
    if not isinstance(data, dict):
        raise ValidationFailed({"body": Msg("Send a JSON object with id and text.")})
    client_id, text = data.get("id"), data.get("text")
    errors: dict[str, Msg] = {}
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        errors["id"] = Msg("The message id must be 8 to 64 letters, digits, '-' or '_'.")
    if not isinstance(text, str) or not text.strip():
        errors["text"] = Msg("Write a message first.")
    elif len(text.strip()) > MAX_TEXT:
        errors["text"] = Msg("A message has at most {n} characters.", n=MAX_TEXT)
    if errors:
        raise ValidationFailed(errors)
    return client_id, text.strip()


def visitor_event(visitor_id: str, client_id: str, text: str) -> DeliveryEvent:
    """The inbox event of one visitor message; its id (visitor + message id) makes a resend a duplicate."""
    payload = json.dumps({"visitor": visitor_id, "id": client_id, "text": text, "at": utcnow().isoformat()},
                         ensure_ascii=False).encode()
    return DeliveryEvent(event_id=f"{visitor_id}:{client_id}", payload=payload)


def visitor_conversation(session: Session, channel: Channel, visitor_id: str) -> Conversation | None:
    """The conversation of this visitor's contact on this channel (None before their first message is in)."""
    ids = find_rows(session, channel.tenant_id, _address_spec(), f"{KIND}:{visitor_id}")
    if not ids:
        return None
    identity = session.get(ChannelIdentity, (channel.tenant_id, ids[0]))
    if identity is None or identity.kind != KIND:
        return None
    contact = session.get(Contact, (channel.tenant_id, identity.contact_id))
    seen = 0
    while contact is not None and contact.status == "merged" and contact.merged_into_id is not None and seen < 20:
        contact, seen = session.get(Contact, (channel.tenant_id, contact.merged_into_id)), seen + 1
    if contact is None:
        return None
    return session.scalar(select(Conversation).where(
        Conversation.tenant_id == channel.tenant_id, Conversation.channel_id == channel.id,
        Conversation.contact_id == contact.id, Conversation.thread_key == ""))


def _cursor_time(cursor: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=cursor)


def _cursor_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def parse_cursor(raw: str | None) -> int | None:
    """The poll cursor (microseconds since 1970) or None; 422 when it is not one."""
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 17:
        raise ValidationFailed({"after": Msg("The cursor must be a number from an earlier answer.")})
    return int(raw)


def conversation_messages(session: Session, channel: Channel, visitor_id: str, after: int | None
                          ) -> tuple[list[dict[str, Any]], int | None]:
    """What the visitor may read: their messages and the replies sent to them, visible after the cursor.

    Without a cursor: the latest messages (the history shown when the page opens). Internal notes and
    replies not sent yet never appear. Returns (messages oldest first, the next cursor).
    """
    conversation = visitor_conversation(session, channel, visitor_id)
    if conversation is None:
        return [], after
    visible_at = func.coalesce(Message.status_at, Message.at)
    query = select(Message, visible_at).where(
        Message.tenant_id == channel.tenant_id, Message.conversation_id == conversation.id,
        Message.channel_id == channel.id, Message.private.is_(False),
        or_(Message.direction == "in", Message.status.in_(("sent", "delivered", "read"))))
    if after is None:
        rows = list(session.execute(query.order_by(visible_at.desc(), Message.id.desc()).limit(POLL_LIMIT)))[::-1]
    else:
        since = _cursor_time(after) - POLL_OVERLAP
        rows = list(session.execute(query.where(visible_at > since).order_by(visible_at, Message.id)
                                    .limit(POLL_LIMIT)))
    items, cursor = [], after
    for message, seen_at in rows:
        cursor = max(cursor or 0, _cursor_of(seen_at))
        if not is_readable(message.body) or not message.body:
            continue
        inbound = message.direction == "in"
        client_id = (message.provider_message_id or "").split(":", 1)[1] if inbound and \
            ":" in (message.provider_message_id or "") else None
        items.append({"id": str(message.id), "client_id": client_id, "from": "visitor" if inbound else "agent",
                      "text": message.body, "at": _iso(message.at)})
    return items, cursor


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_identity_secret() -> str:
    """A fresh identity secret for a web chat channel (the site's server keeps a copy)."""
    return random_tokens.token_hex(32)


def embed_snippet(base_url: str, channel: Channel) -> str:
    """The script tag a business puts on its site."""
    return (f'<script src="{base_url.rstrip("/")}/static/webchat/widget.js" '
            f'data-channel="{channel.webhook_key}" async></script>')


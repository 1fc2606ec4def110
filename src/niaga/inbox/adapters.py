"""What every channel adapter provides, and the values passed between adapters and the inbox.

An adapter knows one provider's wire format (reference/channels.md) and nothing about our tables: it checks
signatures on raw bytes, splits a delivery into events with the provider's ids, turns one event into
inbound messages and status updates, downloads media, and sends. The inbox (ingest.py, outbox.py) does the
storing, deduplication, contact resolution, retries and status ordering the same way for every channel.
Adapters register themselves with `register_adapter` when their module is imported (inbox/channels/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from niaga.inbox.models import Channel


class MalformedDelivery(ValueError):
    """A delivery whose body is not what the provider sends (answered 400; nothing stored)."""


class TemporaryFailure(Exception):
    """The provider could not do it now (429, 5xx, timeout): try again later, after `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The provider refused for good (bad recipient, outside the reply window, file gone): shown to staff."""

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class DeliveryEvent:
    """One event cut from a webhook delivery: its provider id (the deduplication key) and its own bytes.

    `account_ref`: the business account the event is for (WhatsApp phone_number_id, …) when the provider
    says so; the event is routed to the tenant's channel with that reference.
    """

    event_id: str
    payload: bytes
    account_ref: str | None = None


@dataclass(frozen=True)
class MediaRef:
    """A file the provider holds for a message: `ref` is its media id or link."""

    ref: str
    content_type: str = ""
    filename: str = ""
    sha256: str = ""


@dataclass
class InboundMessage:
    """A message from the customer (or, with `outgoing`, the business's own echo sent elsewhere)."""

    provider_message_id: str
    sender_id: str  # the customer's id on the channel: wa_id, IGSID, Telegram user id, LINE userId, email, visitor
    at: datetime
    kind: str = "text"
    text: str | None = None
    content: dict[str, Any] | None = None
    media: list[MediaRef] = field(default_factory=list)
    sender_name: str | None = None
    sender_phone: str | None = None  # E.164, when the channel identifies people by phone (WhatsApp)
    sender_email: str | None = None  # when the channel identifies people by email
    outgoing: bool = False  # Instagram echo: the business's own message, stored as outbound
    reply_to_provider_id: str | None = None
    thread_ref: str | None = None  # email: the thread's root Message-ID
    subject: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report for a message we sent: sent, delivered, read or failed (with the provider's reason)."""

    provider_message_id: str
    status: str
    at: datetime
    code: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Unsupported:
    """An event the inbox does not act on (follow, typing, a read receipt of a customer's own); kept as done."""

    what: str


InboundItem = InboundMessage | StatusUpdate | Unsupported


@dataclass
class OutboundRequest:
    """What to send: built by the outbox from a queued message and its conversation."""

    message_id: str  # our id; LINE's retry key and the email Message-ID derive from it
    to: str  # the customer's channel id (wa_id without +, IGSID, chat id, LINE userId, email address)
    kind: str = "text"  # text | template | image | document | …
    text: str | None = None
    template: dict[str, Any] | None = None  # {"name", "language", "parameters": [...]} for WhatsApp
    media: list[tuple[bytes, str, str]] = field(default_factory=list)  # (bytes, content type, file name)
    reply_to_provider_id: str | None = None
    subject: str | None = None  # email
    references: list[str] = field(default_factory=list)  # email threading: ancestors' Message-IDs
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message; its id for later status reports."""

    provider_message_id: str


class ChannelAdapter(Protocol):
    """What the inbox needs from one channel kind."""

    kind: str

    def verify(self, channel: Channel, secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
        """True when the delivery carries a valid signature for this channel (checked on the raw bytes)."""

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """Cut a delivery into events with their provider ids; raise MalformedDelivery for a bad body."""

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """Turn one stored event into inbound messages and status updates."""

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """Download a file: (bytes, content type, file name); raise TemporaryFailure or PermanentFailure."""

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """Send one message; raise TemporaryFailure (retry) or PermanentFailure (shown to staff)."""

    # Optional, for providers whose deliveries carry no sender name (Instagram, LINE):
    # profile_name(channel, secrets, sender_id) -> str | None, the name the provider shows for a new sender;
    # raise TemporaryFailure or PermanentFailure when it cannot say.
    # Optional, for providers with read receipts (WhatsApp): mark_read(channel, secrets, provider_message_id),
    # called when staff have read the conversation up to that customer message.
    # Optional, for providers that wait for an answer to a button press (Telegram):
    # acknowledge(channel, secrets, provider_message_id), called once the press is stored.


ADAPTERS: dict[str, ChannelAdapter] = {}
_loaded = False


def register_adapter(adapter: ChannelAdapter) -> ChannelAdapter:
    """Make an adapter the one for its channel kind."""
    ADAPTERS[adapter.kind] = adapter
    return adapter


def adapter_for(kind: str) -> ChannelAdapter:
    """The adapter of a channel kind (KeyError when none is installed)."""
    if kind not in ADAPTERS and not _loaded:
        load_adapters()
    return ADAPTERS[kind]


def load_adapters() -> None:
    """Import every channel module so each registers its adapter."""
    global _loaded
    import importlib
    import pkgutil

    from niaga.inbox import channels

    for module in pkgutil.iter_modules(channels.__path__):
        importlib.import_module(f"niaga.inbox.channels.{module.name}")
    _loaded = True

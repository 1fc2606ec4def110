"""Instagram messaging (Meta Graph API): direct messages in, text replies out (reference/channels.md).

Same handshake and signature as WhatsApp. Each `messaging[]` item is an event: a message by its `mid`, a
read receipt, a reaction, a button postback. Echoes (`is_echo`) are the business's own messages sent from
the Instagram app: stored as outgoing in the customer's conversation (the customer is the recipient); the echo
of a message sent from here carries the same mid and is recognised as already stored. Customers are known by
their Instagram-scoped id (IGSID) only. Sends are capped per channel in process memory (`SENDS_PER_SECOND`,
or `config["sends_per_second"]`): well under Meta's limit, so a burst is spread out instead of refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


from niaga.config import get_settings
from niaga.db.base import utcnow
from niaga.inbox.adapters import (
    DeliveryEvent,
    InboundItem,
    InboundMessage,
    MalformedDelivery,
    MediaRef,
    OutboundRequest,
    PermanentFailure,
    SendResult,
    StatusUpdate,
    Unsupported,
    register_adapter,
)
from niaga.inbox.channels import meta
from niaga.inbox.models import Channel

# Conservative default cap per Instagram account and worker process (Meta allows far more for text).
SENDS_PER_SECOND = 5.0
MAX_TEXT = 1000  # Instagram refuses longer texts
OUTSIDE_WINDOW_SUBCODE = 2018278
ATTACHMENT_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
OUTSIDE_WINDOW = ("More than 24 hours have passed since the customer's last message: Instagram allows no "
                  "reply until they write again.")
REASONS = {551: "This Instagram user cannot receive messages right now."}
_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def _at(milliseconds: Any) -> datetime:
    if not isinstance(milliseconds, int | float) or isinstance(milliseconds, bool):
        return utcnow()
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return utcnow()


def _party(event: dict, side: str) -> str | None:
    party = event.get(side)
    found = party.get("id") if isinstance(party, dict) else None
    return str(found) if isinstance(found, str | int) and _ID.match(str(found)) else None


def event_key(event: dict) -> str | None:
    """The deduplication key of one messaging[] item; None for what the inbox does not keep (typing…).

    Provider ids only: the key is stored in a column that must name no one (no IGSID in it)."""
    message, read = event.get("message"), event.get("read")
    reaction, postback = event.get("reaction"), event.get("postback")
    if isinstance(message, dict) and meta.text_or_none(message.get("mid")):
        return f"{message['mid']}:deleted" if message.get("is_deleted") else message["mid"]
    if isinstance(read, dict) and meta.text_or_none(read.get("mid")):
        return f"read:{read['mid']}"
    if isinstance(reaction, dict) and meta.text_or_none(reaction.get("mid")):
        return f"reaction:{reaction['mid']}:{reaction.get('action')}:{event.get('timestamp')}"
    if isinstance(postback, dict) and meta.text_or_none(postback.get("mid")):
        return f"postback:{postback['mid']}"
    return None


class InstagramAdapter(meta.MetaWebhooks):
    """The Instagram messaging channel."""

    kind = "instagram"

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """One event per messaging[] item, routed on the entry's Instagram account id."""
        data = meta.load_delivery(body)
        if data.get("object") != "instagram":
            raise MalformedDelivery("not an Instagram delivery")
        events = []
        for entry in meta.json_list(data.get("entry")):
            if not isinstance(entry, dict):
                raise MalformedDelivery("entry is not an object")
            account = str(entry.get("id") or "") or None
            for event in meta.json_list(entry.get("messaging")):
                if not isinstance(event, dict):
                    raise MalformedDelivery("messaging item is not an object")
                key = event_key(event)
                if key is not None:
                    payload = json.dumps({"account": account, "event": event}, ensure_ascii=False).encode()
                    events.append(DeliveryEvent(key, payload, account))
        return events

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """A stored event as a message (or echo), a read receipt, a reaction or a postback."""
        data = json.loads(payload)
        event, account = data["event"], data.get("account") or channel.account_ref
        sender, recipient = _party(event, "sender"), _party(event, "recipient")
        at = _at(event.get("timestamp"))
        read = event.get("read")
        if isinstance(read, dict):
            return [StatusUpdate(read["mid"], "read", at)]
        message = event.get("message") if isinstance(event.get("message"), dict) else None
        echo = bool(message and message.get("is_echo")) or (sender is not None and sender == account)
        customer = recipient if echo else sender
        if customer is None:
            return [Unsupported("event without a customer")]
        if message is not None:
            if message.get("is_deleted"):
                return [Unsupported("message deleted by the customer")]
            return [self._message(message, customer, at, echo)]
        reaction = event.get("reaction")
        if isinstance(reaction, dict):
            emoji = meta.text_or_none(reaction.get("emoji")) if reaction.get("action") != "unreact" else None
            return [InboundMessage(provider_message_id=event_key(event), sender_id=customer, at=at, kind="reaction",
                                   text=emoji, reply_to_provider_id=meta.text_or_none(reaction.get("mid")),
                                   content={"message_id": reaction.get("mid"), "emoji": emoji,
                                            "removed": emoji is None})]
        postback = event["postback"]
        return [InboundMessage(provider_message_id=event_key(event), sender_id=customer, at=at, kind="button",
                               text=meta.text_or_none(postback.get("title")),
                               content={"payload": postback.get("payload"), "text": postback.get("title")})]

    def _message(self, message: dict, customer: str, at: datetime, echo: bool) -> InboundMessage:
        item = InboundMessage(provider_message_id=message["mid"], sender_id=customer, at=at,
                              text=meta.text_or_none(message.get("text")), outgoing=echo)
        reply_to = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
        item.reply_to_provider_id = meta.text_or_none(reply_to.get("mid"))
        if isinstance(reply_to.get("story"), dict):
            item.content = {"story_reply": True}
        kinds = []
        for attachment in message.get("attachments") or []:
            if not isinstance(attachment, dict):
                continue
            kind = ATTACHMENT_KINDS.get(attachment.get("type"))
            url = (attachment.get("payload") or {}).get("url") if isinstance(attachment.get("payload"), dict) \
                else None
            if kind and isinstance(url, str):
                item.media.append(MediaRef(ref=url))
                kinds.append(kind)
            else:
                kinds.append("unsupported")
                item.content = {**(item.content or {}), "type": attachment.get("type"),
                                "note": "An Instagram share, story or reel; open Instagram to see it."}
        if kinds and not item.text:
            item.kind = kinds[0]
        return item

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """Download an attachment's signed CDN link (no token: the link itself is the permission)."""
        graph = meta.Graph(token="")
        data, content_type = graph.download(media.ref, authorized=False, max_bytes=get_settings().max_file_bytes)
        if not data:
            raise PermanentFailure("Instagram sent an empty file.")
        major = content_type.split("/")[0] if content_type else "file"
        return data, content_type, media.filename or major

    def profile_name(self, channel: Channel, secrets: Mapping[str, Any], sender_id: str) -> str | None:
        """The customer's name, else their username (User Profile API: GET /{IGSID}?fields=name,username)."""
        if not _ID.match(sender_id or ""):
            return None
        try:
            found = meta.Graph.for_secrets(secrets).call("GET", sender_id, params={"fields": "name,username"})
        except meta.GraphFailure as exc:
            raise exc.as_failure() from None
        for key in ("name", "username"):
            value = found.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:120]
        return None

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """POST /{ig-id}/messages {"recipient": {"id": IGSID}, "message": {"text": …}}."""
        if not channel.account_ref:
            raise PermanentFailure("The channel has no Instagram account id.", code="no-account")
        if not _ID.match(request.to or ""):
            raise PermanentFailure("The customer's Instagram id is not valid.", code="bad-recipient")
        if request.kind != "text" or request.template or not request.text or len(request.text) > MAX_TEXT:
            raise PermanentFailure(f"Instagram accepts text messages of at most {MAX_TEXT} characters.",
                                   code="unsupported")
        meta.check_send_rate(channel, SENDS_PER_SECOND)
        graph = meta.Graph.for_secrets(secrets)
        body = {"recipient": {"id": request.to}, "message": {"text": request.text}}
        try:
            answer = graph.call("POST", f"{channel.account_ref}/messages", json=body)
        except meta.GraphFailure as failure:
            if failure.subcode == OUTSIDE_WINDOW_SUBCODE:
                raise PermanentFailure(OUTSIDE_WINDOW, code=str(OUTSIDE_WINDOW_SUBCODE)) from None
            raise failure.as_failure(REASONS) from None
        mid = answer.get("message_id")
        if not isinstance(mid, str) or not mid:
            raise PermanentFailure("Instagram accepted the request but gave no message id; check before retrying.",
                                   code="no-id")
        return SendResult(mid)


register_adapter(InstagramAdapter())

"""LINE Official Accounts through the Messaging API (reference/channels.md).

Secrets of a LINE channel: `channel_secret` (signs every webhook: X-Line-Signature is the base64 HMAC-SHA256 of
the raw body, the only authentication LINE offers) and `channel_access_token` (Bearer for the API). The
channel's `account_ref` is the bot's user id LINE sends as `destination`; events are deduplicated on their
`webhookEventId`. Sending uses push with `X-Line-Retry-Key`, a UUID derived from our message id: a retry after
a timeout carries the same key, and LINE answers 409 when it had already accepted it — that is a success, so a
retried push can never reach the customer twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from niaga.config import get_settings
from niaga.inbox.adapters import (
    DeliveryEvent,
    InboundItem,
    InboundMessage,
    MalformedDelivery,
    MediaRef,
    OutboundRequest,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    Unsupported,
    register_adapter,
)
from niaga.inbox.models import Channel

SIGNATURE_HEADER = "x-line-signature"
MAX_TEXT = 5000
RETRY_KEY_NAMESPACE = uuid.UUID("6f1c9a52-3f0e-4f57-9d7a-0b1f3c2e8a41")  # niaga's LINE retry keys
MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}
_USER_ID = re.compile(r"^U[0-9a-f]{32}$")  # LINE user ids: U and 32 hex digits
for _noisy in ("httpx", "httpcore"):  # request lines are not ours to log
    logging.getLogger(_noisy).setLevel(max(logging.WARNING, logging.getLogger(_noisy).level))


def signature(channel_secret: str, body: bytes) -> str:
    """The X-Line-Signature value LINE computes for a body."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def retry_key(message_id: str) -> str:
    """The X-Line-Retry-Key for one of our messages: the same UUID on every attempt."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, message_id))


def _at(millis: Any) -> datetime:
    if not isinstance(millis, int) or isinstance(millis, bool):
        return datetime.now(UTC)
    return datetime.fromtimestamp(millis / 1000, UTC)


def _request(method: str, url: str, token: str, what: str, **kwargs: Any) -> httpx.Response:
    """One API call with the channel's token; transport problems are temporary failures."""
    if not token:
        raise PermanentFailure("The LINE channel has no access token", code="config")
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        return httpx.request(method, url, headers=headers, timeout=get_settings().chat_api_timeout_seconds, **kwargs)
    except httpx.TimeoutException:
        raise TemporaryFailure(f"LINE {what}: no answer in time") from None
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"LINE {what}: {type(exc).__name__}") from None


def _refusal(response: httpx.Response, what: str) -> Exception:
    """The failure for an unsuccessful answer: 429 and 5xx are temporary, the rest permanent with LINE's reason."""
    try:
        message = str(response.json().get("message") or "")[:200]
    except (ValueError, AttributeError):
        message = ""
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = response.headers.get("retry-after", "")
        return TemporaryFailure(f"LINE {what}: HTTP {response.status_code}",
                                retry_after=float(retry_after) if retry_after.isdigit() else None)
    return PermanentFailure(f"LINE {what}: {message or f'HTTP {response.status_code}'}",
                            code=str(response.status_code))


def _message(event: Mapping[str, Any], user_id: str) -> InboundItem:
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    kind_on_line = message.get("type")
    message_id = message.get("id")
    if not isinstance(message_id, str) or not message_id:
        return Unsupported("line message without id")
    common = {"provider_message_id": message_id, "sender_id": user_id, "at": _at(event.get("timestamp")),
              "reply_to_provider_id": message.get("quotedMessageId") or None}
    if kind_on_line == "text":
        return InboundMessage(kind="text", text=str(message.get("text") or ""), **common)
    if kind_on_line in MEDIA_KINDS:
        provider = message.get("contentProvider") if isinstance(message.get("contentProvider"), dict) else {}
        if provider.get("type", "line") != "line":  # a link to someone else's server: not fetched (no SSRF)
            return InboundMessage(kind=MEDIA_KINDS[kind_on_line], content={"external_media": True}, **common)
        filename = str(message.get("fileName") or "")
        return InboundMessage(kind=MEDIA_KINDS[kind_on_line], media=[MediaRef(message_id, "", filename)],
                              content={"file_size": message["fileSize"]} if "fileSize" in message else None, **common)
    if kind_on_line == "location":
        location = {k: message.get(k) for k in ("title", "address", "latitude", "longitude")}
        return InboundMessage(kind="location", text=location.get("title") or None, content={"location": location},
                              **common)
    if kind_on_line == "sticker":
        return InboundMessage(kind="sticker", content={"sticker": {"package_id": message.get("packageId"),
                                                                   "sticker_id": message.get("stickerId")}}, **common)
    return InboundMessage(kind="unsupported", content={"line_type": str(kind_on_line)[:40]}, **common)


class LineAdapter:
    """LINE Messaging API: signed webhooks, content downloads, push with a retry key."""

    kind = "line"

    def verify(self, channel: Channel, secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
        """X-Line-Signature must be the HMAC of the raw body under the channel secret (constant-time)."""
        secret = str(secrets.get("channel_secret") or "")
        given = headers.get(SIGNATURE_HEADER, "")
        if not secret or not given:
            return False
        return hmac.compare_digest(given.encode(), signature(secret, body).encode())

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """Each event with its webhookEventId; an empty list (LINE's URL check) stores nothing."""
        try:
            delivery = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedDelivery("not JSON") from None
        if not isinstance(delivery, dict) or not isinstance(delivery.get("events"), list):
            raise MalformedDelivery("no events")
        destination = delivery.get("destination") if isinstance(delivery.get("destination"), str) else None
        events = []
        for event in delivery["events"]:
            if not isinstance(event, dict) or not isinstance(event.get("webhookEventId"), str) \
                    or not event["webhookEventId"]:
                raise MalformedDelivery("an event without webhookEventId")
            events.append(DeliveryEvent(event["webhookEventId"], json.dumps(event).encode(), destination))
        return events

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """Messages from people and postbacks; follow, unfollow and group events are kept as unsupported."""
        event = json.loads(payload)
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        user_id = source.get("userId")
        kind = event.get("type")
        if kind in ("follow", "unfollow"):
            return [Unsupported(f"line {kind}")]
        if source.get("type") != "user" or not isinstance(user_id, str) or not user_id:
            return [Unsupported(f"line {kind} from a {source.get('type')}")]
        if kind == "message":
            return [_message(event, user_id)]
        if kind == "postback":
            postback = event.get("postback") if isinstance(event.get("postback"), dict) else {}
            data = str(postback.get("data") or "")
            content = {"postback_data": data}
            if isinstance(postback.get("params"), dict):
                content["params"] = postback["params"]
            return [InboundMessage(provider_message_id=f"postback:{event['webhookEventId']}", sender_id=user_id,
                                   at=_at(event.get("timestamp")), kind="interactive", text=data or None,
                                   content=content)]
        return [Unsupported(f"line {kind}")]

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """GET the message's content from the data API."""
        if not media.ref.isdigit():  # LINE message ids are digits; anything else never reaches a URL
            raise PermanentFailure("LINE content download: not a LINE message id", code="file")
        base = get_settings().line_data_api_base.rstrip("/")
        response = _request("GET", f"{base}/v2/bot/message/{media.ref}/content",
                            str(secrets.get("channel_access_token") or ""), "content download")
        if response.status_code == 202:  # a video or audio LINE is still preparing
            raise TemporaryFailure("LINE content download: not ready yet")
        if response.status_code != 200:
            raise _refusal(response, "content download")
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        return response.content, content_type, media.filename

    def profile_name(self, channel: Channel, secrets: Mapping[str, Any], sender_id: str) -> str | None:
        """The display name of a user who added the account (GET /v2/bot/profile/{userId})."""
        if not _USER_ID.match(sender_id or ""):  # never let a delivery's value shape our URL
            return None
        base = get_settings().line_api_base.rstrip("/")
        response = _request("GET", f"{base}/v2/bot/profile/{sender_id}",
                            str(secrets.get("channel_access_token") or ""), "profile")
        if response.status_code != 200:
            raise _refusal(response, "profile")
        try:
            name = response.json().get("displayName")
        except (ValueError, AttributeError):
            return None
        return name.strip()[:120] if isinstance(name, str) and name.strip() else None

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """Push one text message; a 409 for our retry key means LINE already accepted it."""
        text = (request.text or "").strip()
        if not text:
            raise PermanentFailure("LINE messages need text (templates are a WhatsApp feature)", code="content")
        if len(text) > MAX_TEXT:
            raise PermanentFailure(f"LINE messages have at most {MAX_TEXT} characters", code="content")
        key = retry_key(request.message_id)
        base = get_settings().line_api_base.rstrip("/")
        response = _request("POST", f"{base}/v2/bot/message/push", str(secrets.get("channel_access_token") or ""),
                            "push", json={"to": request.to, "messages": [{"type": "text", "text": text}]},
                            headers={"X-Line-Retry-Key": key})
        if response.status_code not in (200, 409):
            raise _refusal(response, "push")
        try:
            sent = response.json().get("sentMessages") or []
        except (ValueError, AttributeError):
            sent = []
        if response.status_code == 409 and not sent and "retry key" not in response.text.lower():
            raise _refusal(response, "push")
        first = sent[0].get("id") if sent and isinstance(sent[0], dict) else None
        return SendResult(str(first) if first else f"retry-key:{key}")


ADAPTER = register_adapter(LineAdapter())

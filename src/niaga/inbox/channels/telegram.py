"""Telegram bots (reference/channels.md, Telegram Bot API).

Secrets of a Telegram channel: `bot_token` (from BotFather) and `webhook_secret`, the value Telegram echoes in
`X-Telegram-Bot-Api-Secret-Token` on every delivery; it is generated when the channel is created (1-256 of
A-Z a-z 0-9 _ -) and handed to Telegram by `register_webhook`. The channel's `account_ref` is the bot's id (the
part of the token before the colon): event ids are "<bot id>:<update_id>", so a redelivered update is a no-op.

The bot token is part of every API URL, so no URL is ever logged or put into an error message; errors name the
API method and the HTTP status only. Telegram sends no delivered/read receipts: a sent message stays "sent".
Telegram allows about one message per second to one chat and thirty per second overall; an in-process limiter
turns a send that would break either limit into a TemporaryFailure with the wait as retry_after.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets as random_tokens
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
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

SECRET_HEADER = "x-telegram-bot-api-secret-token"
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TOKEN_PATTERN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{20,100}$")
MAX_TEXT = 4096
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# httpx logs every request's URL at INFO, and a Bot API URL holds the bot token: keep those lines out.
for _noisy in ("httpx", "httpcore"):
    logging.getLogger(_noisy).setLevel(max(logging.WARNING, logging.getLogger(_noisy).level))


def _api_base() -> str:
    return get_settings().telegram_api_base.rstrip("/")


def _timeout() -> float:
    return get_settings().chat_api_timeout_seconds


def bot_id_of(token: str) -> str:
    """The bot's numeric id from its token ('' for a token of the wrong shape)."""
    match = TOKEN_PATTERN.match(token or "")
    return match.group(1) if match else ""


def new_webhook_secret() -> str:
    """A fresh secret token for setWebhook (within Telegram's 1-256 characters of A-Z a-z 0-9 _ -)."""
    return random_tokens.token_urlsafe(32)


# -- rate limits -----------------------------------------------------------------------------------------
class SendLimiter:
    """Per-chat and per-bot send pacing inside this process (Telegram: ~1/s per chat, 30/s overall)."""

    def __init__(self, per_chat_interval: float = 1.0, overall_per_second: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_chat_interval = per_chat_interval
        self.overall_per_second = overall_per_second
        self.clock = clock
        self._lock = threading.Lock()
        self._last_by_chat: dict[tuple[str, str], float] = {}
        self._recent_by_bot: dict[str, deque[float]] = {}

    def acquire(self, bot: str, chat: str) -> None:
        """Take a send slot now, or raise TemporaryFailure saying how long to wait."""
        with self._lock:
            now = self.clock()
            last = self._last_by_chat.get((bot, chat))
            if last is not None and now - last < self.per_chat_interval:
                raise TemporaryFailure("Telegram allows one message per second to a chat",
                                       retry_after=round(self.per_chat_interval - (now - last), 3))
            recent = self._recent_by_bot.setdefault(bot, deque())
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            if len(recent) >= self.overall_per_second:
                raise TemporaryFailure("Telegram allows 30 messages per second per bot",
                                       retry_after=round(1.0 - (now - recent[0]), 3))
            recent.append(now)
            self._last_by_chat[(bot, chat)] = now
            if len(self._last_by_chat) > 50_000:  # forget chats that are long quiet
                self._last_by_chat = {k: v for k, v in self._last_by_chat.items()
                                      if now - v < self.per_chat_interval}


LIMITER = SendLimiter()


# -- HTTP --------------------------------------------------------------------------------------------------
def _call(token: str, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a Bot API method; the `result` on success. Errors never carry the URL (it holds the token)."""
    url = f"{_api_base()}/bot{token}/{method}"
    try:
        response = httpx.post(url, json=payload or {}, timeout=_timeout())
    except httpx.TimeoutException:
        raise TemporaryFailure(f"Telegram {method}: no answer in time") from None
    except httpx.HTTPError as exc:
        raise TemporaryFailure(f"Telegram {method}: {type(exc).__name__}") from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code == 200 and answer.get("ok") is True:
        return answer.get("result")
    code = answer.get("error_code") or response.status_code
    description = str(answer.get("description") or f"HTTP {response.status_code}").replace(token, "<token>")[:250]
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    if code == 429 or response.status_code == 429:
        retry_after = parameters.get("retry_after")
        raise TemporaryFailure(f"Telegram {method}: too many requests",
                               retry_after=float(retry_after) if isinstance(retry_after, int | float) else None)
    if response.status_code >= 500:
        raise TemporaryFailure(f"Telegram {method}: server error {response.status_code}")
    raise PermanentFailure(f"Telegram {method}: {description}", code=str(code))


def register_webhook(channel: Channel, secrets: Mapping[str, Any], url: str) -> None:
    """Point the bot's webhook at `url` with the channel's secret token (for the channel settings page)."""
    token = secrets.get("bot_token") or ""
    secret = secrets.get("webhook_secret") or ""
    if not bot_id_of(token) or not SECRET_PATTERN.match(secret):
        raise PermanentFailure("The Telegram channel has no valid bot token or webhook secret", code="config")
    _call(token, "setWebhook", {"url": url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES})


# -- the adapter -------------------------------------------------------------------------------------------
def _at(seconds: Any) -> datetime:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return datetime.now(UTC)
    return datetime.fromtimestamp(seconds, UTC)


def _name(person: Mapping[str, Any]) -> str | None:
    name = " ".join(str(person.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return name or person.get("username") or None


def _message_id(chat_id: Any, message_id: Any) -> str:
    return f"{chat_id}:{message_id}"


def _media(message: Mapping[str, Any]) -> tuple[str, list[MediaRef], dict[str, Any]]:
    """(kind, files, extra content) of a Telegram message."""
    if isinstance(message.get("photo"), list) and message["photo"]:
        largest = message["photo"][-1]  # sizes come smallest first
        return "image", [MediaRef(str(largest.get("file_id", "")), "image/jpeg", "photo.jpg")], {}
    for key, kind in (("document", "document"), ("voice", "audio"), ("audio", "audio"), ("video", "video"),
                      ("sticker", "sticker")):
        item = message.get(key)
        if isinstance(item, dict) and item.get("file_id"):
            ref = MediaRef(str(item["file_id"]), str(item.get("mime_type") or ""), str(item.get("file_name") or ""))
            return kind, [ref], {}
    location = message.get("location")
    if isinstance(location, dict):
        return "location", [], {"location": {"latitude": location.get("latitude"),
                                             "longitude": location.get("longitude")}}
    contact = message.get("contact")
    if isinstance(contact, dict):
        return "contacts", [], {"contacts": [{"name": _name(contact), "phone": contact.get("phone_number")}]}
    return "text", [], {}


def _from_message(message: Mapping[str, Any], edited: bool) -> InboundItem:
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    if chat.get("type") != "private" or "id" not in chat or "message_id" not in message:
        return Unsupported("telegram group or channel post")
    chat_id = chat["id"]
    kind, media, content = _media(message)
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    if kind == "text" and not isinstance(text, str):
        kind = "unsupported"
    provider_id = _message_id(chat_id, message["message_id"])
    reply = message.get("reply_to_message")
    reply_to = _message_id(chat_id, reply["message_id"]) if isinstance(reply, dict) and "message_id" in reply else None
    if edited:  # an edit is a new message in our thread, pointing at the original
        content["edited"] = True
        reply_to = provider_id
        provider_id = f"{provider_id}:edit:{message.get('edit_date', '')}"
    if sender.get("username"):
        content["username"] = sender["username"]
    return InboundMessage(
        provider_message_id=provider_id, sender_id=str(chat_id), at=_at(message.get("edit_date" if edited else "date")),
        kind=kind, text=text if isinstance(text, str) else None, content=content or None, media=media,
        sender_name=_name(sender), reply_to_provider_id=reply_to,
    )


def _from_callback(query: Mapping[str, Any]) -> InboundItem:
    sender = query.get("from") if isinstance(query.get("from"), dict) else {}
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if chat and chat.get("type") != "private":
        return Unsupported("telegram group callback")
    chat_id = chat.get("id", sender.get("id"))
    if chat_id is None or not query.get("id"):
        return Unsupported("telegram callback without chat")
    data = query.get("data") if isinstance(query.get("data"), str) else ""
    reply_to = _message_id(chat_id, message["message_id"]) if "message_id" in message else None
    return InboundMessage(
        provider_message_id=f"callback:{query['id']}", sender_id=str(chat_id), at=_at(message.get("date")),
        kind="interactive", text=data or None, content={"callback_data": data}, sender_name=_name(sender),
        reply_to_provider_id=reply_to,
    )


class TelegramAdapter:
    """Telegram Bot API: secret-token webhooks, getFile downloads, sendMessage."""

    kind = "telegram"

    def acknowledge(self, channel: Channel, secrets: Mapping[str, Any], provider_message_id: str) -> None:
        """Answer a button press (answerCallbackQuery), so the customer's app stops showing it as loading."""
        if not provider_message_id.startswith("callback:"):
            return
        _call(str(secrets.get("bot_token") or ""), "answerCallbackQuery",
              {"callback_query_id": provider_message_id.removeprefix("callback:")})

    def prepare_secrets(self, channel: Channel, secrets: dict[str, Any]) -> dict[str, Any]:
        """On creation: a webhook secret when none was given; the bot id as the account reference."""
        if not SECRET_PATTERN.match(str(secrets.get("webhook_secret") or "")):
            secrets["webhook_secret"] = new_webhook_secret()
        if not channel.account_ref:
            channel.account_ref = bot_id_of(str(secrets.get("bot_token") or ""))
        return secrets

    def verify(self, channel: Channel, secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
        """The secret token header must equal the channel's webhook secret (constant-time)."""
        expected = str(secrets.get("webhook_secret") or "")
        given = headers.get(SECRET_HEADER, "")
        if not expected or not given:
            return False
        return hmac.compare_digest(given.encode(), expected.encode())

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """One update per delivery; its id is the bot id and the update_id."""
        try:
            update = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedDelivery("not JSON") from None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int) \
                or isinstance(update.get("update_id"), bool):
            raise MalformedDelivery("no update_id")
        bot = channel.account_ref or str(channel.id)
        return [DeliveryEvent(event_id=f"{bot}:{update['update_id']}", payload=body)]

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """Messages, edits and button presses; every other update kind is kept as unsupported."""
        update = json.loads(payload)
        if isinstance(update.get("message"), dict):
            return [_from_message(update["message"], edited=False)]
        if isinstance(update.get("edited_message"), dict):
            return [_from_message(update["edited_message"], edited=True)]
        if isinstance(update.get("callback_query"), dict):
            return [_from_callback(update["callback_query"])]
        kinds = sorted(k for k in update if k != "update_id")
        return [Unsupported(f"telegram {kinds[0] if kinds else 'empty'} update")]

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """getFile for the path, then download it from the file endpoint."""
        token = str(secrets.get("bot_token") or "")
        if not token:
            raise PermanentFailure("The Telegram channel has no bot token", code="config")
        found = _call(token, "getFile", {"file_id": media.ref})
        path = found.get("file_path") if isinstance(found, dict) else None
        if not isinstance(path, str) or not path or ".." in path:
            raise PermanentFailure("Telegram getFile: the file is no longer available", code="file")
        try:
            response = httpx.get(f"{_api_base()}/file/bot{token}/{path}", timeout=_timeout())
        except httpx.TimeoutException:
            raise TemporaryFailure("Telegram file download: no answer in time") from None
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"Telegram file download: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(f"Telegram file download: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PermanentFailure(f"Telegram file download: HTTP {response.status_code}", code="file")
        filename = media.filename or path.rsplit("/", 1)[-1]
        content_type = media.content_type or response.headers.get("content-type", "").split(";")[0]
        return response.content, content_type, filename

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """sendMessage to the chat, as a reply to the customer's last message when there is one."""
        token = str(secrets.get("bot_token") or "")
        if not token:
            raise PermanentFailure("The Telegram channel has no bot token", code="config")
        text = (request.text or "").strip()
        if not text:
            raise PermanentFailure("Telegram messages need text (templates are a WhatsApp feature)", code="content")
        if len(text) > MAX_TEXT:
            raise PermanentFailure(f"Telegram messages have at most {MAX_TEXT} characters", code="content")
        payload: dict[str, Any] = {"chat_id": int(request.to) if request.to.lstrip("-").isdigit() else request.to,
                                   "text": text}
        reply = request.reply_to_provider_id or ""
        chat, _, message_id = reply.partition(":")
        if chat == str(request.to) and message_id.isdigit():
            payload["reply_parameters"] = {"message_id": int(message_id), "allow_sending_without_reply": True}
        LIMITER.acquire(channel.account_ref or str(channel.id), str(request.to))
        result = _call(token, "sendMessage", payload)
        if not isinstance(result, dict) or "message_id" not in result:
            raise TemporaryFailure("Telegram sendMessage: unexpected answer")
        return SendResult(_message_id(request.to, result["message_id"]))


ADAPTER = register_adapter(TelegramAdapter())

"""WhatsApp Business Cloud API: webhooks in, messages and templates out (reference/channels.md).

One delivery carries messages and statuses of possibly several business numbers; each becomes its own event
keyed by the wamid (a status by "<wamid>:<status>") and routed on `metadata.phone_number_id`. The customer's
`from` is their number without '+', so it becomes E.164 and finds the CRM contact holding that phone.
Approved message templates (the only messages allowed 24 hours after the customer's last one) are kept in
`channel.config["templates"]`: synced from Meta or set by staff, listed for the template picker.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from niaga.config import get_settings
from niaga.db.base import utcnow
from niaga.identity.permissions import Perm
from niaga.identity.principal import Principal
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
    TemporaryFailure,
    Unsupported,
    register_adapter,
)
from niaga.inbox.channels import meta
from niaga.inbox.models import Channel
from niaga.kit.errors import Forbidden, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
STATUSES = ("sent", "delivered", "read", "failed")
OUTSIDE_WINDOW = 131047
# Our wording for failures staff must act on; other codes show Meta's own message.
REASONS = {
    OUTSIDE_WINDOW: "More than 24 hours have passed since the customer's last message: only an approved "
                    "template can be sent now.",
    131026: "The message could not be delivered: the number may not use WhatsApp, or has not accepted the "
            "latest terms.",
    131050: "The customer has chosen not to receive marketing messages from this business.",
    131051: "WhatsApp does not support this type of message.",
    132001: "This template does not exist (in this language) or is not approved.",
    132000: "The template's values do not match its placeholders.",
}
UNSUPPORTED_NOTES = {
    "order": "An order from the WhatsApp catalog; open WhatsApp to see it.",
    "system": "A WhatsApp system notice (for example, the customer changed their number).",
    "unsupported": "WhatsApp could not show this message here (a type the Cloud API does not deliver).",
}
# Default cap on sends per second per number, well below Meta's 80/s (SendRate is per worker process).
SENDS_PER_SECOND = 20.0
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _at(timestamp: Any) -> datetime:
    """A webhook's unix-seconds timestamp (a string) as UTC; now when it is missing or absurd."""
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


def _hex_digest(value: Any) -> str:
    """A SHA-256 as lowercase hex: Meta sends hex in some places and base64 in others."""
    if not isinstance(value, str) or not value:
        return ""
    if _HEX64.match(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


class WhatsAppAdapter(meta.MetaWebhooks):
    """The WhatsApp Cloud API channel."""

    kind = "whatsapp"

    # -- inbound --------------------------------------------------------------------------------

    def split(self, channel: Channel, body: bytes) -> list[DeliveryEvent]:
        """One event per message (its wamid) and per status ('<wamid>:<status>'), routed by phone_number_id."""
        data = meta.load_delivery(body)
        if data.get("object") != "whatsapp_business_account":
            raise MalformedDelivery("not a WhatsApp Business delivery")
        events: list[DeliveryEvent] = []
        for entry in meta.json_list(data.get("entry")):
            if not isinstance(entry, dict):
                raise MalformedDelivery("entry is not an object")
            for change in meta.json_list(entry.get("changes")):
                if not isinstance(change, dict) or not isinstance(change.get("value", {}), dict):
                    raise MalformedDelivery("change is not an object")
                if change.get("field") != "messages":
                    continue  # template status, account updates…: nothing for the inbox
                events.extend(self._split_value(change.get("value") or {}))
        return events

    def _split_value(self, value: dict) -> list[DeliveryEvent]:
        metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
        account = str(metadata.get("phone_number_id") or "") or None
        contacts = [c for c in meta.json_list(value.get("contacts")) if isinstance(c, dict)]
        events = []
        for message in meta.json_list(value.get("messages")):
            if not isinstance(message, dict) or not meta.text_or_none(message.get("id")):
                raise MalformedDelivery("message without an id")
            sender = message.get("from")
            own = [c for c in contacts if c.get("wa_id") == sender]
            events.append(DeliveryEvent(message["id"], _dump({"contacts": own, "message": message}), account))
        for status in meta.json_list(value.get("statuses")):
            if not isinstance(status, dict) or not meta.text_or_none(status.get("id")) or not meta.text_or_none(status.get("status")):
                raise MalformedDelivery("status without an id")
            events.append(DeliveryEvent(f"{status['id']}:{status['status']}", _dump({"status": status}), account))
        return events

    def parse(self, channel: Channel, payload: bytes) -> list[InboundItem]:
        """A stored event as an inbound message or a status update."""
        data = json.loads(payload)
        if "status" in data:
            return [self._status(data["status"])]
        return [self._message(data["message"], data.get("contacts") or [])]

    def _status(self, status: dict) -> InboundItem:
        state = status.get("status")
        if state not in STATUSES:
            return Unsupported(f"status {state}")
        code = reason = ""
        if state == "failed":
            errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
            error = errors[0] if errors else {}
            code = str(error.get("code") or "")
            details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) \
                else None
            own = REASONS.get(error.get("code")) if isinstance(error.get("code"), int) else None
            text = own or ": ".join(str(p) for p in (error.get("title") or error.get("message"), details) if p)
            reason = meta.scrub(text or "WhatsApp could not deliver the message.")
        return StatusUpdate(str(status["id"]), state, _at(status.get("timestamp")), code, reason)

    def _message(self, message: dict, contacts: list) -> InboundItem:
        sender = message.get("from")
        if not isinstance(sender, str) or not sender.isdigit():
            return Unsupported("message without a sender")
        profile = next((c.get("profile") for c in contacts if isinstance(c, dict)), None)
        name = meta.text_or_none(profile.get("name")) if isinstance(profile, dict) else None
        context = message.get("context") if isinstance(message.get("context"), dict) else {}
        item = InboundMessage(provider_message_id=message["id"], sender_id=sender, at=_at(message.get("timestamp")),
                              sender_name=name, sender_phone=f"+{sender}",
                              reply_to_provider_id=meta.text_or_none(context.get("id")))
        kind = message.get("type")
        body = message.get(kind) if isinstance(kind, str) and isinstance(message.get(kind), dict) else {}
        if kind == "text":
            item.text = meta.text_or_none(body.get("body"))
        elif kind in MEDIA_KINDS and meta.text_or_none(body.get("id")):
            item.kind, item.text = kind, meta.text_or_none(body.get("caption"))
            item.media = [MediaRef(ref=body["id"], content_type=meta.text_or_none(body.get("mime_type")) or "",
                                   filename=meta.text_or_none(body.get("filename")) or "", sha256=_hex_digest(body.get("sha256")))]
            item.content = {k: body[k] for k in ("voice", "animated") if k in body} or None
        elif kind == "location":
            item.kind = "location"
            item.content = {k: body[k] for k in ("latitude", "longitude", "name", "address", "url") if k in body}
            item.text = ", ".join(p for p in (meta.text_or_none(body.get("name")), meta.text_or_none(body.get("address"))) if p) or None
        elif kind == "contacts":
            shared = [c for c in message.get("contacts") or [] if isinstance(c, dict)]
            item.kind, item.content = "contacts", {"contacts": shared}
            names = [(c.get("name") or {}).get("formatted_name") for c in shared if isinstance(c.get("name"), dict)]
            item.text = ", ".join(n for n in names if isinstance(n, str)) or None
        elif kind == "interactive":
            reply_type = body.get("type")
            reply = body.get(reply_type) if isinstance(body.get(reply_type), dict) else {}
            item.kind = "interactive"
            item.content = {"type": reply_type, **{k: reply[k] for k in ("id", "title", "description", "body",
                                                                          "response_json") if k in reply}}
            item.text = meta.text_or_none(reply.get("title")) or meta.text_or_none(reply.get("body"))
        elif kind == "button":
            item.kind, item.text = "button", meta.text_or_none(body.get("text"))
            item.content = {"payload": body.get("payload"), "text": body.get("text")}
        elif kind == "reaction":
            emoji = meta.text_or_none(body.get("emoji"))
            item.kind, item.text = "reaction", emoji
            item.content = {"message_id": body.get("message_id"), "emoji": emoji, "removed": emoji is None}
            item.reply_to_provider_id = meta.text_or_none(body.get("message_id"))
        else:
            item.kind = "unsupported"
            note = UNSUPPORTED_NOTES.get(kind, UNSUPPORTED_NOTES["unsupported"])
            errors = [e for e in message.get("errors") or [] if isinstance(e, dict)]
            item.content = {"type": kind, "note": note, **({"order": body} if kind == "order" else {})}
            if errors:
                item.content["error"] = meta.scrub(str(errors[0].get("title") or errors[0].get("message") or ""))
            item.text = meta.text_or_none(body.get("body")) if kind == "system" else None
        return item

    def fetch_media(self, channel: Channel, secrets: Mapping[str, Any], media: MediaRef) -> tuple[bytes, str, str]:
        """GET /{media-id} for a short-lived URL, then download it with the bearer token; checksum checked."""
        if not _MEDIA_ID.match(media.ref):
            raise PermanentFailure("The media id is not one WhatsApp gives.")
        try:
            graph = meta.Graph.for_secrets(secrets)
        except PermanentFailure as exc:  # fixable by staff: keep the event and try again later
            raise TemporaryFailure(exc.reason) from None
        try:
            info = graph.call("GET", media.ref)
        except meta.GraphFailure as failure:
            if failure.status == 404 or failure.code == 100:
                raise PermanentFailure("The file is no longer available at WhatsApp.", code=str(failure.code)) \
                    from None
            raise TemporaryFailure(f"media lookup answered {failure.status}", failure.retry_after) from None
        url = info.get("url")
        if not isinstance(url, str):
            raise TemporaryFailure("media lookup had no URL")
        data, served_type = graph.download(url, authorized=True, max_bytes=get_settings().max_file_bytes)
        if not data:
            raise PermanentFailure("WhatsApp sent an empty file.")
        expected = _hex_digest(info.get("sha256"))
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise TemporaryFailure("media checksum mismatch")
        content_type = meta.text_or_none(info.get("mime_type")) or media.content_type or served_type
        return data, content_type, media.filename or _default_name(content_type)

    # -- outbound -------------------------------------------------------------------------------

    def mark_read(self, channel: Channel, secrets: Mapping[str, Any], provider_message_id: str) -> None:
        """Tell WhatsApp the business has read up to this customer message (the customer sees blue ticks)."""
        if not channel.account_ref or not provider_message_id.startswith("wamid."):
            raise PermanentFailure("Not a WhatsApp message of this channel.", code="bad-message")
        try:
            meta.Graph.for_secrets(secrets).call("POST", f"{channel.account_ref}/messages", json={
                "messaging_product": "whatsapp", "status": "read", "message_id": provider_message_id})
        except meta.GraphFailure as failure:
            raise failure.as_failure(REASONS) from None

    def send(self, channel: Channel, secrets: Mapping[str, Any], request: OutboundRequest) -> SendResult:
        """POST /{phone-number-id}/messages: a text (optionally quoting a message) or a template."""
        if not channel.account_ref:
            raise PermanentFailure("The channel has no WhatsApp phone number id.", code="no-account")
        to = re.sub(r"\D", "", request.to or "")
        if not 8 <= len(to) <= 15:
            raise PermanentFailure("The customer's WhatsApp number is not valid.", code="bad-recipient")
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        if request.kind == "template" or request.template:
            body["type"], body["template"] = "template", template_payload(request.template or {})
        elif request.kind == "text" and request.text and len(request.text) <= 4096:
            body["type"], body["text"] = "text", {"preview_url": False, "body": request.text}
        else:
            raise PermanentFailure("This message cannot be sent on WhatsApp (empty, too long or not text).",
                                   code="unsupported")
        # Quoting is explicit (the agent replied to one message); replies do not quote by default.
        quoted = request.extra.get("reply_to")
        if isinstance(quoted, str) and quoted.startswith("wamid."):
            body["context"] = {"message_id": quoted}
        meta.check_send_rate(channel, SENDS_PER_SECOND)
        graph = meta.Graph.for_secrets(secrets)
        try:
            answer = graph.call("POST", f"{channel.account_ref}/messages", json=body)
        except meta.GraphFailure as failure:
            raise failure.as_failure(REASONS) from None
        sent = answer.get("messages")
        wamid = sent[0].get("id") if isinstance(sent, list) and sent and isinstance(sent[0], dict) else None
        if not isinstance(wamid, str) or not wamid:
            raise PermanentFailure("WhatsApp accepted the request but gave no message id; check before retrying.",
                                   code="no-id")
        return SendResult(wamid)


def _default_name(content_type: str) -> str:
    major = (content_type.split("/")[0] or "file") if content_type else "file"
    extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) if content_type else None
    return f"{major}{extension or ''}"


register_adapter(WhatsAppAdapter())


# -- templates ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    """An approved message template as the picker shows it."""

    name: str
    language: str
    category: str
    status: str
    body: str
    parameters: int  # how many {{n}} placeholders the body has

    def as_config(self) -> dict[str, Any]:
        """The JSON kept in channel.config["templates"]."""
        return {"name": self.name, "language": self.language, "category": self.category, "status": self.status,
                "body": self.body, "parameters": self.parameters}


def template_payload(template: Mapping[str, Any]) -> dict[str, Any]:
    """The Cloud API's `template` object from {"name", "language", "parameters"}; refuses a malformed one."""
    name = template.get("name")
    language = template.get("language") or "id"
    if isinstance(language, Mapping):
        language = language.get("code")
    parameters = template.get("parameters") or []
    if not isinstance(name, str) or not _TEMPLATE_NAME.match(name):
        raise PermanentFailure("The template name is not valid.", code="bad-template")
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise PermanentFailure("The template language is not valid.", code="bad-template")
    if not isinstance(parameters, list) or len(parameters) > 100 or \
            not all(isinstance(p, str | int | float) and 0 < len(str(p)) <= 1024 for p in parameters):
        raise PermanentFailure("The template values are not valid.", code="bad-template")
    payload: dict[str, Any] = {"name": name, "language": {"code": language}}
    if parameters:
        payload["components"] = [{"type": "body", "parameters": [{"type": "text", "text": str(p)}
                                                                   for p in parameters]}]
    return payload


def _placeholders(body: str) -> int:
    return len({int(n) for n in _PLACEHOLDER.findall(body or "")})


def _template_from(raw: Any) -> Template | None:
    if not isinstance(raw, Mapping):
        return None
    name, language = raw.get("name"), raw.get("language")
    if not isinstance(name, str) or not _TEMPLATE_NAME.match(name) or not isinstance(language, str) \
            or not _LANGUAGE.match(language):
        return None
    body = raw.get("body")
    if body is None:  # Meta's shape: the BODY component's text
        components = raw.get("components") if isinstance(raw.get("components"), list) else []
        body = next((c.get("text") for c in components if isinstance(c, Mapping)
                     and str(c.get("type", "")).upper() == "BODY"), "")
    body = body if isinstance(body, str) else ""
    return Template(name=name, language=language, category=str(raw.get("category") or "")[:40],
                    status=str(raw.get("status") or "APPROVED").upper()[:20], body=body[:1024],
                    parameters=_placeholders(body))


def templates_of(channel: Channel, *, approved_only: bool = True) -> list[Template]:
    """The channel's message templates (approved ones by default), by name and language, for the picker."""
    found = [t for t in (_template_from(raw) for raw in (channel.config or {}).get("templates") or []) if t]
    if approved_only:
        found = [t for t in found if t.status == "APPROVED"]
    return sorted(found, key=lambda t: (t.name, t.language))


def _may_manage(principal: Principal, channel: Channel) -> None:
    if channel.tenant_id != principal.tenant_id:
        raise NotFound(Msg("No such channel."))
    if not principal.can(Perm.INBOX_MANAGE):
        raise Forbidden(Msg("Your role does not allow this."))


def _store_templates(session: Session, principal: Principal, channel: Channel, templates: list[Template],
                     how: str) -> None:
    channel.config = {**(channel.config or {}), "templates": [t.as_config() for t in templates],
                      "templates_synced_at": utcnow().isoformat()}
    audit.record(session, channel.tenant_id, "inbox.templates_updated", principal.actor, target_type="channel",
                 target_id=channel.id, purpose="U1", details={"count": len(templates), "how": how})
    session.flush()


def set_templates(session: Session, principal: Principal, channel: Channel, templates: list[Mapping[str, Any]]
                  ) -> list[Template]:
    """Replace the channel's templates with a list typed in by staff ({name, language, body, status?})."""
    _may_manage(principal, channel)
    parsed = [_template_from(raw) for raw in templates]
    if channel.kind != "whatsapp" or any(t is None for t in parsed):
        raise ValidationFailed({"templates": Msg("Each template needs a name (lower case, digits, _) and a "
                                                 "language code such as id or en_US.")})
    _store_templates(session, principal, channel, [t for t in parsed if t], "manual")
    return templates_of(channel, approved_only=False)


def sync_templates(session: Session, principal: Principal, channel: Channel, secrets: Mapping[str, Any]
                   ) -> list[Template]:
    """Fetch the business account's templates from Meta (config["waba_id"]) and keep them on the channel."""
    _may_manage(principal, channel)
    waba_id = str((channel.config or {}).get("waba_id") or "")
    if channel.kind != "whatsapp" or not _MEDIA_ID.match(waba_id):
        raise ValidationFailed({"waba_id": Msg("Enter the WhatsApp Business Account ID first.")})
    graph = meta.Graph.for_secrets(secrets)
    found: list[Template] = []
    params = {"fields": "name,language,status,category,components", "limit": "100"}
    for _page in range(20):  # 2,000 templates: more than Meta allows one account
        try:
            answer = graph.call("GET", f"{waba_id}/message_templates", params=params)
        except meta.GraphFailure as failure:
            raise failure.as_failure() from None
        found.extend(t for t in (_template_from(raw) for raw in answer.get("data") or []) if t)
        after = ((answer.get("paging") or {}).get("cursors") or {}).get("after")
        if not (answer.get("paging") or {}).get("next") or not isinstance(after, str):
            break
        params = {**params, "after": after}
    _store_templates(session, principal, channel, found, "sync")
    return templates_of(channel)


def template_message(channel: Channel, name: str, language: str, parameters: list[str]) -> dict[str, Any]:
    """The `template=` value for outbox.queue_message: an approved template of this channel, values filled."""
    template = next((t for t in templates_of(channel) if t.name == name and t.language == language), None)
    if template is None:
        raise ValidationFailed({"template": Msg("Choose an approved template.")})
    values = [str(p).strip() for p in parameters]
    if len(values) != template.parameters or not all(values):
        raise ValidationFailed({"template": Msg("This template needs {n} values.", n=template.parameters)})
    return {"name": template.name, "language": template.language, "parameters": values}

"""Privacy-center codes by WhatsApp: the inbox delivers a one-time code to the phone on file.

A code is business-initiated (the person may not have written in the last 24 hours), so WhatsApp allows it
only as an approved template. A business that wants codes by WhatsApp names its approved authentication
template in the channel's config (`otp_template`: {"name": ..., "languages": {"id": "id", "en": "en_US"}},
one body value: the code). Without such a channel, codes go by email, as before.

The code is queued through the outbox under the contact's key like any message, and the message's content
asks the outbox to mask the code once it has been handed to WhatsApp, so staff reading the conversation
never see a live code.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact, ContactPhone
from niaga.db.base import utcnow
from niaga.inbox import ingest, outbox
from niaga.inbox.channels.whatsapp import template_message
from niaga.inbox.models import Channel, Message
from niaga.kit.errors import ValidationFailed
from niaga.privacy import audit
from niaga.privacy.fields import is_readable
from niaga.privacy.requests import otp


def code_channel(session: Session, tenant_id) -> Channel | None:  # noqa: ANN001
    """The tenant's active WhatsApp channel that has a code template, if any."""
    for channel in session.scalars(select(Channel).where(
            Channel.tenant_id == tenant_id, Channel.kind == "whatsapp", Channel.active.is_(True))
            .order_by(Channel.created_at)):
        if (channel.config or {}).get("otp_template", {}).get("name"):
            return channel
    return None


def send_code_by_whatsapp(session: Session, request: object, code: str, language: str) -> otp.CodeDelivery | None:
    """Queue the code to the WhatsApp number on file; None when the business or the person has no way for it."""
    tenant_id, contact_id = request.tenant_id, request.contact_id
    if contact_id is None:
        return None
    channel = code_channel(session, tenant_id)
    contact = session.get(Contact, (tenant_id, contact_id))
    if channel is None or contact is None:
        return None
    on_whatsapp = session.scalar(select(ContactPhone.id).where(
        ContactPhone.tenant_id == tenant_id, ContactPhone.contact_id == contact_id,
        ContactPhone.whatsapp.is_(True)).limit(1))
    if on_whatsapp is None:
        return None
    setup = channel.config["otp_template"]
    template_language = (setup.get("languages") or {}).get(language) or setup.get("language") or "id"
    try:
        template = template_message(channel, setup["name"], template_language, [code])
    except ValidationFailed:  # the template is not (or no longer) approved: fall back to email
        return None
    conversation = ingest.conversation_for(session, channel, contact)
    now = utcnow()
    message = Message(tenant_id=tenant_id, subject_id=contact.subject_id, conversation_id=conversation.id,
                      channel_id=channel.id, direction="out", kind="template", body=None,
                      content={"template": template, "mask_after_send": True}, template=template["name"][:120],
                      status="queued", at=now, next_attempt_at=now)
    session.add(message)
    session.flush()
    outbox.enqueue_delivery(session, message)
    audit.record(session, tenant_id, "privacy.request_code_queued", audit.Actor.system(), target_type="message",
                 target_id=message.id, subject_id=contact.subject_id, purpose="U1", details={"channel": "whatsapp"})
    return otp.CodeDelivery("whatsapp", None)


def mask_code(message: Message) -> None:
    """After WhatsApp has the code, keep only a masked copy in the conversation."""
    content = message.content if is_readable(message.content) else None
    if not content or not content.get("mask_after_send"):
        return
    template = dict(content.get("template") or {})
    template["parameters"] = ["••••••" for _ in template.get("parameters") or []]
    message.content = {"template": template}


def code_is_ready(session: Session, tenant_id) -> bool:  # noqa: ANN001
    """True when the business can send codes by WhatsApp."""
    return code_channel(session, tenant_id) is not None


otp.register_whatsapp_sender(send_code_by_whatsapp, code_is_ready)
outbox.AFTER_SEND.append(mask_code)

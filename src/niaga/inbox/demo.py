"""Demo inbox for `make run`: a web chat channel with a few conversations, saved replies, labels, and the demo
agent taking new conversations by round-robin.

Customers' messages go through the same inbound pipeline as real ones, so every personal value (names,
visitor ids, message text) is sealed under each new contact's own key.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.db.base import utcnow
from niaga.identity.models import User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.inbox import assignment, canned, conversations, ingest, outbox, service
from niaga.inbox.adapters import InboundMessage
from niaga.inbox.models import Conversation

SAVED_REPLIES = [
    ("salam", "Sapaan", "Halo Kak, terima kasih sudah menghubungi Toko Maju Jaya. Ada yang bisa kami bantu?"),
    ("ongkir", "Ongkos kirim", "Ongkir ke Pulau Jawa mulai Rp 10.000, luar Jawa mulai Rp 25.000, Kak."),
    ("jam", "Jam buka", "Toko kami buka Senin-Jumat 08.00-17.00 dan Sabtu 08.00-12.00 WIB."),
]
LABELS = ["pesanan", "komplain", "tanya-stok"]
# (visitor id, display name, minutes ago, messages from the customer, label, agent's reply or None, resolved?)
CHATS = [
    ("kunjungan-7f3a", "Putri Anggraini", 12, ["Halo, sepatu kanvas putih ukuran 39 masih ada?"], "tanya-stok",
     None, False),
    ("kunjungan-91bc", "Hendra Gunawan", 95, ["Pesanan INV-2301 kok belum dikirim ya?", "Sudah 3 hari."],
     "komplain", "Mohon maaf Kak, kami cek ke gudang dulu ya.", False),
    ("kunjungan-c2d4", "Maria Fernandez", 60 * 26, ["Bisa kirim ke Kupang?"], "pesanan",
     "Bisa Kak, ongkirnya Rp 35.000.", True),
]


def _principal(user: User) -> Principal:
    role = Role(user.role)
    return Principal(tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=role,
                     permissions=ROLE_PERMISSIONS[role], via="session")


def seed(session: Session, settings: Settings, owner: Principal) -> None:
    """Add the demo business's web chat, its conversations and the agents' tools."""
    channel = service.create_channel(session, owner, kind="webchat", name="Chat Situs Toko Maju")
    for shortcut, title, body in SAVED_REPLIES:
        canned.create_canned(session, owner, {"shortcut": shortcut, "title": title, "body": body})
    for name in LABELS:
        conversations.create_label(session, owner, name)
    agent = session.scalar(select(User).where(User.tenant_id == owner.tenant_id, User.role == Role.AGENT.value))
    now = utcnow()
    for visitor, name, minutes, texts, label, answer, resolved in CHATS:
        at = now - timedelta(minutes=minutes)
        message = None
        for i, text in enumerate(texts):
            message = ingest.receive_message(session, channel, InboundMessage(
                provider_message_id=f"demo-{visitor}-{i}", sender_id=visitor, sender_name=name, text=text,
                at=at + timedelta(minutes=i)))
        conversation = session.get(Conversation, (owner.tenant_id, message.conversation_id))
        conversation.opened_at = at
        conversations.set_labels(session, owner, conversation, [label])
        if answer is not None:
            by = _principal(agent) if agent is not None else owner
            if agent is not None:
                assignment.assign(session, owner, conversation, assignee=str(agent.id))
            reply = outbox.queue_message(session, by, conversation, text=answer)
            reply.status, reply.status_at = "sent", now  # shown as sent; the demo has no visitor to receive it
            conversation.unread_count = 0
        if resolved:
            conversations.set_status(session, owner, conversation, "resolved")
    if agent is not None:
        assignment.set_availability(session, owner, agent.id, True)
    assignment.set_auto_assign(session, owner, True)
    session.flush()


SEEDERS = [seed]

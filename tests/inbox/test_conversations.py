"""The inbox service: lists and filters per role, unread counts, replies, notes, templates, saved replies,
labels and status — each as a staff member would notice it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.db.base import utcnow
from niaga.identity.permissions import Role
from niaga.inbox import canned, conversations, outbox
from niaga.inbox.models import Message
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.privacy.audit import AuditEvent
from tests.inbox.agent_helpers import (
    arrive,
    conversation_of,
    count,
    new_channel,
    principal_of,
    providers,  # noqa: F401 - a fixture
    team_of,
)

TEMPLATES = [{"name": "pesanan_siap", "language": "id", "body_params": 1},
             {"name": "promo_lama", "language": "id", "status": "REJECTED", "body": "Halo {{1}}"}]


@pytest.fixture
def shop(session, tenant_a):  # noqa: ANN001, ANN201
    """Two agents (one in a team), a cashier, an auditor; a web chat and a WhatsApp channel."""
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Satu")
    colleague = tenant_a.add_staff(session, Role.AGENT, name="Agen Dua")
    cashier = tenant_a.add_staff(session, Role.CASHIER, name="Kasir Satu")
    auditor = tenant_a.add_staff(session, Role.AUDITOR, name="Auditor Satu")
    team = team_of(session, tenant_a, "Tim Dukungan", agent)
    chat = new_channel(session, tenant_a, "webchat", "Chat Situs")
    wa = new_channel(session, tenant_a, "whatsapp", "WhatsApp Toko", config={"templates": TEMPLATES})
    return {"agent": agent, "colleague": colleague, "cashier": cashier, "auditor": auditor, "team": team,
            "chat": chat, "wa": wa, "owner": tenant_a.principal()}


def _ids(rows):  # noqa: ANN001, ANN202
    return {r.id for r in rows}


def test_an_agent_sees_own_team_and_unassigned_conversations_but_not_a_colleagues(session, shop):  # noqa: ANN001
    mine = conversation_of(session, arrive(session, shop["chat"], "v-1", "Halo, saya Ani"))
    colleagues = conversation_of(session, arrive(session, shop["chat"], "v-2", "Halo, saya Budi"))
    teams = conversation_of(session, arrive(session, shop["chat"], "v-3", "Halo, saya Cici"))
    free = conversation_of(session, arrive(session, shop["chat"], "v-4", "Halo, saya Dodi"))
    mine.assignee_id, colleagues.assignee_id = shop["agent"].id, shop["colleague"].id
    teams.assignee_id, teams.team_id = shop["colleague"].id, shop["team"].id
    session.flush()
    agent = principal_of(shop["agent"])
    all_rows, _ = conversations.list_conversations(session, agent, conversations.check_filter({}))
    assert _ids(all_rows) == {mine.id, teams.id, free.id}
    assert _ids(conversations.list_conversations(session, agent, conversations.check_filter(
        {"view": "mine"}))[0]) == {mine.id}
    assert _ids(conversations.list_conversations(session, agent, conversations.check_filter(
        {"view": "unassigned"}))[0]) == {free.id}
    with pytest.raises(NotFound):
        conversations.read_conversation(session, agent, colleagues.id)
    owner_rows, _ = conversations.list_conversations(session, shop["owner"], conversations.check_filter({}))
    assert _ids(owner_rows) == {mine.id, colleagues.id, teams.id, free.id}
    auditor_rows, _ = conversations.list_conversations(session, principal_of(shop["auditor"]),
                                                       conversations.check_filter({}))
    assert len(auditor_rows) == 4
    cashier_rows, _ = conversations.list_conversations(session, principal_of(shop["cashier"]),
                                                       conversations.check_filter({}))
    assert cashier_rows == []


def test_filters_by_status_channel_and_label(session, shop):  # noqa: ANN001
    owner = shop["owner"]
    conversations.create_label(session, owner, "komplain")
    conversations.create_label(session, owner, "vip_1")
    chat = conversation_of(session, arrive(session, shop["chat"], "v-1", "Barang rusak"))
    wa = conversation_of(session, arrive(session, shop["wa"], "6281234500001", "Mau pesan"))
    conversations.set_labels(session, owner, chat, ["Komplain"])
    conversations.set_labels(session, owner, wa, ["vip_1"])
    conversations.set_status(session, owner, wa, "pending")

    def listed(**values):  # noqa: ANN003, ANN202
        return _ids(conversations.list_conversations(session, owner, conversations.check_filter(values))[0])

    assert listed() == {chat.id}  # open by default
    assert listed(status="pending") == {wa.id}
    assert listed(status="all") == {chat.id, wa.id}
    assert listed(status="all", channel_id=str(shop["wa"].id)) == {wa.id}
    assert listed(status="all", label="komplain") == {chat.id}
    assert listed(status="all", label="vip_1") == {wa.id}
    for bad in ({"view": "semua"}, {"status": "tutup"}, {"channel_id": "bukan-id"}, {"label": "a%"},
                {"limit": "x"}):
        with pytest.raises(ValidationFailed):
            conversations.check_filter(bad)


def test_unread_counts_rise_with_customer_messages_and_reading_clears_them(session, shop):  # noqa: ANN001
    agent = principal_of(shop["agent"])
    first = arrive(session, shop["chat"], "v-1", "Halo")
    arrive(session, shop["chat"], "v-1", "Ada orang?")
    conversation = conversation_of(session, first)
    assert conversation.unread_count == 2
    assert conversations.unread_counts(session, agent) == {"mine": 0, "unassigned": 1, "all": 1}
    conversation.assignee_id = shop["agent"].id
    session.flush()
    assert conversations.unread_counts(session, agent)["mine"] == 1
    conversations.read_conversation(session, agent, conversation.id)
    assert conversation.unread_count == 0 and conversations.unread_counts(session, agent)["all"] == 0
    read = session.scalars(select(AuditEvent).where(AuditEvent.action == "inbox.conversation_read")).all()
    assert len(read) == 1 and read[0].purpose == "U2" and "Halo" not in str(read[0].details)


def test_a_reply_is_queued_then_sent_and_a_note_never(session, shop, providers):  # noqa: ANN001, F811
    agent = principal_of(shop["agent"])
    conversation = conversation_of(session, arrive(session, shop["chat"], "v-9", "Kapan buka?"))
    reply = conversations.reply(session, agent, conversation, text="Kami buka jam 8 pagi, Kak.")
    note = conversations.reply(session, agent, conversation, text="Pelanggan lama, beri diskon", private=True)
    assert reply.status == "queued" and note.status == "sent" and note.kind == "note"
    assert conversation.first_reply_at is not None
    assert outbox.send_now(session, shop["chat"].tenant_id, reply.id) == "sent"
    assert outbox.send_now(session, shop["chat"].tenant_id, note.id) == "sent"  # untouched: a note
    sent = providers["webchat"].sent
    assert [r.text for r in sent] == ["Kami buka jam 8 pagi, Kak."] and sent[0].to == "v-9"
    assert reply.provider_message_id.startswith("prov-")


def test_whatsapp_after_24_hours_only_an_approved_template_goes(session, shop, providers):  # noqa: ANN001, F811
    agent = principal_of(shop["agent"])
    old = utcnow() - timedelta(hours=25)
    conversation = conversation_of(session, arrive(session, shop["wa"], "6281234500002", "Pesanan saya?", at=old))
    assert not outbox.reply_window_open(conversation, "whatsapp")
    with pytest.raises(outbox.OutsideReplyWindow):
        conversations.reply(session, agent, conversation, text="Sudah dikirim, Kak")
    picker = conversations.channel_templates(shop["wa"])
    assert [t["name"] for t in picker] == ["pesanan_siap"]  # the rejected one is not offered
    with pytest.raises(ValidationFailed):
        conversations.reply(session, agent, conversation, text=None, template="promo_lama")
    with pytest.raises(ValidationFailed):
        conversations.reply(session, agent, conversation, text=None, template="pesanan_siap", params=[""])
    message = conversations.reply(session, agent, conversation, text=None, template="pesanan_siap|id",
                                  params=["INV-001"])
    assert message.kind == "template" and message.template == "pesanan_siap"
    assert outbox.send_now(session, shop["wa"].tenant_id, message.id) == "sent"
    assert providers["whatsapp"].sent[0].template == {"name": "pesanan_siap", "language": "id",
                                                      "parameters": ["INV-001"]}
    assert providers["whatsapp"].sent[0].to == "6281234500002"
    note = conversations.reply(session, agent, conversation, text="Catatan internal tetap boleh", private=True)
    assert note.private


def test_a_shortcut_alone_becomes_the_saved_reply(session, shop):  # noqa: ANN001
    owner = shop["owner"]
    canned.create_canned(session, owner, {"shortcut": "/Ongkir", "title": "Ongkos kirim",
                                          "body": "Ongkir ke Jawa Rp 10.000, Kak."})
    conversation = conversation_of(session, arrive(session, shop["chat"], "v-5", "Ongkirnya berapa?"))
    agent = principal_of(shop["agent"])
    message = conversations.reply(session, agent, conversation, text=" /ongkir ")
    assert message.body == "Ongkir ke Jawa Rp 10.000, Kak."
    kept = conversations.reply(session, agent, conversation, text="/ongkir berapa ya")  # a sentence: as typed
    assert kept.body == "/ongkir berapa ya"
    with pytest.raises(ValidationFailed) as refused:
        conversations.reply(session, agent, conversation, text="/tidakada")
    assert "/tidakada" in str(refused.value.errors["body"])
    for bad in ({"shortcut": "dua kata", "body": "x"}, {"shortcut": "ongkir", "body": "x"},
                {"shortcut": "baru", "body": ""}, {"shortcut": "baru", "body": "x" * 5000}):
        with pytest.raises(ValidationFailed):
            canned.create_canned(session, owner, bad)
    assert len(canned.list_canned(session, owner.tenant_id)) == 1


def test_bad_replies_are_refused_and_nothing_is_written(session, shop):  # noqa: ANN001
    agent = principal_of(shop["agent"])
    conversation = conversation_of(session, arrive(session, shop["chat"], "v-6", "Halo"))
    before = count(session, Message)
    for text in ("", "   ", "x" * 4097):
        with pytest.raises(ValidationFailed):
            conversations.reply(session, agent, conversation, text=text)
    assert count(session, Message) == before


def test_labels_must_be_defined_and_status_changes_are_recorded(session, shop):  # noqa: ANN001
    owner = shop["owner"]
    conversations.create_label(session, owner, "retur")
    conversation = conversation_of(session, arrive(session, shop["chat"], "v-7", "Mau retur"))
    with pytest.raises(ValidationFailed):
        conversations.set_labels(session, owner, conversation, ["tidak-ada"])
    with pytest.raises(ValidationFailed):
        conversations.create_label(session, owner, "retur")
    with pytest.raises(ValidationFailed):
        conversations.create_label(session, owner, "<b>")
    conversations.set_labels(session, owner, conversation, ["retur"])
    assert conversation.labels == ["retur"]
    conversations.set_status(session, owner, conversation, "resolved")
    assert conversation.resolved_at is not None
    conversations.set_status(session, owner, conversation, "open")
    assert conversation.resolved_at is None and conversation.status == "open"
    with pytest.raises(ValidationFailed):
        conversations.set_status(session, owner, conversation, "closed")
    label = conversations.list_labels(session, owner.tenant_id)[0]
    conversations.delete_label(session, owner, label.id)
    assert conversation.labels == []


def test_another_tenants_conversation_is_not_found(session, shop, tenant_b):  # noqa: ANN001
    conversation = conversation_of(session, arrive(session, shop["chat"], "v-8", "Rahasia"))
    outsider = tenant_b.principal()
    with pytest.raises(NotFound):
        conversations.read_conversation(session, outsider, conversation.id)
    assert conversations.list_conversations(session, outsider, conversations.check_filter({}))[0] == []

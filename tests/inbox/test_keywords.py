"""Opt-out by chat keyword: STOP / BERHENTI / UNSUBSCRIBE withdraws marketing consent for that channel."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from niaga.config import get_settings
from niaga.crm.models import Contact
from niaga.inbox import broadcasts, keywords, service
from niaga.inbox.channels import meta
from niaga.inbox.models import Channel, Conversation, InboundEvent, Message
from niaga.inbox.tasks import run_inbound
from niaga.privacy.audit import Actor
from niaga.privacy.consent import (
    ConsentMethod,
    ConsentPurpose,
    current_consents,
    proof_of_consent,
    record_consent,
)
from tests.support.fake_telegram import FakeTelegram

APP_SECRET = "meta-app-secret-for-keywords"
PHONE_ID = "109876543210"


@pytest.fixture
def fake(monkeypatch):
    with FakeTelegram() as server:
        monkeypatch.setenv("NIAGA_TELEGRAM_API_BASE", server.url)
        get_settings.cache_clear()
        yield server
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("text", ["STOP", "stop", "  Stop \n", "BERHENTI", "berhenti", "Unsubscribe", "UNSUBSCRIBE"])
def test_the_opt_out_words(text):
    assert keywords.is_stop_keyword(text)


@pytest.mark.parametrize("text", ["stop dulu", "jangan berhenti", "STOP!", "", "unsubscribe me", None])
def test_other_messages_are_not_opt_outs(text):
    assert not keywords.is_stop_keyword(text)


def process_all(session, database, tenant_id) -> list[str]:
    session.expire_all()
    pending = session.scalars(select(InboundEvent.id).where(InboundEvent.tenant_id == tenant_id,
                                                            InboundEvent.status == "pending")).all()
    return [run_inbound(database, tenant_id, event_id) for event_id in pending]


def contact_of(session, channel: Channel) -> Contact:
    session.expire_all()
    conversation = session.scalar(select(Conversation).where(Conversation.channel_id == channel.id))
    return session.get(Contact, (channel.tenant_id, conversation.contact_id))


def grant(session, contact: Contact, purpose: ConsentPurpose) -> None:
    record_consent(session, contact.subject, purpose, True, method=ConsentMethod.CHECKBOX, actor=Actor.system())
    session.commit()


def broadcast_reasons(session, tenant, channel: Channel, **data) -> dict[str, str]:
    draft = broadcasts.create_broadcast(session, tenant.principal(), {"channel_id": str(channel.id), "name": "Promo",
                                                                      **data})
    sent = broadcasts.send_broadcast(session, tenant.principal(), draft, "https://niaga.example")
    return {str(contact.full_name): r.reason for r, contact in broadcasts.recipients(session, sent)}


# -- Telegram -----------------------------------------------------------------------------------------------------
def telegram_update(update_id: int, text: str) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1767225600, "chat": {"id": 8800, "type": "private"},
        "from": {"id": 8800, "first_name": "Rudi", "last_name": "Hartono"}, "text": text}}


def test_stop_on_telegram_withdraws_confirms_and_the_next_broadcast_skips(client, session, database, tenant_a, fake):
    channel = service.create_channel(session, tenant_a.principal(), kind="telegram", name="Bot",
                                     secrets={"bot_token": fake.token})
    secret = service.channel_secrets_of(session, channel)["webhook_secret"]
    session.commit()

    def deliver(update_id: int, text: str) -> None:
        resp = client.post(service.webhook_path(channel), content=json.dumps(telegram_update(update_id, text)),
                           headers={"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"})
        assert resp.status_code == 200
        assert process_all(session, database, tenant_a.id) == ["done"]

    deliver(1, "Halo, mau info promo")
    rudi = contact_of(session, channel)
    grant(session, rudi, ConsentPurpose.MARKETING_TELEGRAM)
    assert broadcast_reasons(session, tenant_a, channel, body="Promo 1") == {"Rudi Hartono": "ok"}
    session.commit()

    deliver(2, "  stop ")
    session.expire_all()
    stop = session.scalar(select(Message).where(Message.channel_id == channel.id, Message.direction == "in",
                                                Message.provider_message_id == "8800:2"))
    state = current_consents(session, tenant_a.id, rudi.subject_id)[ConsentPurpose.MARKETING_TELEGRAM]
    assert not state.granted and state.method == "chat_keyword"
    proof = proof_of_consent(session, tenant_a.id, rudi.subject_id)[-1]
    assert proof["evidence"] == {"message_id": str(stop.id), "keyword": "stop"} and proof["channel"] == "telegram"
    confirmation = session.scalar(select(Message).where(Message.channel_id == channel.id, Message.direction == "out",
                                                        Message.broadcast_id.is_(None)))
    assert confirmation.status == "queued" and confirmation.body.startswith("Anda tidak akan menerima pesan promosi")
    assert "You will not receive promotional messages" in confirmation.body
    assert broadcast_reasons(session, tenant_a, channel, body="Promo 2") == {"Rudi Hartono": "withdrawn"}


def test_a_normal_message_changes_no_consent(client, session, database, tenant_a, fake):
    channel = service.create_channel(session, tenant_a.principal(), kind="telegram", name="Bot",
                                     secrets={"bot_token": fake.token})
    secret = service.channel_secrets_of(session, channel)["webhook_secret"]
    session.commit()
    client.post(service.webhook_path(channel), content=json.dumps(telegram_update(5, "stop kirim ke alamat lama")),
                headers={"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"})
    process_all(session, database, tenant_a.id)
    rudi = contact_of(session, channel)
    assert proof_of_consent(session, tenant_a.id, rudi.subject_id) == []
    assert session.scalar(select(Message).where(Message.channel_id == channel.id, Message.direction == "out")) is None


# -- WhatsApp -----------------------------------------------------------------------------------------------------
def whatsapp_delivery(wamid: str, text: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100001111", "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Wati Lestari"}, "wa_id": "6281355557777"}],
            "messages": [{"from": "6281355557777", "id": wamid, "timestamp": "1767225600", "type": "text",
                          "text": {"body": text}}]}}]}]}).encode()


def test_berhenti_on_whatsapp_withdraws_whatsapp_marketing_only(client, session, database, tenant_a):
    channel = service.create_channel(session, tenant_a.principal(), kind="whatsapp", name="WA Toko",
                                     account_ref=PHONE_ID, secrets={"app_secret": APP_SECRET,
                                                                    "access_token": "wa-token"})
    session.commit()

    def deliver(wamid: str, text: str) -> None:
        body = whatsapp_delivery(wamid, text)
        resp = client.post(service.webhook_path(channel), content=body, headers={
            "X-Hub-Signature-256": meta.signature_for(APP_SECRET, body), "Content-Type": "application/json"})
        assert resp.status_code == 200, resp.text
        assert process_all(session, database, tenant_a.id) == ["done"]

    deliver("wamid.HALO1", "Halo kak")
    wati = contact_of(session, channel)
    grant(session, wati, ConsentPurpose.MARKETING_WHATSAPP)
    grant(session, wati, ConsentPurpose.MARKETING_EMAIL)
    deliver("wamid.STOP2", "BERHENTI")
    session.expire_all()
    states = current_consents(session, tenant_a.id, wati.subject_id)
    assert not states[ConsentPurpose.MARKETING_WHATSAPP].granted
    assert states[ConsentPurpose.MARKETING_EMAIL].granted  # one channel's STOP is about that channel
    confirmation = session.scalar(select(Message).where(Message.channel_id == channel.id, Message.direction == "out"))
    assert confirmation.status == "queued" and confirmation.kind == "text"  # a service reply inside the window
    reasons = broadcast_reasons(session, tenant_a, channel, template={"name": "promo_bulanan", "language": "id"})
    assert reasons == {"Wati Lestari": "withdrawn"}

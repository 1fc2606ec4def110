"""Telegram bots end to end against a strict local Bot API: webhooks in, messages out."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from niaga.config import get_settings
from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.inbox import outbox, service, tasks
from niaga.inbox.adapters import TemporaryFailure
from niaga.inbox.channels import telegram
from niaga.inbox.models import Attachment, Channel, Conversation, InboundEvent, Message
from niaga.inbox.tasks import run_delivery, run_inbound
from niaga.privacy import files
from niaga.privacy.audit import Actor
from tests.support.fake_telegram import FakeTelegram

CHAT = 5550001


class Clock:
    """A hand-moved monotonic clock for the send limiter."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with FakeTelegram() as server:
        monkeypatch.setenv("NIAGA_TELEGRAM_API_BASE", server.url)
        monkeypatch.setenv("NIAGA_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("NIAGA_CHAT_API_TIMEOUT_SECONDS", "1")
        get_settings.cache_clear()
        yield server
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def clock(monkeypatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(telegram, "LIMITER", telegram.SendLimiter(clock=moved))
    return moved


def make_channel(session, tenant, fake: FakeTelegram, name: str = "Bot Toko") -> tuple[Channel, str]:
    channel = service.create_channel(session, tenant.principal(), kind="telegram", name=name,
                                     secrets={"bot_token": fake.token})
    secret = service.channel_secrets_of(session, channel)["webhook_secret"]
    session.commit()
    return channel, secret


def update(update_id: int, chat: int = CHAT, kind: str = "message", **fields) -> dict:
    message = {"message_id": update_id + 10, "date": 1767225600, "chat": {"id": chat, "type": "private"},
               "from": {"id": chat, "is_bot": False, "first_name": "Budi", "last_name": "Santoso",
                        "username": "budis"}, **fields}
    return {"update_id": update_id, kind: message}


def post(client, channel: Channel, secret: str | None, body, raw: bytes | None = None):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return client.post(service.webhook_path(channel), content=raw if raw is not None else json.dumps(body),
                       headers=headers)


def process_all(session, database, tenant_id) -> list[str]:
    session.expire_all()
    pending = session.scalars(select(InboundEvent.id).where(InboundEvent.tenant_id == tenant_id,
                                                            InboundEvent.status == "pending")).all()
    results = [run_inbound(database, tenant_id, event_id) for event_id in pending]
    session.expire_all()
    return results


def messages(session, channel: Channel) -> list[Message]:
    session.expire_all()
    return list(session.scalars(select(Message).where(Message.tenant_id == channel.tenant_id,
                                                      Message.channel_id == channel.id).order_by(Message.at)))


def count(session, model, tenant_id) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id))


# -- inbound -------------------------------------------------------------------------------------------
def test_creating_a_channel_generates_a_webhook_secret_and_takes_the_bot_id(session, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    assert telegram.SECRET_PATTERN.match(secret)
    assert channel.account_ref == "7001234567"


def test_text_message_becomes_a_conversation_with_a_new_contact(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    resp = post(client, channel, secret, update(1, text="Halo, stok kopi ada?"))
    assert resp.status_code == 200 and resp.json()["stored"] == 1
    assert process_all(session, database, tenant_a.id) == ["done"]
    [message] = messages(session, channel)
    assert (message.direction, message.kind, message.body, message.status) == ("in", "text", "Halo, stok kopi ada?",
                                                                               "received")
    assert message.provider_message_id == f"{CHAT}:11"
    contact = session.get(Contact, (tenant_a.id, session.get(Conversation, (tenant_a.id, message.conversation_id))
                                    .contact_id))
    assert contact.full_name == "Budi Santoso" and contact.source == "telegram"
    event = session.scalar(select(InboundEvent).where(InboundEvent.channel_id == channel.id))
    assert event.provider_event_id == "7001234567:1" and event.payload_sealed is None


def test_photo_takes_the_largest_size_and_stores_the_file(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    picture = b"\xff\xd8\xff\xe0" + b"JFIF-kopi" * 50
    fake.add_file("big-photo", "photos/file_7.jpg", picture)
    fake.add_file("small-photo", "photos/file_6.jpg", b"\xff\xd8\xff\xe0small")
    post(client, channel, secret, update(2, caption="Ini fotonya", photo=[
        {"file_id": "small-photo", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "big-photo", "file_unique_id": "b", "width": 1280, "height": 1280}]))
    assert process_all(session, database, tenant_a.id) == ["done"]
    [message] = messages(session, channel)
    assert (message.kind, message.body) == ("image", "Ini fotonya")
    attachment = session.scalar(select(Attachment).where(Attachment.message_id == message.id))
    assert attachment.status == "stored" and attachment.size == len(picture)
    stored = files.read_file(session, Actor.system(), attachment.file_id, tenant_id=tenant_a.id)
    assert stored.data == picture
    asked = [r.body["file_id"] for r in fake.requests if r.api_method == "getFile"]
    assert asked == ["big-photo"]
    assert [r.body for r in fake.requests if r.api_method == "file"] == ["photos/file_7.jpg"]


def test_media_download_failure_keeps_the_event_for_a_retry(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    fake.add_file("doc-1", "documents/file_1.pdf", b"%PDF-1.4 katalog")
    post(client, channel, secret, update(3, document={"file_id": "doc-1", "file_name": "katalog.pdf",
                                                      "mime_type": "application/pdf"}))
    fake.fail_next(1, "500")
    with pytest.raises(TemporaryFailure):
        process_all(session, database, tenant_a.id)
    assert messages(session, channel) == []
    assert process_all(session, database, tenant_a.id) == ["done"]
    [message] = messages(session, channel)
    attachment = session.scalar(select(Attachment).where(Attachment.message_id == message.id))
    assert message.kind == "document" and attachment.status == "stored" and attachment.filename == "katalog.pdf"


def test_voice_location_reply_and_edit(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    fake.add_file("voice-1", "voice/file_2.oga", b"OggS" + b"\x00" * 40)
    post(client, channel, secret, update(4, text="Alamat saya"))
    post(client, channel, secret, update(5, location={"latitude": -6.2, "longitude": 106.8},
                                         reply_to_message={"message_id": 14, "date": 1767225600,
                                                           "chat": {"id": CHAT, "type": "private"}}))
    post(client, channel, secret, update(6, voice={"file_id": "voice-1", "mime_type": "audio/ogg", "duration": 2}))
    post(client, channel, secret, update(7, kind="edited_message", text="Alamat saya yang baru", message_id=14,
                                         edit_date=1767225700))
    assert process_all(session, database, tenant_a.id) == ["done"] * 4
    first, location, voice, edit = messages(session, channel)
    assert location.kind == "location" and location.content["location"] == {"latitude": -6.2, "longitude": 106.8}
    assert location.reply_to_id == first.id
    assert voice.kind == "audio"
    assert edit.body == "Alamat saya yang baru" and edit.content["edited"] is True and edit.reply_to_id == first.id


def test_button_press_is_an_interactive_message(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    post(client, channel, secret, {"update_id": 8, "callback_query": {
        "id": "cbq-991", "from": {"id": CHAT, "first_name": "Budi"}, "data": "pesan:kopi-250g",
        "message": {"message_id": 40, "date": 1767225600, "chat": {"id": CHAT, "type": "private"}}}})
    assert process_all(session, database, tenant_a.id) == ["done"]
    [message] = messages(session, channel)
    assert (message.kind, message.body, message.content) == ("interactive", "pesan:kopi-250g",
                                                             {"callback_data": "pesan:kopi-250g"})


def test_a_button_press_is_answered_once_stored_so_the_customers_app_stops_waiting(client, session, database,
                                                                                  tenant_a, fake):
    from niaga.worker import queue

    queue.flush()
    fake.pressed.add("cbq-992")
    channel, secret = make_channel(session, tenant_a, fake)
    press = {"update_id": 12, "callback_query": {
        "id": "cbq-992", "from": {"id": CHAT, "first_name": "Budi"}, "data": "pesan:teh-100g",
        "message": {"message_id": 41, "date": 1767225600, "chat": {"id": CHAT, "type": "private"}}}}
    post(client, channel, secret, press)
    assert fake.answered == []  # not before the press is stored
    assert process_all(session, database, tenant_a.id) == ["done"]
    [job] = [task.args for task in queue.pending() if task.name.endswith("acknowledge_job")]
    assert job == (str(tenant_a.id), str(channel.id), "callback:cbq-992")
    assert tasks.run_acknowledge(database, tenant_a.id, channel.id, job[2]) is True
    assert fake.answered == ["cbq-992"]
    assert tasks.run_acknowledge(database, tenant_a.id, channel.id, job[2]) is False  # expired/answered: dropped
    post(client, channel, secret, update(13, text="Terima kasih"))  # a text message is not a press
    process_all(session, database, tenant_a.id)
    assert len([t for t in queue.pending() if t.name.endswith("acknowledge_job")]) == 1  # still only the press's


def test_group_chats_and_other_updates_are_kept_as_ignored(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    group = update(9, text="halo grup")
    group["message"]["chat"] = {"id": -100123, "type": "supergroup"}
    post(client, channel, secret, group)
    post(client, channel, secret, {"update_id": 10, "my_chat_member": {"chat": {"id": CHAT}}})
    assert process_all(session, database, tenant_a.id) == ["ignored", "ignored"]
    assert messages(session, channel) == []


def test_redelivery_three_times_is_one_message(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    answers = [post(client, channel, secret, update(11, text="Pesan sekali")).json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [1, 0, 0] and [a["duplicates"] for a in answers] == [0, 1, 1]
    process_all(session, database, tenant_a.id)
    assert len(messages(session, channel)) == 1


def test_burst_from_a_new_sender_is_one_contact_and_one_conversation(client, session, database, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    contacts_before = count(session, Contact, tenant_a.id)
    for n in range(12, 17):
        post(client, channel, secret, update(n, text=f"pesan {n}"))
    assert process_all(session, database, tenant_a.id) == ["done"] * 5
    assert count(session, Contact, tenant_a.id) == contacts_before + 1
    assert count(session, Conversation, tenant_a.id) == 1
    assert len(messages(session, channel)) == 5


# -- refused deliveries -------------------------------------------------------------------------------------
def test_wrong_or_missing_secret_is_401_and_nothing_is_stored(client, session, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    assert post(client, channel, secret[:-1] + ("A" if secret[-1] != "A" else "B"), update(20, text="x")).status_code \
        == 401
    assert post(client, channel, None, update(21, text="x")).status_code == 401
    assert post(client, channel, "", update(22, text="x")).status_code == 401
    assert count(session, InboundEvent, tenant_a.id) == 0


def test_malformed_unknown_oversized_and_other_tenants_key(client, session, tenant_a, tenant_b, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    other, other_secret = make_channel(session, tenant_b, fake, name="Bot Warung")
    assert post(client, channel, secret, None, raw=b"{not json").status_code == 400
    assert post(client, channel, secret, {"no_update_id": True}).status_code == 400
    assert post(client, channel, secret, {"update_id": "12"}).status_code == 400
    assert client.post("/webhooks/telegram/" + "x" * 32, json=update(23, text="x"),
                       headers={"X-Telegram-Bot-Api-Secret-Token": secret}).status_code == 404
    assert client.post(f"/webhooks/line/{channel.webhook_key}", json=update(23, text="x"),
                       headers={"X-Telegram-Bot-Api-Secret-Token": secret}).status_code == 404
    huge = json.dumps(update(24, text="x" * 1_100_000)).encode()
    assert post(client, channel, secret, None, raw=huge).status_code == 413
    # Tenant A's secret on tenant B's webhook URL: refused, nothing stored for either business.
    assert post(client, other, secret, update(25, text="x")).status_code == 401
    assert count(session, InboundEvent, tenant_a.id) == 0 and count(session, InboundEvent, tenant_b.id) == 0
    assert post(client, other, other_secret, update(25, text="x")).status_code == 200
    assert count(session, InboundEvent, tenant_b.id) == 1 and count(session, InboundEvent, tenant_a.id) == 0


# -- outbound -----------------------------------------------------------------------------------------------
def conversation_with_customer(client, session, database, tenant, fake) -> tuple[Channel, Conversation]:
    channel, secret = make_channel(session, tenant, fake)
    post(client, channel, secret, update(30, text="Mau pesan"))
    process_all(session, database, tenant.id)
    conversation = session.scalar(select(Conversation).where(Conversation.channel_id == channel.id))
    return channel, conversation


def reply(session, tenant, conversation: Conversation, text: str) -> Message:
    message = outbox.queue_message(session, tenant.principal(), conversation, text=text)
    session.commit()
    return message


def test_reply_is_sent_with_reply_parameters_and_stays_sent(client, session, database, tenant_a, fake, clock):
    _channel, conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    message = reply(session, tenant_a, conversation, "Siap, kami kirim hari ini.")
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    [sent] = fake.sent()
    assert sent["chat_id"] == CHAT and sent["text"] == "Siap, kami kirim hari ini."
    assert sent["reply_parameters"]["message_id"] == 40
    session.expire_all()
    stored = session.get(Message, (tenant_a.id, message.id))
    assert stored.status == "sent" and stored.provider_message_id == f"{CHAT}:501"


def test_429_is_retried_after_the_providers_wait(client, session, database, tenant_a, fake, clock):
    _channel, conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    message = reply(session, tenant_a, conversation, "Pesanan dikonfirmasi")
    fake.fail_next(1, "429")
    before = utcnow()
    assert run_delivery(database, tenant_a.id, message.id) == "queued"
    session.expire_all()
    stored = session.get(Message, (tenant_a.id, message.id))
    assert stored.next_attempt_at >= before + timedelta(seconds=fake.retry_after)
    assert "too many requests" in stored.failure_reason
    assert run_delivery(database, tenant_a.id, message.id) == "skipped"  # not due yet
    stored.next_attempt_at = utcnow()
    session.commit()
    clock.now += fake.retry_after
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    assert len(fake.sent()) == 1


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_server_errors_and_timeouts_are_temporary(client, session, database, tenant_a, fake, clock, mode):
    _channel, conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    message = reply(session, tenant_a, conversation, "Coba lagi")
    fake.fail_next(1, mode)
    assert run_delivery(database, tenant_a.id, message.id) == "queued"
    session.expire_all()
    assert session.get(Message, (tenant_a.id, message.id)).attempts == 1


def test_blocked_bot_is_a_permanent_failure_with_the_reason_and_no_token(client, session, database, tenant_a, fake,
                                                                         clock, caplog):
    _channel, conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    message = reply(session, tenant_a, conversation, "Halo lagi")
    fake.blocked.add(CHAT)
    with caplog.at_level(logging.DEBUG):
        assert run_delivery(database, tenant_a.id, message.id) == "failed"
    session.expire_all()
    stored = session.get(Message, (tenant_a.id, message.id))
    assert stored.failure_code == "403" and "bot was blocked by the user" in stored.failure_reason
    secret_part = fake.token.split(":")[1]
    assert secret_part not in stored.failure_reason and secret_part not in caplog.text


def test_local_limiter_paces_one_chat_and_the_whole_bot(client, session, database, tenant_a, fake, clock):
    _channel, conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    first = reply(session, tenant_a, conversation, "Satu")
    second = reply(session, tenant_a, conversation, "Dua")
    assert run_delivery(database, tenant_a.id, first.id) == "sent"
    assert run_delivery(database, tenant_a.id, second.id) == "queued"  # within a second of the first
    session.expire_all()
    assert "one message per second" in session.get(Message, (tenant_a.id, second.id)).failure_reason
    assert len(fake.sent()) == 1

    limiter = telegram.SendLimiter(clock=clock)
    for chat in range(30):
        limiter.acquire("bot", str(chat))
    with pytest.raises(TemporaryFailure) as refused:
        limiter.acquire("bot", "another-chat")
    assert 0 < refused.value.retry_after <= 1
    clock.now += 1.0
    limiter.acquire("bot", "another-chat")


def test_text_over_the_limit_or_a_template_is_refused_before_calling(session, tenant_a, fake, clock):
    channel, _ = make_channel(session, tenant_a, fake)
    secrets = service.channel_secrets_of(session, channel)
    from niaga.inbox.adapters import OutboundRequest, PermanentFailure

    with pytest.raises(PermanentFailure):
        telegram.ADAPTER.send(channel, secrets, OutboundRequest(message_id="m", to=str(CHAT), text="x" * 4097))
    with pytest.raises(PermanentFailure):
        telegram.ADAPTER.send(channel, secrets, OutboundRequest(message_id="m", to=str(CHAT), kind="template",
                                                                template={"name": "promo"}))
    assert fake.requests == []


def test_register_webhook_hands_the_secret_to_telegram(session, tenant_a, fake):
    channel, secret = make_channel(session, tenant_a, fake)
    url = "https://niaga.example" + service.webhook_path(channel)
    telegram.register_webhook(channel, service.channel_secrets_of(session, channel), url)
    assert fake.webhook == {"url": url, "secret_token": secret, "allowed_updates": telegram.ALLOWED_UPDATES}

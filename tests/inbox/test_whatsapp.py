"""WhatsApp Cloud API end to end against a strict local Graph API: webhooks in, messages and templates out."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.crm.timeline import timeline
from niaga.db.base import utcnow
from niaga.identity.permissions import Role
from niaga.inbox import conversations, outbox, service, tasks
from niaga.inbox.adapters import (
    OutboundRequest,
    PermanentFailure,
    TemporaryFailure,
    adapter_for,
)
from niaga.inbox.channels import meta, whatsapp
from niaga.inbox.models import Attachment, Conversation, InboundEvent, Message
from niaga.inbox.tasks import run_delivery
from niaga.kit.errors import Forbidden, NotFound, ValidationFailed
from niaga.privacy import files
from niaga.privacy.file_models import StoredFile
from tests.support.fake_meta import (  # noqa: F401 - fake_meta and meta_api are fixtures
    APP_SECRET,
    TOKEN,
    encode,
    fake_meta,
    meta_api,
    sign,
    wa_delivery,
    wa_message,
    wa_status,
)

PHONE_ID = "106540352242922"
WABA = "102290129340398"
CUSTOMER = "6281234567890"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4


@pytest.fixture
def graph(meta_api):  # noqa: F811 - a fixture
    meta_api.phone_numbers.add(PHONE_ID)
    meta_api.add_template(WABA, "pesanan_dikirim", "id", "Halo {{1}}, pesanan {{2}} sudah dikirim.")
    meta_api.add_template(WABA, "order_shipped", "en_US", "Hi {{1}}, order {{2}} has shipped.")
    meta_api.add_template(WABA, "promo_lama", "id", "Promo {{1}}", status="REJECTED")
    return meta_api


@pytest.fixture
def channel(make_channel, graph):
    return make_channel("whatsapp", account_ref=PHONE_ID, config={"waba_id": WABA},
                        secrets={"app_secret": APP_SECRET, "access_token": TOKEN})


def deliver(client, channel, delivery, secret=APP_SECRET):
    body = encode(delivery)
    return client.post(service.webhook_path(channel), content=body, headers=sign(body, secret))


def count(session, model, tenant_id, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where))


def only_message(session, tenant_id):
    session.expire_all()
    return session.scalars(select(Message).where(Message.tenant_id == tenant_id)).one()


def receive(client, channel, process_pending, *messages, names=None):
    response = deliver(client, channel, wa_delivery(PHONE_ID, messages=list(messages),
                                                    names=names or {CUSTOMER: "Dewi Lestari"}))
    assert response.status_code == 200, response.text
    return process_pending(channel.tenant_id)


# -- signatures and the handshake ------------------------------------------------------------------

def test_the_published_signature_vectors_are_reproduced():
    assert meta.signature_for("secret", b"test") == \
        "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    assert meta.signature_for("It's a Secret to Everybody", b"Hello, World!") == \
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    header = {"x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    assert meta.signature_valid({"app_secret": "It's a Secret to Everybody"}, header, b"Hello, World!")
    assert not meta.signature_valid({"app_secret": "It's a Secret to Everybody"}, header, b"Hello, World?")
    assert not meta.signature_valid({}, header, b"Hello, World!")


def test_the_subscription_handshake_echoes_the_challenge_only_for_our_token(client, channel):
    path = service.webhook_path(channel)
    ok = client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": channel.verify_token,
                                  "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert ok.headers["content-type"].startswith("text/plain")
    for query in ({"hub.mode": "subscribe", "hub.verify_token": "tebakan", "hub.challenge": "1"},
                  {"hub.mode": "unsubscribe", "hub.verify_token": channel.verify_token, "hub.challenge": "1"},
                  {"hub.challenge": "1"}):
        assert client.get(path, params=query).status_code == 403
    assert client.get("/webhooks/whatsapp/" + "x" * 32, params={"hub.mode": "subscribe"}).status_code == 404


def test_forged_or_missing_signatures_get_401_and_nothing_is_stored(client, session, channel):
    body = encode(wa_delivery(PHONE_ID, messages=[wa_message(CUSTOMER, "text", {"body": "Halo"})]))
    path = service.webhook_path(channel)
    assert client.post(path, content=body, headers=sign(body, "rahasia-palsu")).status_code == 401
    assert client.post(path, content=body, headers={"Content-Type": "application/json"}).status_code == 401
    tampered = body.replace(b"Halo", b"Hola")
    assert client.post(path, content=tampered, headers=sign(body)).status_code == 401
    assert client.post(path, content=body, headers={"X-Hub-Signature-256": "md5=abc"}).status_code == 401
    assert count(session, InboundEvent, channel.tenant_id) == 0


def test_bad_bodies_get_clear_4xx_and_store_nothing(client, session, channel, settings):
    path = service.webhook_path(channel)
    for body in (b"{not json", b"[1, 2]", json.dumps({"object": "page", "entry": []}).encode(),
                 json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": "x"}]}).encode(),
                 encode(wa_delivery(PHONE_ID, messages=[{"from": CUSTOMER, "type": "text"}]))):
        response = client.post(path, content=body, headers=sign(body))
        assert response.status_code == 400, body
    assert client.post("/webhooks/whatsapp/" + "k" * 32, content=b"{}", headers=sign(b"{}")).status_code == 404
    big = encode(wa_delivery(PHONE_ID, messages=[wa_message(CUSTOMER, "text", {"body": "x" * settings.max_body_bytes})]))
    assert client.post(path, content=big, headers=sign(big)).status_code == 413
    assert count(session, InboundEvent, channel.tenant_id) == 0


# -- inbound messages --------------------------------------------------------------------------------

def test_a_text_finds_the_crm_contact_by_phone_and_shows_on_its_timeline(client, session, tenant_a, channel,
                                                                        process_pending):
    known = contacts.create_contact(session, tenant_a.principal(), {"full_name": "Dewi Lestari",
                                                                    "phones": "0812-3456-7890"})
    session.commit()
    text = "Halo kak, kopi susu gula aren masih ada? Café ☕"
    assert receive(client, channel, process_pending, wa_message(CUSTOMER, "text", {"body": text})) == ["done"]
    message = only_message(session, channel.tenant_id)
    conversation = session.get(Conversation, (channel.tenant_id, message.conversation_id))
    assert (message.body, message.direction, message.kind, conversation.contact_id) == (text, "in", "text", known.id)
    assert count(session, Contact, channel.tenant_id, Contact.source == "whatsapp") == 0
    items = timeline(session, tenant_a.principal(), session.get(Contact, (tenant_a.id, known.id)))
    assert [i.detail for i in items if i.kind == "message"] == [text]


def test_a_new_sender_becomes_a_contact_with_their_phone_and_profile_name(client, session, channel, process_pending):
    receive(client, channel, process_pending, wa_message(CUSTOMER, "text", {"body": "Permisi"}),
            names={CUSTOMER: "Budi Santoso"})
    contact = session.scalars(select(Contact).where(Contact.tenant_id == channel.tenant_id,
                                                    Contact.source == "whatsapp")).one()
    assert contact.full_name == "Budi Santoso"
    assert [p.phone for p in contact.phones] == ["+6281234567890"]
    found = contacts.contact_for_channel_sender(session, channel.tenant_id, phone="+6281234567890")
    assert found.id == contact.id


def test_an_image_is_downloaded_with_the_token_and_kept_encrypted(client, session, tenant_a, channel, graph,
                                                                  process_pending, settings):
    media_id, digest = graph.add_media(JPEG, "image/jpeg")
    receive(client, channel, process_pending, wa_message(CUSTOMER, "image", {
        "caption": "Foto struk", "mime_type": "image/jpeg", "sha256": digest, "id": media_id}))
    message = only_message(session, channel.tenant_id)
    attachment = session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()
    assert (message.kind, message.body, attachment.status, attachment.size) == ("image", "Foto struk", "stored",
                                                                                 len(JPEG))
    lookups = [r for r in graph.requests if r.method == "GET"]
    assert [r.path for r in lookups] == [f"/v21.0/{media_id}", f"/files/{media_id}"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in lookups)
    blob = files.FileStore.from_settings(settings).read(tenant_a.id, attachment.file_id)
    assert blob is not None and JPEG[:64] not in blob and b"JFIF" not in blob
    assert files.read_file(session, tenant_a.principal(), attachment.file_id).data == JPEG


def test_a_failed_media_download_keeps_the_event_pending_and_a_retry_stores_it_once(
        client, session, database, channel, graph, process_pending):
    media_id, digest = graph.add_media(b"%PDF-1.4 faktur " * 40, "application/pdf")
    graph.fail_next("500", route="media")
    delivery = wa_delivery(PHONE_ID, messages=[wa_message(CUSTOMER, "document", {
        "filename": "faktur-0042.pdf", "mime_type": "application/pdf", "sha256": digest, "id": media_id})],
        names={CUSTOMER: "Dewi"})
    assert deliver(client, channel, delivery).status_code == 200
    with pytest.raises(TemporaryFailure):
        process_pending(channel.tenant_id)
    event = session.scalars(select(InboundEvent).where(InboundEvent.tenant_id == channel.tenant_id)).one()
    assert (event.status, event.attempts, count(session, Message, channel.tenant_id)) == ("pending", 1, 0)
    assert deliver(client, channel, delivery).json()["duplicates"] == 1  # Meta redelivers: still one event
    assert process_pending(channel.tenant_id) == ["done"]
    message = only_message(session, channel.tenant_id)
    attachment = session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()
    assert (message.kind, attachment.status, attachment.filename) == ("document", "stored", "faktur-0042.pdf")
    assert count(session, StoredFile, channel.tenant_id) == 1


def test_a_media_file_whose_checksum_does_not_match_is_not_stored(client, session, channel, graph, process_pending):
    media_id, _ = graph.add_media(JPEG)
    wrong = "0" * 64
    deliver(client, channel, wa_delivery(PHONE_ID, messages=[wa_message(CUSTOMER, "image", {
        "mime_type": "image/jpeg", "sha256": wrong, "id": media_id})]))
    with pytest.raises(TemporaryFailure):
        process_pending(channel.tenant_id)
    assert count(session, Message, channel.tenant_id) == 0
    assert count(session, StoredFile, channel.tenant_id) == 0


def test_an_expired_media_id_keeps_the_message_with_a_failed_attachment(client, session, channel, process_pending):
    receive(client, channel, process_pending, wa_message(CUSTOMER, "audio", {
        "mime_type": "audio/ogg; codecs=opus", "sha256": "", "id": "999000111", "voice": True}))
    message = only_message(session, channel.tenant_id)
    attachment = session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()
    assert (message.kind, attachment.status) == ("audio", "failed")
    assert "no longer available" in attachment.failure_reason


KINDS = [
    ("location", {"latitude": -6.2, "longitude": 106.816666, "name": "Toko Sinar", "address": "Jl. Sudirman 1"},
     "location", "Toko Sinar, Jl. Sudirman 1", {"latitude": -6.2, "longitude": 106.816666}),
    ("interactive", {"type": "button_reply", "button_reply": {"id": "ya-kirim", "title": "Ya, kirim"}},
     "interactive", "Ya, kirim", {"type": "button_reply", "id": "ya-kirim"}),
    ("interactive", {"type": "list_reply", "list_reply": {"id": "ukuran-l", "title": "Ukuran L",
                                                          "description": "Lingkar dada 104 cm"}},
     "interactive", "Ukuran L", {"type": "list_reply", "description": "Lingkar dada 104 cm"}),
    ("button", {"payload": "STOP_PROMO", "text": "Berhenti promo"}, "button", "Berhenti promo",
     {"payload": "STOP_PROMO"}),
    ("reaction", {"message_id": "wamid.HBgNNjI4MTIzNDU2Nzg5MA", "emoji": "👍"}, "reaction", "👍",
     {"message_id": "wamid.HBgNNjI4MTIzNDU2Nzg5MA"}),
    ("order", {"catalog_id": "3141", "product_items": [{"product_retailer_id": "kopi-1", "quantity": "2",
                                                         "item_price": "25000", "currency": "IDR"}]},
     "unsupported", None, {"type": "order"}),
    ("system", {"body": "Nomor pelanggan berubah", "type": "user_changed_number"}, "unsupported",
     "Nomor pelanggan berubah", {"type": "system"}),
    ("unsupported", None, "unsupported", None, {"type": "unsupported"}),
]


@pytest.mark.parametrize(("wire", "content", "kind", "body", "expected"), KINDS,
                         ids=[f"{k[0]}-{i}" for i, k in enumerate(KINDS)])
def test_each_message_type_is_stored_in_its_kind(client, session, channel, process_pending, wire, content, kind,
                                                 body, expected):
    item = wa_message(CUSTOMER, wire, content)
    if wire == "unsupported":
        item["errors"] = [{"code": 131051, "title": "Message type unknown"}]
    receive(client, channel, process_pending, item)
    message = only_message(session, channel.tenant_id)
    assert (message.kind, message.body) == (kind, body)
    assert expected.items() <= message.content.items()
    if kind == "unsupported":
        assert message.content["note"]


def test_shared_contacts_and_a_reply_context_are_kept(client, session, channel, process_pending):
    first = wa_message(CUSTOMER, "text", {"body": "Ini nomor istri saya"})
    card = {"name": {"formatted_name": "Sari Wulandari", "first_name": "Sari"},
            "phones": [{"phone": "+62 813-7778-8899", "type": "CELL", "wa_id": "6281377788899"}]}
    reply = wa_message(CUSTOMER, "contacts", context={"from": CUSTOMER, "id": first["id"]})
    reply["contacts"] = [card]
    receive(client, channel, process_pending, first, reply)
    session.expire_all()
    shared = session.scalars(select(Message).where(Message.kind == "contacts",
                                                   Message.tenant_id == channel.tenant_id)).one()
    original = session.scalars(select(Message).where(Message.provider_message_id == first["id"])).one()
    assert (shared.body, shared.content["contacts"][0]["phones"][0]["wa_id"]) == ("Sari Wulandari", "6281377788899")
    assert shared.reply_to_id == original.id


def test_a_delivery_redelivered_three_times_makes_one_message(client, session, channel, process_pending):
    delivery = wa_delivery(PHONE_ID, messages=[wa_message(CUSTOMER, "text", {"body": "Halo"})], names={CUSTOMER: "D"})
    answers = [deliver(client, channel, delivery).json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [1, 0, 0]
    process_pending(channel.tenant_id)
    deliver(client, channel, delivery)  # even after processing
    assert process_pending(channel.tenant_id) == []
    assert count(session, Message, channel.tenant_id) == 1


@pytest.mark.parametrize("together", [True, False], ids=["one-delivery", "five-deliveries"])
def test_a_burst_from_a_new_sender_makes_one_contact_and_one_conversation(client, session, channel, process_pending,
                                                                          together):
    burst = [wa_message(CUSTOMER, "text", {"body": f"pesan {n}"}, ts=1767225600 + n) for n in range(5)]
    names = {CUSTOMER: "Andi"}
    if together:
        deliver(client, channel, wa_delivery(PHONE_ID, messages=burst, names=names))
    else:
        for item in burst:
            deliver(client, channel, wa_delivery(PHONE_ID, messages=[item], names=names))
    assert process_pending(channel.tenant_id) == ["done"] * 5
    assert count(session, Contact, channel.tenant_id, Contact.source == "whatsapp") == 1
    assert count(session, Conversation, channel.tenant_id) == 1
    assert count(session, Message, channel.tenant_id) == 5


def test_an_unknown_business_number_is_acknowledged_but_not_stored(client, session, channel):
    delivery = wa_delivery("999999999999999", messages=[wa_message(CUSTOMER, "text", {"body": "Halo"})])
    response = deliver(client, channel, delivery)
    assert response.status_code == 200 and response.json()["unrouted"] == 1
    assert count(session, InboundEvent, channel.tenant_id) == 0


def test_one_app_routes_each_number_to_its_own_channel(client, session, make_channel, channel, process_pending):
    second = make_channel("whatsapp", account_ref="106540352242999", name="WA Gudang",
                          secrets={"app_secret": APP_SECRET, "access_token": TOKEN})
    delivery = wa_delivery("106540352242999", messages=[wa_message(CUSTOMER, "text", {"body": "Gudang?"})])
    deliver(client, channel, delivery)
    process_pending(channel.tenant_id)
    assert only_message(session, channel.tenant_id).channel_id == second.id


def test_a_channel_key_of_another_tenant_cannot_write_into_this_one(client, session, channel, make_channel,
                                                                    tenant_b):
    theirs = make_channel("whatsapp", account_ref="201111111111111", world=tenant_b,
                          secrets={"app_secret": "rahasia-b", "access_token": "EAAB"})
    aimed_at_a = wa_delivery(PHONE_ID, messages=[wa_message(CUSTOMER, "text", {"body": "menyusup"})])
    assert deliver(client, theirs, aimed_at_a, secret=APP_SECRET).status_code == 401  # A's secret on B's key
    response = deliver(client, theirs, aimed_at_a, secret="rahasia-b")
    assert response.status_code == 200 and response.json()["unrouted"] == 1
    assert count(session, InboundEvent, channel.tenant_id) == 0 and count(session, InboundEvent, tenant_b.id) == 0


# -- outbound ----------------------------------------------------------------------------------------

@pytest.fixture
def conversation(client, session, channel, process_pending):
    now = int(utcnow().timestamp())
    receive(client, channel, process_pending, wa_message(CUSTOMER, "text", {"body": "Halo"}, ts=now))
    return session.scalars(select(Conversation).where(Conversation.tenant_id == channel.tenant_id)).one()


def reply(session, tenant, conversation, text="Ada kak, silakan dipesan", **kwargs):
    message = outbox.queue_message(session, tenant.principal(), conversation, text=text, **kwargs)
    session.commit()
    return message


def reload(session, message):
    session.expire_all()
    return session.get(Message, (message.tenant_id, message.id))


def test_a_reply_is_posted_in_the_exact_shape_and_its_wamid_kept(session, database, tenant_a, conversation, graph):
    message = reply(session, tenant_a, conversation)
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    request = next(r for r in graph.requests if r.method == "POST")
    assert request.path == f"/v21.0/{PHONE_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
                            "type": "text", "text": {"preview_url": False, "body": "Ada kak, silakan dipesan"}}
    sent = reload(session, message)
    assert sent.status == "sent" and sent.provider_message_id.startswith("wamid.")


def test_a_reply_to_one_message_quotes_it(channel, graph):
    request = OutboundRequest(message_id="m", to=CUSTOMER, text="Yang ini kak",
                              extra={"reply_to": "wamid.HBgNNjI4MTIzNDU2Nzg5MA"})
    adapter_for("whatsapp").send(channel, {"access_token": TOKEN}, request)
    assert graph.sent()[0]["context"] == {"message_id": "wamid.HBgNNjI4MTIzNDU2Nzg5MA"}


def test_statuses_move_forward_only_and_a_failure_keeps_its_reason(client, session, database, tenant_a, channel,
                                                                   conversation, process_pending):
    message = reply(session, tenant_a, conversation)
    run_delivery(database, tenant_a.id, message.id)
    wamid = reload(session, message).provider_message_id
    deliver(client, channel, wa_delivery(PHONE_ID, statuses=[wa_status(wamid, "read", CUSTOMER, ts=1767225800),
                                                             wa_status(wamid, "delivered", CUSTOMER, ts=1767225790)]))
    process_pending(tenant_a.id)
    assert reload(session, message).status == "read"
    second = reply(session, tenant_a, conversation, text="Sudah kami kirim")
    run_delivery(database, tenant_a.id, second.id)
    wamid2 = reload(session, second).provider_message_id
    error = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
             "error_data": {"details": "Message failed to send because more than 24 hours have passed"}}
    deliver(client, channel, wa_delivery(PHONE_ID, statuses=[wa_status(wamid2, "failed", CUSTOMER, errors=[error]),
                                                             wa_status(wamid2, "delivered", CUSTOMER)]))
    process_pending(tenant_a.id)
    failed = reload(session, second)
    assert (failed.status, failed.failure_code) == ("failed", "131047")
    assert "only an approved template" in failed.failure_reason
    deliver(client, channel, wa_delivery(PHONE_ID, statuses=[wa_status(wamid2, "read", CUSTOMER, ts=1767229999)]))
    process_pending(tenant_a.id)
    assert reload(session, second).status == "failed"  # terminal


def test_outside_24_hours_free_text_is_refused_but_a_template_goes_out(client, session, database, tenant_a, channel,
                                                                       process_pending, graph):
    old = int((utcnow() - timedelta(hours=30)).timestamp())
    receive(client, channel, process_pending, wa_message(CUSTOMER, "text", {"body": "Halo"}, ts=old))
    conversation = session.scalars(select(Conversation).where(Conversation.tenant_id == channel.tenant_id)).one()
    with pytest.raises(outbox.OutsideReplyWindow):
        outbox.queue_message(session, tenant_a.principal(), conversation, text="Masih ada kak")
    whatsapp.sync_templates(session, tenant_a.principal(), channel, {"access_token": TOKEN})
    template = whatsapp.template_message(channel, "pesanan_dikirim", "id", ["Dewi", "INV-0042"])
    message = reply(session, tenant_a, conversation, text=None, template=template)
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    assert graph.sent()[-1] == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "template",
        "template": {"name": "pesanan_dikirim", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Dewi"}, {"type": "text", "text": "INV-0042"}]}]}}


def test_131047_from_the_send_call_fails_the_message_with_the_reason(session, database, tenant_a, conversation,
                                                                    graph):
    graph.outside_window.add(CUSTOMER)  # Meta's clock says the window closed before ours did
    message = reply(session, tenant_a, conversation)
    assert run_delivery(database, tenant_a.id, message.id) == "failed"
    failed = reload(session, message)
    assert failed.failure_code == "131047" and "only an approved template" in failed.failure_reason


def test_a_429_is_retried_after_retry_after_then_sent(session, database, tenant_a, conversation, graph):
    graph.fail_next("429", retry_after="120")
    message = reply(session, tenant_a, conversation)
    assert run_delivery(database, tenant_a.id, message.id) == "queued"
    queued = reload(session, message)
    assert queued.next_attempt_at >= utcnow() + timedelta(seconds=110) and "429" in queued.failure_reason
    assert run_delivery(database, tenant_a.id, message.id) == "skipped"  # not due yet
    with database.transaction() as s:
        s.get(Message, (message.tenant_id, message.id)).next_attempt_at = utcnow()
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    assert len(graph.sent()) == 2


@pytest.mark.parametrize("what", ["500", "hang", "130429", "131056"])
def test_server_errors_timeouts_and_throughput_limits_are_temporary(channel, graph, what):
    graph.fail_next(what)
    request = OutboundRequest(message_id="m", to=CUSTOMER, text="Halo")
    with pytest.raises(TemporaryFailure):
        adapter_for("whatsapp").send(channel, {"access_token": TOKEN}, request)
    graph.release.set()


def test_a_refused_send_fails_with_the_providers_message_and_no_phone_number(session, database, tenant_a,
                                                                            conversation, graph):
    graph.fail_next("bad-recipient")
    message = reply(session, tenant_a, conversation)
    assert run_delivery(database, tenant_a.id, message.id) == "failed"
    failed = reload(session, message)
    assert failed.failure_code == "100" and "Invalid parameter" in failed.failure_reason
    assert CUSTOMER not in failed.failure_reason


def test_a_wrong_token_is_refused_by_meta_and_shown(channel, graph):
    with pytest.raises(PermanentFailure) as refused:
        adapter_for("whatsapp").send(channel, {"access_token": "EAAwrong"},
                                     OutboundRequest(message_id="m", to=CUSTOMER, text="Halo"))
    assert refused.value.code == "190" and "access token" in refused.value.reason
    assert graph.requests[-1].headers["authorization"] == "Bearer EAAwrong"


# -- templates ---------------------------------------------------------------------------------------

def test_templates_are_synced_from_meta_and_only_approved_ones_are_offered(session, tenant_a, channel, graph):
    offered = whatsapp.sync_templates(session, tenant_a.principal(), channel, {"access_token": TOKEN})
    assert [(t.name, t.language, t.parameters) for t in offered] == [("order_shipped", "en_US", 2),
                                                                     ("pesanan_dikirim", "id", 2)]
    assert len(whatsapp.templates_of(channel, approved_only=False)) == 3
    assert graph.requests[-1].path == f"/v21.0/{WABA}/message_templates"
    with pytest.raises(ValidationFailed):
        whatsapp.template_message(channel, "promo_lama", "id", ["x"])  # rejected by Meta
    with pytest.raises(ValidationFailed):
        whatsapp.template_message(channel, "pesanan_dikirim", "id", ["Dewi"])  # one value missing


def test_templates_can_be_typed_in_by_staff(session, tenant_a, channel):
    whatsapp.set_templates(session, tenant_a.principal(), channel,
                           [{"name": "salam", "language": "id", "body": "Halo {{1}}!"}])
    assert whatsapp.template_message(channel, "salam", "id", ["Rina"]) == {
        "name": "salam", "language": "id", "parameters": ["Rina"]}
    with pytest.raises(ValidationFailed):
        whatsapp.set_templates(session, tenant_a.principal(), channel, [{"name": "Bukan Nama", "language": "id"}])


def test_only_inbox_managers_of_the_tenant_change_templates(session, tenant_a, tenant_b, channel):
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    with pytest.raises(Forbidden):
        whatsapp.set_templates(session, tenant_a.principal(agent), channel, [{"name": "a", "language": "id"}])
    with pytest.raises(NotFound):
        whatsapp.sync_templates(session, tenant_b.principal(), channel, {"access_token": TOKEN})
    assert whatsapp.templates_of(channel) == []


def test_a_template_meta_does_not_know_fails_with_the_reason(channel, graph):
    request = OutboundRequest(message_id="m", to=CUSTOMER, kind="template",
                              template={"name": "tidak_ada", "language": "id", "parameters": []})
    with pytest.raises(PermanentFailure) as refused:
        adapter_for("whatsapp").send(channel, {"access_token": TOKEN}, request)
    assert refused.value.code == "132001"


def test_media_ids_and_digests_are_checked(channel):
    assert whatsapp._hex_digest(hashlib.sha256(b"x").hexdigest().upper()) == hashlib.sha256(b"x").hexdigest()
    with pytest.raises(PermanentFailure):
        adapter_for("whatsapp").fetch_media(channel, {"access_token": TOKEN}, whatsapp.MediaRef("../../etc"))


# -- read receipts -------------------------------------------------------------------------------------------

def _queued_receipts() -> list[tuple]:
    from niaga.worker import queue

    return [task.args for task in queue.pending() if task.name.endswith("read_receipt_job")]


def test_opening_a_conversation_marks_the_newest_customer_message_read_once(client, session, database, tenant_a,
                                                                            channel, graph, process_pending):
    from niaga.worker import queue

    queue.flush()
    receive(client, channel, process_pending, wa_message(CUSTOMER, "text", {"body": "Kak, ready?"}, wamid="wamid.R1"),
            wa_message(CUSTOMER, "text", {"body": "Yang merah"}, wamid="wamid.R2", ts=1767225660))
    conversation = session.scalars(select(Conversation).where(Conversation.tenant_id == tenant_a.id)).one()
    assert conversation.unread_count == 2 and _queued_receipts() == []  # nobody has read them yet

    conversations.read_conversation(session, tenant_a.principal(), conversation.id)
    session.commit()
    [(tenant_id, message_id)] = _queued_receipts()
    assert session.get(Message, (tenant_a.id, uuid.UUID(message_id))).provider_message_id == "wamid.R2"
    assert tasks.run_read_receipt(database, uuid.UUID(tenant_id), uuid.UUID(message_id)) is True
    [sent] = [r for r in graph.requests if r.method == "POST" and r.json and r.json.get("status") == "read"]
    assert sent.json == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.R2"}
    assert sent.path.endswith(f"/{PHONE_ID}/messages") and sent.headers["authorization"] == f"Bearer {TOKEN}"

    queue.flush()
    conversations.read_conversation(session, tenant_a.principal(), conversation.id)  # nothing new to read
    session.commit()
    assert _queued_receipts() == []


def test_a_refused_read_receipt_is_dropped_and_a_temporary_failure_retried(client, session, database, tenant_a,
                                                                          channel, graph, process_pending):
    receive(client, channel, process_pending, wa_message(CUSTOMER, "text", {"body": "Halo"}, wamid="wamid.R3"))
    message = only_message(session, tenant_a.id)
    graph.fail_next("500", route="send")
    with pytest.raises(TemporaryFailure):  # the job is retried by the queue
        tasks.run_read_receipt(database, tenant_a.id, message.id)
    graph.fail_next("bad-recipient", route="send")
    assert tasks.run_read_receipt(database, tenant_a.id, message.id) is False  # refused: nothing to retry
    assert tasks.run_read_receipt(database, tenant_a.id, uuid.uuid4()) is False  # no such message

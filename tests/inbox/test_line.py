"""LINE Official Accounts end to end against a strict local Messaging API."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from niaga.config import get_settings
from niaga.crm.models import Contact
from niaga.inbox import outbox, service
from niaga.inbox.adapters import OutboundRequest
from niaga.inbox.channels import line
from niaga.inbox.models import Attachment, Channel, Conversation, InboundEvent, Message
from niaga.inbox.tasks import run_delivery
from niaga.privacy import files
from niaga.privacy.audit import Actor
from tests.inbox.test_telegram import count, messages, process_all
from tests.support.fake_line import FakeLine

SECRET = "line-channel-secret-0123456789ab"
USER = "U4af4980629a0b1c2d3e4f5a6b7c8d9e0"
DESTINATION = "Ub0t0000000000000000000000000000a"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with FakeLine() as server:
        monkeypatch.setenv("NIAGA_LINE_API_BASE", server.url)
        monkeypatch.setenv("NIAGA_LINE_DATA_API_BASE", server.url)
        monkeypatch.setenv("NIAGA_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("NIAGA_CHAT_API_TIMEOUT_SECONDS", "1")
        get_settings.cache_clear()
        yield server
    monkeypatch.undo()
    get_settings.cache_clear()


def make_channel(session, tenant, fake: FakeLine, name: str = "LINE Toko", secret: str = SECRET) -> Channel:
    channel = service.create_channel(session, tenant.principal(), kind="line", name=name, account_ref=DESTINATION,
                                     secrets={"channel_secret": secret, "channel_access_token": fake.token})
    session.commit()
    return channel


def event(event_id: str, kind: str = "message", user: str = USER, **fields) -> dict:
    return {"type": kind, "mode": "active", "timestamp": 1767225600000, "source": {"type": "user", "userId": user},
            "webhookEventId": event_id, "deliveryContext": {"isRedelivery": False}, "replyToken": "rt-" + event_id,
            **fields}


def post(client, channel: Channel, events: list[dict] | None, *, secret: str | None = SECRET, raw: bytes | None = None,
         destination: str = DESTINATION):
    body = raw if raw is not None else json.dumps({"destination": destination, "events": events}).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Line-Signature"] = line.signature(secret, body)
    return client.post(service.webhook_path(channel), content=body, headers=headers)


def test_signature_matches_the_published_vector():
    assert line.signature("channel_secret", b"bodybodybodybody") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


def test_text_message_makes_one_contact_and_conversation(client, session, database, tenant_a, fake):
    channel = make_channel(session, tenant_a, fake)
    resp = post(client, channel, [event("01HZXA", message={"id": "468789577898262530", "type": "text",
                                                          "text": "Halo, ada promo?"})])
    assert resp.status_code == 200 and resp.json()["stored"] == 1
    assert process_all(session, database, tenant_a.id) == ["done"]
    [message] = messages(session, channel)
    assert (message.kind, message.body, message.provider_message_id) == ("text", "Halo, ada promo?",
                                                                         "468789577898262530")
    conversation = session.get(Conversation, (tenant_a.id, message.conversation_id))
    assert session.get(Contact, (tenant_a.id, conversation.contact_id)).source == "line"


def test_a_new_sender_is_named_from_their_line_profile_asked_once(client, session, database, tenant_a, fake):
    stranger = "U0123456789abcdef0123456789abcdef"  # not a friend of the account: LINE has no profile for them
    fake.profiles[USER] = "Budi Santoso"
    channel = make_channel(session, tenant_a, fake)
    post(client, channel, [event("01HZP1", message={"id": "468789577898262531", "type": "text", "text": "Halo"}),
                           event("01HZP2", user=stranger, message={"id": "468789577898262532", "type": "text",
                                                                   "text": "Permisi"}),
                           event("01HZP3", message={"id": "468789577898262533", "type": "text", "text": "Lagi"})])
    assert process_all(session, database, tenant_a.id) == ["done"] * 3

    names = [c.full_name for c in session.scalars(select(Contact).where(Contact.tenant_id == tenant_a.id))]
    assert sorted(names) == ["Budi Santoso", stranger]
    asked = [r for r in fake.requests if r.path.startswith("/v2/bot/profile/")]
    assert [r.path for r in asked] == [f"/v2/bot/profile/{USER}", f"/v2/bot/profile/{stranger}"]
    assert all(r.method == "GET" and r.headers["authorization"] == f"Bearer {fake.token}" for r in asked)


def test_media_is_downloaded_with_the_bearer_and_stored(client, session, database, tenant_a, fake):
    channel = make_channel(session, tenant_a, fake)
    picture = b"\x89PNG\r\n\x1a\n" + b"gambar" * 40
    fake.content["100001"] = ("image/png", picture)
    fake.content["100002"] = ("application/pdf", b"%PDF-1.4 menu")
    post(client, channel, [
        event("01HZXB", message={"id": "100001", "type": "image", "contentProvider": {"type": "line"}}),
        event("01HZXC", message={"id": "100002", "type": "file", "fileName": "menu.pdf", "fileSize": 13}),
        event("01HZXD", message={"id": "100003", "type": "video",
                                 "contentProvider": {"type": "external", "originalContentUrl": "http://10.0.0.1/x"}}),
    ])
    assert process_all(session, database, tenant_a.id) == ["done"] * 3
    image, document, video = messages(session, channel)
    attachment = session.scalar(select(Attachment).where(Attachment.message_id == image.id))
    assert image.kind == "image" and attachment.status == "stored" and attachment.content_type == "image/png"
    assert files.read_file(session, Actor.system(), attachment.file_id, tenant_id=tenant_a.id).data == picture
    assert document.kind == "document"
    assert session.scalar(select(Attachment).where(Attachment.message_id == document.id)).filename == "menu.pdf"
    assert video.content == {"external_media": True}  # a link to someone else's server is never fetched
    downloads = [r for r in fake.requests if r.method == "GET" and not r.path.startswith("/v2/bot/profile/")]
    assert [r.path for r in downloads] == ["/v2/bot/message/100001/content", "/v2/bot/message/100002/content"]
    assert all(r.headers["authorization"] == f"Bearer {fake.token}" for r in downloads)


def test_location_sticker_postback_follow_and_unfollow(client, session, database, tenant_a, fake):
    channel = make_channel(session, tenant_a, fake)
    post(client, channel, [
        event("01HZXE", message={"id": "200001", "type": "location", "title": "Toko", "address": "Jl. Merdeka 1",
                                 "latitude": -6.17, "longitude": 106.82}),
        event("01HZXF", message={"id": "200002", "type": "sticker", "packageId": "446", "stickerId": "1988",
                                 "quotedMessageId": "200001"}),
        event("01HZXG", kind="postback", postback={"data": "action=buy&itemid=111", "params": {}}),
        event("01HZXH", kind="follow", follow={"isUnblocked": False}),
        event("01HZXI", kind="unfollow"),
    ])
    assert process_all(session, database, tenant_a.id) == ["done", "done", "done", "ignored", "ignored"]
    location, sticker, postback = messages(session, channel)
    assert location.content["location"]["address"] == "Jl. Merdeka 1" and location.kind == "location"
    assert sticker.kind == "sticker" and sticker.reply_to_id == location.id
    assert (postback.kind, postback.body) == ("interactive", "action=buy&itemid=111")


def test_redelivery_is_one_message_and_a_burst_one_conversation(client, session, database, tenant_a, fake):
    channel = make_channel(session, tenant_a, fake)
    contacts_before = count(session, Contact, tenant_a.id)
    same = event("01HZXJ", message={"id": "300001", "type": "text", "text": "sekali"})
    answers = [post(client, channel, [same]).json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [1, 0, 0]
    post(client, channel, [event(f"01HZXK{n}", message={"id": f"30001{n}", "type": "text", "text": f"pesan {n}"})
                           for n in range(4)])
    assert process_all(session, database, tenant_a.id) == ["done"] * 5
    assert len(messages(session, channel)) == 5
    assert count(session, Contact, tenant_a.id) == contacts_before + 1
    assert count(session, Conversation, tenant_a.id) == 1


def test_forged_malformed_unknown_oversized_and_other_tenants_key(client, session, tenant_a, tenant_b, fake):
    channel = make_channel(session, tenant_a, fake)
    other = make_channel(session, tenant_b, fake, name="LINE Warung", secret="another-secret-of-warung-tini")
    one = [event("01HZXL", message={"id": "400001", "type": "text", "text": "x"})]
    assert post(client, channel, one, secret="wrong-secret").status_code == 401
    assert post(client, channel, one, secret=None).status_code == 401
    body = json.dumps({"destination": DESTINATION, "events": one}).encode()
    resp = client.post(service.webhook_path(channel), content=body.replace(b'"x"', b'"y"'),
                       headers={"X-Line-Signature": line.signature(SECRET, body)})
    assert resp.status_code == 401  # a signature of other bytes
    assert post(client, channel, None, raw=b"{broken").status_code == 400
    assert post(client, channel, None, raw=b'{"events": [{"type": "message"}]}').status_code == 400
    assert client.post("/webhooks/line/" + "k" * 32, content=body,
                       headers={"X-Line-Signature": line.signature(SECRET, body)}).status_code == 404
    huge = json.dumps({"events": [event("big", message={"id": "1", "type": "text", "text": "x" * 1_100_000})]})
    assert post(client, channel, None, raw=huge.encode()).status_code == 413
    assert post(client, other, one).status_code == 401  # tenant A's secret on tenant B's URL
    assert count(session, InboundEvent, tenant_a.id) == 0 and count(session, InboundEvent, tenant_b.id) == 0
    assert post(client, channel, []).json() == {"ok": True, "stored": 0, "duplicates": 0, "unrouted": 0}


# -- sending --------------------------------------------------------------------------------------------------
def conversation_with_customer(client, session, database, tenant, fake) -> Conversation:
    channel = make_channel(session, tenant, fake)
    post(client, channel, [event("01HZXM", message={"id": "500001", "type": "text", "text": "Mau pesan"})])
    process_all(session, database, tenant.id)
    return session.scalar(select(Conversation).where(Conversation.channel_id == channel.id))


def reply(session, tenant, conversation: Conversation, text: str) -> Message:
    message = outbox.queue_message(session, tenant.principal(), conversation, text=text)
    session.commit()
    return message


def test_push_sends_with_bearer_and_a_retry_key_from_our_id(client, session, database, tenant_a, fake):
    conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    message = reply(session, tenant_a, conversation, "Terima kasih, pesanan diproses.")
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    [pushed] = fake.pushed
    assert pushed == {"to": USER, "messages": [{"type": "text", "text": "Terima kasih, pesanan diproses."}]}
    push = next(r for r in fake.requests if r.path == "/v2/bot/message/push")
    assert push.headers["x-line-retry-key"] == line.retry_key(str(message.id))
    assert uuid.UUID(push.headers["x-line-retry-key"])
    session.expire_all()
    assert session.get(Message, (tenant_a.id, message.id)).provider_message_id == "700000000001"


def test_a_retry_after_a_timeout_is_accepted_once(client, session, database, tenant_a, fake):
    conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    channel = session.get(Channel, (tenant_a.id, conversation.channel_id))
    secrets = service.channel_secrets_of(session, channel)
    request = OutboundRequest(message_id=str(uuid.uuid4()), to=USER, text="Pesanan dikirim")
    first = line.ADAPTER.send(channel, secrets, request)
    again = line.ADAPTER.send(channel, secrets, request)  # as after a timeout: LINE answers 409, already accepted
    assert first == again and len(fake.pushed) == 1
    statuses = [r.headers["x-line-retry-key"] for r in fake.requests if r.path == "/v2/bot/message/push"]
    assert statuses[0] == statuses[1]


@pytest.mark.parametrize("mode", ["429", "500", "hang"])
def test_rate_limits_server_errors_and_timeouts_are_retried(client, session, database, tenant_a, fake, mode):
    conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    message = reply(session, tenant_a, conversation, "Coba lagi")
    fake.fail_next(1, mode)
    assert run_delivery(database, tenant_a.id, message.id) == "queued"
    session.expire_all()
    stored = session.get(Message, (tenant_a.id, message.id))
    assert stored.attempts == 1 and stored.failure_reason
    stored.next_attempt_at = None
    session.commit()
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    assert len(fake.pushed) == 1


def test_a_refused_push_fails_with_lines_reason(client, session, database, tenant_a, fake):
    conversation = conversation_with_customer(client, session, database, tenant_a, fake)
    channel = session.get(Channel, (tenant_a.id, conversation.channel_id))
    service.set_channel_secrets(session, tenant_a.principal(), channel, {"channel_access_token": "revoked-token"})
    message = reply(session, tenant_a, conversation, "Halo")
    assert run_delivery(database, tenant_a.id, message.id) == "failed"
    session.expire_all()
    stored = session.get(Message, (tenant_a.id, message.id))
    assert stored.failure_code == "401" and "Authentication failed" in stored.failure_reason
    assert "revoked-token" not in stored.failure_reason

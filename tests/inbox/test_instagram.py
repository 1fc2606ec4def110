"""Instagram messaging end to end against a strict local Graph API: direct messages, echoes, read receipts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.inbox import outbox, service
from niaga.inbox.adapters import (
    OutboundRequest,
    PermanentFailure,
    TemporaryFailure,
    adapter_for,
)
from niaga.inbox.channels import instagram, meta
from niaga.inbox.models import (
    Attachment,
    ChannelIdentity,
    Conversation,
    InboundEvent,
    Message,
)
from niaga.inbox.tasks import run_delivery
from niaga.privacy import files
from tests.support.fake_meta import (  # noqa: F401 - fake_meta and meta_api are fixtures
    APP_SECRET,
    TOKEN,
    encode,
    fake_meta,
    ig_delivery,
    ig_message,
    meta_api,
    sign,
)

IG_ID = "17841405822304914"
CUSTOMER = "1254459154682919"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


class Clock:
    """A hand-moved monotonic clock for the send cap."""

    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def graph(meta_api):  # noqa: F811 - a fixture
    meta_api.instagram_accounts.add(IG_ID)
    return meta_api


@pytest.fixture
def channel(make_channel, graph):
    return make_channel("instagram", account_ref=IG_ID, secrets={"app_secret": APP_SECRET, "access_token": TOKEN})


def deliver(client, channel, *items, account=IG_ID, secret=APP_SECRET):
    body = encode(ig_delivery(account, *items))
    return client.post(service.webhook_path(channel), content=body, headers=sign(body, secret))


def count(session, model, tenant_id, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where))


def messages(session, tenant_id):
    session.expire_all()
    return list(session.scalars(select(Message).where(Message.tenant_id == tenant_id).order_by(Message.at)))


def now_ms(hours_ago: float = 0) -> int:
    return int((utcnow() - timedelta(hours=hours_ago)).timestamp() * 1000)


def test_handshake_and_signature_follow_metas_scheme(client, session, channel):
    path = service.webhook_path(channel)
    ok = client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": channel.verify_token,
                                  "hub.challenge": "8231"})
    assert (ok.status_code, ok.text) == (200, "8231")
    assert client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": "x",
                                    "hub.challenge": "8231"}).status_code == 403
    body = encode(ig_delivery(IG_ID, ig_message(CUSTOMER, IG_ID, text="halo")))
    assert client.post(path, content=body, headers=sign(body, "bukan-rahasia")).status_code == 401
    assert client.post(path, content=body).status_code == 401
    for bad in (b"not json", encode({"object": "whatsapp_business_account", "entry": []}),
                encode({"object": "instagram", "entry": [{"id": IG_ID, "messaging": ["x"]}]})):
        assert client.post(path, content=bad, headers=sign(bad)).status_code == 400
    assert count(session, InboundEvent, channel.tenant_id) == 0


def test_a_direct_message_makes_a_contact_known_by_the_instagram_id(client, session, channel, process_pending):
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, text="Kak, yang warna hijau ready?", ts=now_ms()))
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, text="Ukuran M", ts=now_ms()))
    assert process_pending(channel.tenant_id) == ["done", "done"]
    first, second = messages(session, channel.tenant_id)
    assert (first.body, first.direction, second.conversation_id) == ("Kak, yang warna hijau ready?", "in",
                                                                      first.conversation_id)
    identity = session.scalars(select(ChannelIdentity).where(ChannelIdentity.tenant_id == channel.tenant_id)).one()
    assert identity.address == f"instagram:{CUSTOMER}"
    assert count(session, Contact, channel.tenant_id, Contact.source == "instagram") == 1


def test_a_new_sender_is_named_from_their_instagram_profile_asked_once(client, session, channel, graph,
                                                                        process_pending):
    named, username_only, unknown = CUSTOMER, "1254459154682920", "1254459154682921"
    graph.profiles[named] = {"name": "Siti Rahmawati", "username": "siti.rahma", "follower_count": 120}
    graph.profiles[username_only] = {"username": "tokobudi_id"}  # no name set on the profile
    for sender, text in ((named, "Halo kak"), (username_only, "Permisi"), (unknown, "Hai"), (named, "Ukuran M")):
        deliver(client, channel, ig_message(sender, IG_ID, text=text, ts=now_ms()))
    assert process_pending(channel.tenant_id) == ["done"] * 4  # no profile for one: named by id, not failed

    names = [c.full_name for c in session.scalars(select(Contact).where(Contact.tenant_id == channel.tenant_id))]
    assert sorted(names) == [unknown, "Siti Rahmawati", "tokobudi_id"]
    asked = [r for r in graph.requests if r.method == "GET" and r.path.endswith(named)]
    assert len(asked) == 1  # the second message came from a known contact
    assert asked[0].query == {"fields": ["name,username"]}
    assert asked[0].headers["authorization"] == f"Bearer {graph.token}"


@pytest.mark.parametrize("together", [True, False], ids=["one-delivery", "five-deliveries"])
def test_a_burst_from_a_new_sender_makes_one_contact_and_one_conversation(client, session, channel, process_pending,
                                                                          together):
    burst = [ig_message(CUSTOMER, IG_ID, text=f"foto {n}", ts=now_ms() + n) for n in range(5)]
    if together:
        deliver(client, channel, *burst)
    else:
        for item in burst:
            deliver(client, channel, item)
    assert process_pending(channel.tenant_id) == ["done"] * 5
    assert count(session, Contact, channel.tenant_id, Contact.source == "instagram") == 1
    assert count(session, Conversation, channel.tenant_id) == 1
    assert count(session, ChannelIdentity, channel.tenant_id) == 1


def test_a_redelivered_message_is_stored_once(client, session, channel, process_pending):
    item = ig_message(CUSTOMER, IG_ID, text="halo")
    assert [deliver(client, channel, item).json()["stored"] for _ in range(3)] == [1, 0, 0]
    process_pending(channel.tenant_id)
    assert count(session, Message, channel.tenant_id) == 1


def test_an_attachment_is_downloaded_without_the_token_and_kept_encrypted(client, session, tenant_a, channel, graph,
                                                                          process_pending, settings):
    url = graph.add_cdn(PNG, "image/png", redirect=True)
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, attachments=[{"type": "image", "payload": {"url": url}}]))
    graph.fail_next("500", route="media")
    with pytest.raises(TemporaryFailure):
        process_pending(channel.tenant_id)
    assert count(session, Message, channel.tenant_id) == 0  # the event waits for its file
    assert process_pending(channel.tenant_id) == ["done"]
    (message,) = messages(session, channel.tenant_id)
    attachment = session.scalars(select(Attachment).where(Attachment.message_id == message.id)).one()
    assert (message.kind, attachment.status, attachment.content_type) == ("image", "stored", "image/png")
    downloads = [r for r in graph.requests if r.path.startswith(("/cdn/", "/moved/"))]
    assert [r.path.split("/")[1] for r in downloads] == ["moved", "cdn"] * 2  # 302 to the file: failed, then ok
    assert all("authorization" not in r.headers for r in downloads)
    blob = files.FileStore.from_settings(settings).read(tenant_a.id, attachment.file_id)
    assert PNG[8:72] not in blob
    assert files.read_file(session, tenant_a.principal(), attachment.file_id).data == PNG


def test_a_share_or_story_is_kept_as_unsupported_with_a_note(client, session, channel, graph, process_pending):
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, attachments=[
        {"type": "story_mention", "payload": {"url": graph.add_cdn(PNG)}}]))
    process_pending(channel.tenant_id)
    (message,) = messages(session, channel.tenant_id)
    assert message.kind == "unsupported" and message.content["note"]


def test_an_echo_is_stored_as_outgoing_in_the_customers_conversation(client, session, channel, process_pending):
    question = ig_message(CUSTOMER, IG_ID, text="Ready kak?", ts=now_ms(1))
    answer = ig_message(IG_ID, CUSTOMER, text="Ready, kak!", echo=True, ts=now_ms(), reply_to=question["message"]["mid"])
    deliver(client, channel, question)
    deliver(client, channel, answer)
    assert process_pending(channel.tenant_id) == ["done", "done"]
    inbound, echo = messages(session, channel.tenant_id)
    conversation = session.get(Conversation, (channel.tenant_id, inbound.conversation_id))
    assert (echo.direction, echo.status, echo.body, echo.conversation_id) == ("out", "sent", "Ready, kak!",
                                                                              inbound.conversation_id)
    assert echo.reply_to_id == inbound.id
    assert conversation.unread_count == 1 and conversation.last_inbound_at == inbound.at
    assert count(session, Contact, channel.tenant_id, Contact.source == "instagram") == 1


@pytest.fixture
def conversation(client, session, channel, process_pending):
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, text="Halo", ts=now_ms()))
    process_pending(channel.tenant_id)
    return session.scalars(select(Conversation).where(Conversation.tenant_id == channel.tenant_id)).one()


def reply(session, tenant, conversation, text="Ready kak, silakan checkout"):
    message = outbox.queue_message(session, tenant.principal(), conversation, text=text)
    session.commit()
    return message


def reload(session, message):
    session.expire_all()
    return session.get(Message, (message.tenant_id, message.id))


def test_a_reply_is_sent_in_the_exact_shape_and_its_echo_is_not_a_second_message(
        client, session, database, tenant_a, channel, conversation, graph, process_pending):
    message = reply(session, tenant_a, conversation)
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    request = next(r for r in graph.requests if r.method == "POST")
    assert request.path == f"/v21.0/{IG_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == {"recipient": {"id": CUSTOMER}, "message": {"text": "Ready kak, silakan checkout"}}
    mid = reload(session, message).provider_message_id
    deliver(client, channel, ig_message(IG_ID, CUSTOMER, mid=mid, text="Ready kak, silakan checkout", echo=True))
    assert process_pending(tenant_a.id) == ["ignored"]
    deliver(client, channel, {"sender": {"id": CUSTOMER}, "recipient": {"id": IG_ID}, "timestamp": now_ms(),
                              "read": {"mid": mid}})
    process_pending(tenant_a.id)
    assert reload(session, message).status == "read"
    assert count(session, Message, tenant_a.id) == 2


def test_an_echo_that_overtakes_the_send_answer_is_merged_into_the_sent_message(
        client, session, database, tenant_a, channel, conversation, graph, process_pending, monkeypatch):
    message = reply(session, tenant_a, conversation)
    with database.transaction() as s:
        attempt = outbox.begin_attempt(s, tenant_a.id, message.id)
    outcome = outbox.send(attempt)
    deliver(client, channel, ig_message(IG_ID, CUSTOMER, mid=outcome.provider_message_id, echo=True,
                                        text="Ready kak, silakan checkout"))
    process_pending(tenant_a.id)  # the echo is processed before the send's answer is recorded
    with database.transaction() as s:
        assert outbox.finish_attempt(s, attempt, outcome) == "sent"
    assert [(m.direction, m.status, m.author_id) for m in messages(session, tenant_a.id)] == [
        ("in", "received", None), ("out", "sent", tenant_a.owner.id)]


def test_the_24_hour_window_is_enforced_here_and_by_instagram(client, session, database, tenant_a, channel, graph,
                                                              process_pending):
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, text="Halo", ts=now_ms(hours_ago=25)))
    process_pending(tenant_a.id)
    conversation = session.scalars(select(Conversation).where(Conversation.tenant_id == tenant_a.id)).one()
    with pytest.raises(outbox.OutsideReplyWindow):
        outbox.queue_message(session, tenant_a.principal(), conversation, text="Masih ada?")
    conversation.last_inbound_at = utcnow()  # our clock says open; Instagram's says closed
    graph.outside_window.add(CUSTOMER)
    message = reply(session, tenant_a, conversation)
    assert run_delivery(database, tenant_a.id, message.id) == "failed"
    failed = reload(session, message)
    assert failed.failure_code == "2018278" and "24 hours" in failed.failure_reason


def test_a_429_with_retry_after_is_temporary(channel, graph):
    graph.fail_next("429", retry_after="30")
    with pytest.raises(TemporaryFailure) as later:
        adapter_for("instagram").send(channel, {"access_token": TOKEN},
                                      OutboundRequest(message_id="m", to=CUSTOMER, text="Halo"))
    assert later.value.retry_after == 30


def test_sends_over_the_channels_cap_wait_instead_of_failing(channel, graph, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(meta, "SEND_RATE", meta.SendRate(clock=clock))
    channel.config = {"sends_per_second": 2}
    send = adapter_for("instagram").send
    request = OutboundRequest(message_id="m", to=CUSTOMER, text="Promo")
    send(channel, {"access_token": TOKEN}, request)
    send(channel, {"access_token": TOKEN}, request)
    with pytest.raises(TemporaryFailure) as later:
        send(channel, {"access_token": TOKEN}, request)
    assert later.value.retry_after == pytest.approx(0.5)
    assert len(graph.sent()) == 2
    clock.now += 0.5
    send(channel, {"access_token": TOKEN}, request)
    assert len(graph.sent()) == 3


def test_what_instagram_cannot_send_fails_for_good(channel):
    send = adapter_for("instagram").send
    for request in (OutboundRequest(message_id="m", to=CUSTOMER, text="x" * (instagram.MAX_TEXT + 1)),
                    OutboundRequest(message_id="m", to=CUSTOMER, kind="template", template={"name": "a"}),
                    OutboundRequest(message_id="m", to="../me", text="halo")):
        with pytest.raises(PermanentFailure):
            send(channel, {"access_token": TOKEN}, request)


def test_reactions_postbacks_and_unsent_messages(client, session, channel, process_pending):
    original = ig_message(CUSTOMER, IG_ID, text="Harga?", ts=now_ms())
    mid = original["message"]["mid"]
    deliver(client, channel, original)
    deliver(client, channel, {"sender": {"id": CUSTOMER}, "recipient": {"id": IG_ID}, "timestamp": now_ms(),
                              "reaction": {"mid": mid, "action": "react", "reaction": "love", "emoji": "❤"}})
    deliver(client, channel, {"sender": {"id": CUSTOMER}, "recipient": {"id": IG_ID}, "timestamp": now_ms(),
                              "postback": {"mid": "aWdfcG9zdGJhY2s", "title": "Lihat katalog", "payload": "KATALOG"}})
    deliver(client, channel, ig_message(CUSTOMER, IG_ID, mid=mid, deleted=True))
    assert process_pending(channel.tenant_id) == ["done", "done", "done", "ignored"]
    kinds = {m.kind: m for m in messages(session, channel.tenant_id)}
    assert kinds["reaction"].body == "❤" and kinds["reaction"].reply_to_id == kinds["text"].id
    assert (kinds["button"].body, kinds["button"].content["payload"]) == ("Lihat katalog", "KATALOG")
    assert CUSTOMER not in kinds["reaction"].provider_message_id


def test_other_accounts_and_other_tenants_are_kept_apart(client, session, channel, make_channel, tenant_b):
    response = deliver(client, channel, ig_message(CUSTOMER, "17841400000000000", text="halo"),
                       account="17841400000000000")
    assert response.json()["unrouted"] == 1
    theirs = make_channel("instagram", account_ref="17841499999999999", world=tenant_b,
                          secrets={"app_secret": "rahasia-b", "access_token": "EAAB"})
    aimed_at_a = ig_message(CUSTOMER, IG_ID, text="menyusup")
    assert deliver(client, theirs, aimed_at_a).status_code == 401
    assert deliver(client, theirs, aimed_at_a, secret="rahasia-b").json()["unrouted"] == 1
    assert count(session, InboundEvent, channel.tenant_id) == 0 and count(session, InboundEvent, tenant_b.id) == 0

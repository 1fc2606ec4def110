"""Web chat: the widget's public endpoints, through the shared inbox pipeline, as a site's visitor sees them.

Sessions (anonymous and verified by the site's identity hash), messages deduplicated on the widget's id,
replies delivered by the outbox and read back by polling, CORS for the channel's sites only, and every
kind of bad input: forged, expired or other-channel tokens, wrong hashes, malformed and oversized bodies,
rate limits, other visitors' conversations.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from niaga.inbox import outbox, service, tasks
from niaga.inbox.channels import webchat
from niaga.inbox.models import ChannelIdentity, Conversation, InboundEvent, Message
from niaga.inbox.webchat_routes import MESSAGES_PER_VISITOR
from niaga.privacy.fields import is_readable

SITE = "https://toko.example"
SECRET = "rahasia-identitas-toko-0123456789abcdef"


@pytest.fixture
def channel(session, tenant_a):
    made = service.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat Toko Sinar",
                                  config={"allowed_origins": [SITE]}, secrets={"identity_secret": SECRET})
    session.commit()
    return made


def _url(channel, what: str) -> str:
    return f"/webchat/{channel.webhook_key}/{what}"


def new_session(client, channel, user: dict | None = None, origin: str = SITE):
    return client.post(_url(channel, "sessions"), json={"user": user} if user else {}, headers={"Origin": origin})


def token_of(client, channel) -> str:
    resp = new_session(client, channel)
    assert resp.status_code == 201, resp.text
    return resp.json()["token"]


def send(client, channel, token: str, text: str, client_id: str = "pesan-0001"):
    return client.post(_url(channel, "messages"), json={"id": client_id, "text": text},
                       headers={"Origin": SITE, "X-Visitor-Token": token})


def poll(client, channel, token: str, after: str | None = None):
    query = f"?after={after}" if after is not None else ""
    return client.get(_url(channel, "messages") + query, headers={"Origin": SITE, "X-Visitor-Token": token})


def process_all(session, database, channel) -> None:
    """What the worker does: process every pending event of the channel."""
    session.expire_all()
    pending = session.scalars(select(InboundEvent.id).where(InboundEvent.channel_id == channel.id,
                                                            InboundEvent.status == "pending")).all()
    for event_id in pending:
        tasks.run_inbound(database, channel.tenant_id, event_id)
    session.expire_all()


def reply(session, database, tenant, channel, text: str, private: bool = False) -> Message:
    """An agent answers in the visitor's conversation and the outbox delivers it."""
    conversation = session.scalar(select(Conversation).where(Conversation.channel_id == channel.id)
                                  .order_by(Conversation.last_message_at.desc()))
    message = outbox.queue_message(session, tenant.principal(), conversation, text=text, private=private)
    session.commit()
    if not private:
        assert tasks.run_delivery(database, tenant.id, message.id) == "sent"
    session.expire_all()
    return message


# -- the conversation a visitor has -------------------------------------------------------------------
def test_anonymous_visitor_chats_and_reads_the_reply(client, session, database, tenant_a, channel):
    config = client.get(_url(channel, "config") + "?lang=en", headers={"Origin": SITE})
    assert config.status_code == 200 and config.headers["access-control-allow-origin"] == SITE
    assert config.json()["name"] == "Chat Toko Sinar" and config.json()["strings"]["send"] == "Send"
    assert client.get(_url(channel, "config") + "?lang=id").json()["strings"]["send"] == "Kirim"

    token = token_of(client, channel)
    resp = send(client, channel, token, "Halo, apakah sepatu ukuran 42 ada?")
    assert resp.status_code == 202 and resp.json() == {"id": "pesan-0001", "status": "accepted"}
    assert resp.headers["access-control-allow-origin"] == SITE
    process_all(session, database, channel)

    identity = session.scalars(select(ChannelIdentity).where(ChannelIdentity.kind == "webchat")).one()
    contact = session.get(Contact, (tenant_a.id, identity.contact_id))
    assert str(contact.full_name) == "Pengunjung web" and identity.address.startswith("webchat:")
    inbound = session.scalars(select(Message).where(Message.channel_id == channel.id)).one()
    assert inbound.body == "Halo, apakah sepatu ukuran 42 ada?" and inbound.direction == "in"

    first = poll(client, channel, token)
    assert first.status_code == 200
    assert [(m["from"], m["text"], m["client_id"]) for m in first.json()["messages"]] == [
        ("visitor", "Halo, apakah sepatu ukuran 42 ada?", "pesan-0001")]
    cursor = first.json()["cursor"]

    reply(session, database, tenant_a, channel, "Ada kak, warna hitam dan putih.")
    reply(session, database, tenant_a, channel, "Catatan internal: cek stok gudang", private=True)
    later = poll(client, channel, token, cursor).json()
    texts = [(m["from"], m["text"]) for m in later["messages"]]
    assert ("agent", "Ada kak, warna hitam dan putih.") in texts
    assert all("Catatan internal" not in m["text"] for m in later["messages"])
    assert int(later["cursor"]) >= int(cursor)
    sent = session.scalars(select(Message).where(Message.direction == "out", Message.private.is_(False))).one()
    assert sent.status == "sent" and sent.provider_message_id == str(sent.id)


def test_a_queued_reply_is_not_shown_before_it_is_sent(client, session, database, tenant_a, channel):
    token = token_of(client, channel)
    send(client, channel, token, "Halo")
    process_all(session, database, channel)
    conversation = session.scalars(select(Conversation)).one()
    outbox.queue_message(session, tenant_a.principal(), conversation, text="Sebentar ya kak")
    session.commit()
    assert [m["from"] for m in poll(client, channel, token).json()["messages"]] == ["visitor"]


def test_resending_the_same_message_id_is_stored_once(client, session, database, channel):
    token = token_of(client, channel)
    assert send(client, channel, token, "Halo").json()["status"] == "accepted"
    assert send(client, channel, token, "Halo").json()["status"] == "duplicate"
    process_all(session, database, channel)
    assert session.scalar(select(func.count()).select_from(Message)) == 1
    assert session.scalar(select(func.count()).select_from(Contact).where(Contact.source == "webchat")) == 1


def test_two_visitors_never_see_each_other(client, session, database, channel):
    first, second = token_of(client, channel), token_of(client, channel)
    send(client, channel, first, "Pesan rahasia pengunjung pertama", "pertama-01")
    send(client, channel, second, "Pesan pengunjung kedua", "pertama-01")  # the same client id: still distinct
    process_all(session, database, channel)
    assert session.scalar(select(func.count()).select_from(Conversation)) == 2
    seen = [m["text"] for m in poll(client, channel, second).json()["messages"]]
    assert seen == ["Pesan pengunjung kedua"]
    # A fresh visitor sees nothing at all.
    assert poll(client, channel, token_of(client, channel)).json()["messages"] == []


def test_message_text_is_stored_sealed(client, session, database, channel):
    token = token_of(client, channel)
    send(client, channel, token, "Alamat saya Jalan Melati 7")
    process_all(session, database, channel)
    raw = session.connection().exec_driver_sql("SELECT body FROM messages").scalar()
    assert b"Melati" not in bytes(raw)
    assert session.scalar(select(InboundEvent.payload_sealed)) is None  # emptied once processed


# -- identity verification ----------------------------------------------------------------------------
def _user(user_id: str = "pelanggan-77", email: str = "budi@pelanggan.example", name: str = "Budi Santoso",
          secret: str = SECRET) -> dict:
    return {"id": user_id, "email": email, "name": name, "hash": webchat.identity_hash(secret, user_id)}


def test_verified_visitor_is_linked_to_the_contact_with_that_email(client, session, database, tenant_a, channel):
    known = contacts.create_contact(session, tenant_a.principal(), {"full_name": "Budi Santoso",
                                                                    "emails": ["budi@pelanggan.example"]})
    session.commit()
    resp = new_session(client, channel, _user())
    assert resp.status_code == 201 and resp.json()["verified"] is True
    send(client, channel, resp.json()["token"], "Pesanan saya belum sampai")
    process_all(session, database, channel)
    conversation = session.scalars(select(Conversation)).one()
    assert conversation.contact_id == known.id
    # The same user in another browser (another visitor id) reads the same conversation.
    other = new_session(client, channel, _user()).json()["token"]
    assert [m["text"] for m in poll(client, channel, other).json()["messages"]] == ["Pesanan saya belum sampai"]


def test_verified_visitor_with_an_unknown_email_becomes_a_new_contact(client, session, database, channel):
    resp = new_session(client, channel, _user(email="sari@baru.example", name="Sari Dewi"))
    assert resp.status_code == 201
    session.expire_all()
    contact = session.scalars(select(Contact).where(Contact.source == "webchat")).one()
    assert str(contact.full_name) == "Sari Dewi"
    assert contacts.contact_for_channel_sender(session, channel.tenant_id, email="sari@baru.example").id == contact.id


@pytest.mark.parametrize("user", [
    _user(secret="rahasia-yang-salah"),
    {**_user(), "id": "pelanggan-78"},  # the hash of another user id
    {**_user(), "hash": "0" * 64},
])
def test_a_wrong_identity_hash_is_refused_and_ignored(client, session, channel, user):
    before = session.scalar(select(func.count()).select_from(Contact))
    resp = new_session(client, channel, user)
    assert resp.status_code == 401 and "token" not in resp.json()
    assert resp.headers["access-control-allow-origin"] == SITE  # the widget can read the refusal
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Contact)) == before
    assert session.scalar(select(func.count()).select_from(ChannelIdentity)) == 0


def test_identity_is_refused_when_the_channel_has_no_identity_secret(client, session, tenant_a):
    bare = service.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat Tanpa Rahasia",
                                  config={"allowed_origins": [SITE]})
    session.commit()
    assert new_session(client, bare, _user()).status_code == 401


@pytest.mark.parametrize("user", [
    "budi", {"id": "x", "email": "bukan-email", "name": "Budi", "hash": "0" * 64},
    {"id": "", "email": "budi@pelanggan.example", "hash": "0" * 64},
    {"id": "x" * 201, "email": "budi@pelanggan.example", "hash": "0" * 64},
    {"id": "x", "email": "budi@pelanggan.example", "hash": "zz"},
    {"id": 5, "email": "budi@pelanggan.example", "hash": "0" * 64},
    {"id": "x", "email": "budi@pelanggan.example", "name": "N" * 121, "hash": "0" * 64},
])
def test_malformed_identity_is_422(client, channel, user):
    resp = new_session(client, channel, user)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")


# -- tokens ---------------------------------------------------------------------------------------------
def test_bad_tokens_are_401(client, session, tenant_a, tenant_b, channel):
    token = token_of(client, channel)
    other = service.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat Lain",
                                   config={"allowed_origins": [SITE]})
    foreign = service.create_channel(session, tenant_b.principal(), kind="webchat", name="Chat Tenant B",
                                     config={"allowed_origins": [SITE]})
    session.commit()
    visitor = token.split(".")[1]
    forged = [
        "", "bukan-token", token + "x", token.replace("v1.", "v2.", 1),
        ".".join([*token.split(".")[:3], "A" * 43]),
        webchat.issue_token(session, channel, visitor, int(time.time()) - 200 * 24 * 3600),  # expired
        f"v1.{'0' * 32}.{token.split('.')[2]}.{token.split('.')[3]}",  # another visitor id, same MAC
    ]
    for bad in forged:
        assert send(client, channel, bad, "Halo").status_code == 401, bad
        assert poll(client, channel, bad).status_code == 401, bad
    # A token of one channel opens nothing on another, in this tenant or another.
    for elsewhere in (other, foreign):
        assert send(client, elsewhere, token, "Halo").status_code == 401
        assert poll(client, elsewhere, token).status_code == 401
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InboundEvent)) == 0


def test_no_token_header_is_401(client, channel):
    resp = client.post(_url(channel, "messages"), json={"id": "pesan-0001", "text": "Halo"}, headers={"Origin": SITE})
    assert resp.status_code == 401


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    {"id": "pesan-0001"}, {"text": "Halo"}, {"id": "pendek", "text": "Halo"}, {"id": "ada spasi!", "text": "Halo"},
    {"id": "pesan-0001", "text": "   "}, {"id": "pesan-0001", "text": 42}, {"id": ["x"], "text": "Halo"},
    {"id": "pesan-0001", "text": "a" * 4097}, [1, 2],
])
def test_malformed_messages_are_refused_and_nothing_is_stored(client, session, channel, body):
    token = token_of(client, channel)
    resp = client.post(_url(channel, "messages"), json=body, headers={"Origin": SITE, "X-Visitor-Token": token})
    assert resp.status_code == 422, resp.text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InboundEvent)) == 0


def test_a_message_of_exactly_4096_characters_is_accepted(client, channel):
    assert send(client, channel, token_of(client, channel), "a" * 4096).status_code == 202


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"not json"])
def test_broken_json_is_400(client, channel, raw):
    token = token_of(client, channel)
    for what, headers in (("messages", {"X-Visitor-Token": token}), ("sessions", {})):
        resp = client.post(_url(channel, what), content=raw, headers={"Origin": SITE, "Content-Type": "application/json",
                                                                       **headers})
        assert resp.status_code == 400, what


def test_a_body_over_the_limit_is_413(client, settings, channel):
    token = token_of(client, channel)
    big = json.dumps({"id": "pesan-0001", "text": "a" * (settings.max_body_bytes + 10)})
    resp = client.post(_url(channel, "messages"), content=big, headers={"Origin": SITE, "X-Visitor-Token": token,
                                                                         "Content-Type": "application/json"})
    assert resp.status_code == 413


@pytest.mark.parametrize("after", ["abc", "-5", "1" * 18, "1.5"])
def test_a_bad_cursor_is_422(client, channel, after):
    assert poll(client, channel, token_of(client, channel), after).status_code == 422


def test_a_body_that_is_not_an_object_starts_no_session(client, channel):
    resp = client.post(_url(channel, "sessions"), json=["x"], headers={"Origin": SITE})
    assert resp.status_code == 400


def test_unknown_or_switched_off_channels_are_404(client, session, channel):
    assert client.post("/webchat/kunci-yang-tidak-ada-sama-sekali/sessions", json={}).status_code == 404
    assert client.get("/webchat/pendek/config").status_code == 404
    channel.active = False
    session.commit()
    assert new_session(client, channel).status_code == 404


def test_a_channel_of_another_kind_is_404(client, session, tenant_a):
    telegram = service.create_channel(session, tenant_a.principal(), kind="telegram", name="Bot Toko")
    session.commit()
    assert client.post(f"/webchat/{telegram.webhook_key}/sessions", json={}).status_code == 404


def test_the_webhook_url_of_a_webchat_channel_accepts_nothing(client, session, channel):
    resp = client.post(f"/webhooks/webchat/{channel.webhook_key}", content=b'{"visitor": "x"}')
    assert resp.status_code == 401
    assert session.scalar(select(func.count()).select_from(InboundEvent)) == 0


# -- CORS -----------------------------------------------------------------------------------------------
def test_preflight_is_answered_for_the_channels_sites_only(client, channel):
    ok = client.options(_url(channel, "messages"), headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-visitor-token"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SITE
    assert "x-visitor-token" in ok.headers["access-control-allow-headers"].lower()
    assert "POST" in ok.headers["access-control-allow-methods"]
    refused = client.options(_url(channel, "messages"), headers={"Origin": "https://penipu.example",
                                                                 "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert client.options(_url(channel, "lainnya"), headers={"Origin": SITE}).status_code in (404, 405)
    assert client.options(_url(channel, "messages")).status_code == 403  # no origin: nothing to allow


def test_requests_from_another_site_are_refused(client, session, channel):
    token = token_of(client, channel)
    evil = "https://penipu.example"
    assert new_session(client, channel, origin=evil).status_code == 403
    resp = client.post(_url(channel, "messages"), json={"id": "pesan-0001", "text": "Halo"},
                       headers={"Origin": evil, "X-Visitor-Token": token})
    assert resp.status_code == 403 and "access-control-allow-origin" not in resp.headers
    assert client.get(_url(channel, "config"), headers={"Origin": evil}).status_code == 403
    assert session.scalar(select(func.count()).select_from(InboundEvent)) == 0
    # The trailing slash or case of an allowed origin makes no difference.
    assert new_session(client, channel, origin="HTTPS://TOKO.EXAMPLE").status_code == 201


# -- rate limits ----------------------------------------------------------------------------------------
def test_a_visitor_sending_too_fast_gets_429_with_retry_after(client, session, channel):
    token = token_of(client, channel)
    allowed = MESSAGES_PER_VISITOR[1]
    for n in range(allowed):
        assert send(client, channel, token, f"Pesan {n}", f"pesan-{n:04d}").status_code == 202
    resp = send(client, channel, token, "Satu lagi", "pesan-lebih")
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) > 0
    assert resp.headers["access-control-allow-origin"] == SITE
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InboundEvent)) == allowed
    # Another visitor is not held back by the first one's limit.
    assert send(client, channel, token_of(client, channel), "Halo", "pesan-lain1").status_code == 202


def test_too_many_sessions_from_one_address_get_429(client, channel):
    from niaga.inbox.webchat_routes import SESSIONS_PER_ADDRESS

    codes = [new_session(client, channel).status_code for _ in range(SESSIONS_PER_ADDRESS[1] + 1)]
    assert codes[:-1] == [201] * SESSIONS_PER_ADDRESS[1] and codes[-1] == 429


# -- erasure ------------------------------------------------------------------------------------------
def test_an_erased_visitor_reads_nothing(client, session, database, channel):
    from niaga.privacy.audit import Actor
    from niaga.privacy.erasure import erase_subject

    token = token_of(client, channel)
    send(client, channel, token, "Halo")
    process_all(session, database, channel)
    conversation = session.scalars(select(Conversation)).one()
    erase_subject(session, channel.tenant_id, conversation.subject_id, Actor.system(), reason="test")
    session.commit()
    assert poll(client, channel, token).json()["messages"] == []
    message = session.scalars(select(Message)).one()
    assert not is_readable(message.body)

"""Marketing broadcasts reach only consenting people; everyone else is skipped with a reason (U6, R4, R5, H3)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from niaga.config import get_settings
from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.identity.permissions import Role
from niaga.inbox import broadcasts, ingest, service
from niaga.inbox.adapters import InboundMessage
from niaga.inbox.broadcast_models import Broadcast, UnsubscribeToken
from niaga.inbox.models import Channel, Conversation, Message
from niaga.inbox.tasks import run_delivery
from niaga.privacy.audit import Actor
from niaga.privacy.consent import (
    ConsentMethod,
    ConsentPurpose,
    RestrictionKind,
    current_consents,
    record_consent,
    restrict,
)
from niaga.privacy.models import DataSubject
from tests.conftest import api_token, bearer, browser_login
from tests.support.fake_telegram import FakeTelegram

TG = ConsentPurpose.MARKETING_TELEGRAM
EMAIL = ConsentPurpose.MARKETING_EMAIL


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with FakeTelegram() as server:
        monkeypatch.setenv("NIAGA_TELEGRAM_API_BASE", server.url)
        monkeypatch.setenv("NIAGA_DATA_DIR", str(tmp_path))
        get_settings.cache_clear()
        yield server
    monkeypatch.undo()
    get_settings.cache_clear()


def telegram_channel(session, tenant, token: str = "7001234567:AAHfakeTokenForTestsOnly_abcdefghijk") -> Channel:
    return service.create_channel(session, tenant.principal(), kind="telegram", name="Bot Promo",
                                  secrets={"bot_token": token})


def email_channel(session, tenant) -> Channel:
    return service.create_channel(session, tenant.principal(), kind="email", name="Email Toko",
                                  account_ref=f"halo@{tenant.tenant.slug}.example")


def chat_customer(session, channel: Channel, chat_id: int, name: str) -> Contact:
    """A customer who wrote to the bot once (so the contact has a Telegram identity)."""
    message = ingest.receive_message(session, channel, InboundMessage(
        provider_message_id=f"{chat_id}:1", sender_id=str(chat_id), at=utcnow() - timedelta(days=3), text="halo",
        sender_name=name))
    conversation = session.get(Conversation, (channel.tenant_id, message.conversation_id))
    return session.get(Contact, (channel.tenant_id, conversation.contact_id))


def consent(session, contact: Contact, purpose: ConsentPurpose, granted: bool = True, **kwargs) -> None:
    record_consent(session, contact.subject, purpose, granted, method=ConsentMethod.FORM, actor=Actor.system(),
                   **kwargs)


def outcomes(session, broadcast: Broadcast) -> dict[str, tuple[str, str]]:
    return {str(contact.full_name): (r.outcome, r.reason) for r, contact in broadcasts.recipients(session, broadcast)}


@pytest.fixture
def audience(session, tenant_a):
    """A Telegram bot with six customers in every consent situation."""
    channel = telegram_channel(session, tenant_a)
    people = {name: chat_customer(session, channel, 9100 + n, name) for n, name in enumerate(
        ["Ani Setuju", "Budi Berhenti", "Citra Dibatasi", "Dedi Diam", "Eka Anak", "Fajar Anak Wali"])}
    consent(session, people["Ani Setuju"], TG)
    consent(session, people["Budi Berhenti"], TG)
    consent(session, people["Budi Berhenti"], TG, granted=False)
    consent(session, people["Citra Dibatasi"], TG)
    restrict(session, people["Citra Dibatasi"].subject, RestrictionKind.RESTRICT, Actor.system())
    consent(session, people["Eka Anak"], TG)  # given before anyone knew her age
    people["Eka Anak"].birth_date = date.today().replace(year=date.today().year - 12)
    people["Fajar Anak Wali"].birth_date = date.today().replace(year=date.today().year - 15)
    consent(session, people["Fajar Anak Wali"], TG, birth_date=people["Fajar Anak Wali"].birth_date,
            guardian={"name": "Ibu Fajar", "relation": "ibu"})
    people["Ani Setuju"].tags = ["pelanggan-setia"]
    people["Dedi Diam"].tags = ["pelanggan-setia"]
    session.commit()
    return channel, people


def test_broadcast_queues_for_consenting_people_and_lists_everyone_skipped(session, tenant_a, audience):
    channel, people = audience
    owner = tenant_a.principal()
    draft = broadcasts.create_broadcast(session, owner, {"channel_id": str(channel.id), "name": "Promo Lebaran",
                                                         "body": "Diskon 20% minggu ini!"})
    sent = broadcasts.send_broadcast(session, owner, draft, "https://niaga.example")
    assert outcomes(session, sent) == {
        "Ani Setuju": ("queued", "ok"),
        "Budi Berhenti": ("skipped", "withdrawn"),
        "Citra Dibatasi": ("skipped", "restricted"),
        "Dedi Diam": ("skipped", "no-consent"),
        "Eka Anak": ("skipped", "child-no-guardian"),
        "Fajar Anak Wali": ("queued", "ok"),
    }
    assert (sent.status, sent.queued_count, sent.skipped_count) == ("sent", 2, 4)
    queued = session.scalars(select(Message).where(Message.broadcast_id == sent.id)).all()
    assert len(queued) == 2 and {m.status for m in queued} == {"queued"}
    assert {m.body for m in queued} == {"Diskon 20% minggu ini!"}
    assert {m.subject_id for m in queued} == {people["Ani Setuju"].subject_id, people["Fajar Anak Wali"].subject_id}
    with pytest.raises(broadcasts.Conflict):
        broadcasts.send_broadcast(session, owner, sent, "https://niaga.example")


def test_a_tag_limits_the_segment(session, tenant_a, audience):
    channel, _people = audience
    draft = broadcasts.create_broadcast(session, tenant_a.principal(), {
        "channel_id": str(channel.id), "name": "Khusus setia", "body": "Halo pelanggan setia", "segment_tag": "Pelanggan-Setia"})
    sent = broadcasts.send_broadcast(session, tenant_a.principal(), draft, "https://niaga.example")
    assert outcomes(session, sent) == {"Ani Setuju": ("queued", "ok"), "Dedi Diam": ("skipped", "no-consent")}


def test_a_tag_is_matched_as_contacts_tags_are_written_and_one_tag_at_most(session, tenant_a, audience):
    channel, people = audience
    people["Budi Berhenti"].tags = ["pelanggan-setia-lama"]  # contains the tag's text, but is another tag
    session.flush()
    draft = broadcasts.create_broadcast(session, tenant_a.principal(), {
        "channel_id": str(channel.id), "name": "Setia", "body": "Halo", "segment_tag": "  Pelanggan Setia "})
    assert draft.segment_tag == "pelanggan-setia"
    assert {c.id for c in broadcasts.segment(session, tenant_a.id, draft.segment_tag)} == {
        people["Ani Setuju"].id, people["Dedi Diam"].id}
    for bad in ("setia, lama", "x" * 61, "tanda!seru"):
        with pytest.raises(broadcasts.ValidationFailed) as refused:
            broadcasts.create_broadcast(session, tenant_a.principal(), {
                "channel_id": str(channel.id), "name": "Setia", "body": "Halo", "segment_tag": bad})
        assert "segment_tag" in refused.value.errors


def test_a_queued_broadcast_message_goes_out_through_the_outbox(session, database, tenant_a, fake):
    channel = telegram_channel(session, tenant_a, fake.token)
    ani = chat_customer(session, channel, 9201, "Ani Setuju")
    consent(session, ani, TG)
    draft = broadcasts.create_broadcast(session, tenant_a.principal(), {"channel_id": str(channel.id),
                                                                        "name": "Promo", "body": "Promo kopi"})
    broadcasts.send_broadcast(session, tenant_a.principal(), draft, "https://niaga.example")
    session.commit()
    message = session.scalar(select(Message).where(Message.broadcast_id == draft.id))
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    assert [(s["chat_id"], s["text"]) for s in fake.sent()] == [(9201, "Promo kopi")]


def test_bad_drafts_are_refused_with_reasons(session, tenant_a, tenant_b):
    channel = telegram_channel(session, tenant_a)
    foreign = telegram_channel(session, tenant_b)
    whatsapp = service.create_channel(session, tenant_a.principal(), kind="whatsapp", name="WA Toko",
                                      account_ref="1000200030004")
    owner = tenant_a.principal()
    cases = [
        ({"channel_id": str(foreign.id), "name": "x", "body": "x"}, "channel_id"),
        ({"channel_id": "bukan-id", "name": "x", "body": "x"}, "channel_id"),
        ({"channel_id": str(channel.id), "name": "", "body": "x"}, "name"),
        ({"channel_id": str(channel.id), "name": "x", "body": "  "}, "body"),
        ({"channel_id": str(channel.id), "name": "x", "body": "x" * 5000}, "body"),
        ({"channel_id": str(whatsapp.id), "name": "x", "body": "Promo bebas"}, "template"),
        ({"channel_id": str(whatsapp.id), "name": "x", "template": {"name": ""}}, "template"),
    ]
    for data, field in cases:
        with pytest.raises(broadcasts.ValidationFailed) as refused:
            broadcasts.create_broadcast(session, owner, data)
        assert field in refused.value.errors, data
    assert session.scalars(select(Broadcast).where(Broadcast.tenant_id == tenant_a.id)).all() == []


# -- email: unsubscribe links ---------------------------------------------------------------------------------
def email_customer(session, tenant, email: str, name: str) -> Contact:
    channel = session.scalar(select(Channel).where(Channel.tenant_id == tenant.id, Channel.kind == "email"))
    message = ingest.receive_message(session, channel, InboundMessage(
        provider_message_id=f"<{name.replace(' ', '.')}@mail.example>", sender_id=email, sender_email=email,
        at=utcnow() - timedelta(days=1), text="Tanya harga", sender_name=name, thread_ref=f"<{name}@mail.example>"))
    conversation = session.get(Conversation, (tenant.id, message.conversation_id))
    return session.get(Contact, (tenant.id, conversation.contact_id))


def email_broadcast(session, tenant, name: str = "Katalog Baru") -> tuple[Broadcast, Message | None, str | None]:
    draft = broadcasts.create_broadcast(session, tenant.principal(), {
        "channel_id": str(session.scalar(select(Channel.id).where(Channel.tenant_id == tenant.id,
                                                                  Channel.kind == "email"))),
        "name": name, "body": "Katalog baru sudah terbit.", "email_subject": "Katalog Desember"})
    broadcasts.send_broadcast(session, tenant.principal(), draft, "http://testserver")
    session.commit()
    message = session.scalar(select(Message).where(Message.broadcast_id == draft.id))
    return draft, message, message.content["extra"]["list_unsubscribe"] if message is not None else None


@pytest.fixture
def subscribed(session, tenant_a):
    email_channel(session, tenant_a)
    sari = email_customer(session, tenant_a, "sari@pelanggan.example", "Sari Pelanggan")
    consent(session, sari, EMAIL)
    session.commit()
    return sari


def test_email_broadcast_carries_a_working_unsubscribe_link(client, session, tenant_a, subscribed):
    _draft, message, url = email_broadcast(session, tenant_a)
    assert re.fullmatch(r"http://testserver/unsubscribe/[A-Za-z0-9_-]{40,}", url)
    assert url in message.body and message.body.startswith("Katalog baru sudah terbit.")
    conversation = session.get(Conversation, (tenant_a.id, message.conversation_id))
    assert conversation.topic == "Katalog Desember" and conversation.status == "resolved"
    token = url.rsplit("/", 1)[1]
    assert session.scalar(select(UnsubscribeToken.token_hash)) == broadcasts.token_digest(token)

    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and 'data-testid="unsubscribe-form"' in page.text
    assert "Toko Sinar Abadi" in page.text and "sari@" not in page.text and "Sari" not in page.text
    session.expire_all()
    assert current_consents(session, tenant_a.id, subscribed.subject_id)[EMAIL].granted  # a GET changes nothing

    done = client.post(f"/unsubscribe/{token}", data={})
    assert done.status_code == 200 and 'data-testid="unsubscribe-done"' in done.text
    session.expire_all()
    state = current_consents(session, tenant_a.id, subscribed.subject_id)[EMAIL]
    assert not state.granted and state.method == "form"
    assert client.post(f"/unsubscribe/{token}", data={}).status_code == 200  # again: still done, no new event
    again, _message, _url = email_broadcast(session, tenant_a, "Katalog Januari")
    assert outcomes(session, again) == {"Sari Pelanggan": ("skipped", "withdrawn")}


def test_one_click_unsubscribe_from_the_mail_client(client, session, tenant_a, subscribed):
    _draft, _message, url = email_broadcast(session, tenant_a)
    resp = client.post(url.replace("http://testserver", ""), data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    from niaga.privacy.consent import proof_of_consent

    session.expire_all()
    last = proof_of_consent(session, tenant_a.id, subscribed.subject_id)[-1]
    assert last["granted"] is False and last["evidence"]["one_click"] is True and last["recorded_by"] == "subject"


def test_bad_expired_and_erased_links_are_a_clear_404(client, session, tenant_a, subscribed):
    _draft, _message, url = email_broadcast(session, tenant_a)
    token = url.rsplit("/", 1)[1]
    for bad in ["x", "a" * 43, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "a" * 500]:
        for resp in (client.get(f"/unsubscribe/{bad}"), client.post(f"/unsubscribe/{bad}", data={})):
            assert resp.status_code == 404 and 'data-testid="unsubscribe-invalid"' in resp.text
            assert "Toko Sinar Abadi" not in resp.text
    row = session.scalar(select(UnsubscribeToken))
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    assert client.post(f"/unsubscribe/{token}", data={}).status_code == 404
    session.expire_all()
    assert current_consents(session, tenant_a.id, subscribed.subject_id)[EMAIL].granted


def test_a_link_only_ever_touches_its_own_business(client, session, tenant_a, tenant_b, subscribed):
    email_channel(session, tenant_b)
    same_person_at_b = email_customer(session, tenant_b, "sari@pelanggan.example", "Sari di Warung")
    consent(session, same_person_at_b, EMAIL)
    session.commit()
    _draft, _message, url_b = email_broadcast(session, tenant_b)
    resp = client.post(url_b.replace("http://testserver", ""), data={})
    assert resp.status_code == 200 and "Warung Bu Tini" in resp.text and "Toko Sinar Abadi" not in resp.text
    session.expire_all()
    assert not current_consents(session, tenant_b.id, same_person_at_b.subject_id)[EMAIL].granted
    assert current_consents(session, tenant_a.id, subscribed.subject_id)[EMAIL].granted


def test_erased_person_link_is_404(client, session, tenant_a, subscribed):
    _draft, _message, url = email_broadcast(session, tenant_a)
    subject = session.get(DataSubject, (tenant_a.id, subscribed.subject_id))
    subject.key_wrapped = None  # what erasure leaves: the key is gone
    session.commit()
    assert client.get(url.replace("http://testserver", "")).status_code == 404


# -- pages and API ----------------------------------------------------------------------------------------------
def test_api_create_send_and_read_with_reasons(client, session, tenant_a, audience):
    channel, people = audience
    headers = bearer(api_token(session, tenant_a.owner))
    created = client.post("/api/v1/broadcasts", json={"channel_id": str(channel.id), "name": "Promo API",
                                                      "body": "Halo dari API"}, headers=headers)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    broadcast_id = created.json()["id"]
    sent = client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=headers)
    assert sent.status_code == 200
    reasons = {r["contact_id"]: r["reason"] for r in sent.json()["recipients"]}
    assert reasons[str(people["Budi Berhenti"].id)] == "withdrawn"
    assert reasons[str(people["Ani Setuju"].id)] == "ok"
    assert client.post(f"/api/v1/broadcasts/{broadcast_id}/send", headers=headers).status_code == 409
    assert client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=headers).json()["skipped_count"] == 4
    assert [b["id"] for b in client.get("/api/v1/broadcasts", headers=headers).json()] == [broadcast_id]
    bad = client.post("/api/v1/broadcasts", json={"channel_id": str(channel.id), "name": "x", "body": ""},
                      headers=headers)
    assert bad.status_code == 422
    assert client.post("/api/v1/broadcasts", json={"channel_id": str(channel.id), "name": "x", "body": "y",
                                                    "sneaky": 1}, headers=headers).status_code == 422


def test_api_roles_and_other_tenants(client, session, tenant_a, tenant_b, audience):
    channel, _people = audience
    draft = broadcasts.create_broadcast(session, tenant_a.principal(), {"channel_id": str(channel.id),
                                                                        "name": "Rahasia", "body": "Promo rahasia"})
    session.commit()
    agent = tenant_a.add_staff(session, Role.AGENT)
    manager = tenant_a.add_staff(session, Role.MANAGER)
    session.commit()
    body = {"channel_id": str(channel.id), "name": "x", "body": "y"}
    assert client.post("/api/v1/broadcasts", json=body, headers=bearer(api_token(session, agent))).status_code == 403
    assert client.post(f"/api/v1/broadcasts/{draft.id}/send",
                       headers=bearer(api_token(session, agent))).status_code == 403
    assert client.post("/api/v1/broadcasts", json=body,
                       headers=bearer(api_token(session, manager))).status_code == 201
    outsider = bearer(api_token(session, tenant_b.owner))
    assert client.get(f"/api/v1/broadcasts/{draft.id}", headers=outsider).status_code == 404
    assert client.post(f"/api/v1/broadcasts/{draft.id}/send", headers=outsider).status_code == 404
    assert client.post("/api/v1/broadcasts", json=body, headers=outsider).status_code == 422  # not their channel
    session.expire_all()
    assert session.get(Broadcast, (tenant_a.id, draft.id)).status == "draft"


def test_pages_preview_send_and_show_reasons(client, session, tenant_a, audience, settings):
    channel, _people = audience
    csrf = browser_login(client, session, tenant_a.owner, settings)
    page = client.get("/inbox/broadcasts")
    assert page.status_code == 200 and 'data-testid="broadcast-form"' in page.text
    refused = client.post("/inbox/broadcasts", data={"csrf_token": csrf, "channel_id": str(channel.id), "name": "",
                                                     "body": "x"})
    assert refused.status_code == 422 and 'id="e-name"' in refused.text
    created = client.post("/inbox/broadcasts", data={"csrf_token": csrf, "channel_id": str(channel.id),
                                                     "name": "Promo Halaman", "body": "Diskon"},
                          follow_redirects=False)
    assert created.status_code == 303
    detail = client.get(created.headers["location"])
    assert 'data-testid="broadcast-preview"' in detail.text and "2" in detail.text
    sent = client.post(created.headers["location"] + "/send", data={"csrf_token": csrf}, follow_redirects=True)
    assert sent.status_code == 200 and 'data-reason="withdrawn"' in sent.text and "Budi Berhenti" in sent.text
    assert 'data-reason="child-no-guardian"' in sent.text
    again = client.post(created.headers["location"] + "/send", data={"csrf_token": csrf})
    assert again.status_code == 409 and 'data-testid="broadcast-error"' in again.text

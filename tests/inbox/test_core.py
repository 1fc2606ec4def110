"""The inbox pipeline every channel shares, driven through a minimal test adapter.

Verify before storing, store before acknowledging, deduplicate on the provider id, one contact and one
conversation per new sender, media stored before an event counts as done, statuses only forward, and the
outbox's retries, backoff and failures. Each channel's own tests cover its wire format.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from niaga.crm.models import Contact
from niaga.db.base import utcnow
from niaga.inbox import adapters, ingest, outbox, service, tasks
from niaga.inbox.adapters import (
    DeliveryEvent, InboundMessage, MalformedDelivery, MediaRef, PermanentFailure, SendResult, StatusUpdate,
    TemporaryFailure,
)
from niaga.inbox.models import Attachment, Conversation, InboundEvent, Message
from niaga.privacy.audit import Actor
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import ERASED

SECRET = "rahasia-uji"


class RecordingAdapter:
    """A channel whose wire format is a signed JSON list; sends and downloads are scripted per test."""

    kind = "webchat"

    def __init__(self) -> None:
        self.sent: list[adapters.OutboundRequest] = []
        self.send_outcomes: list[object] = []
        self.media_outcomes: list[object] = []

    def verify(self, channel, secrets, headers, body):  # noqa: ANN001, ANN201
        expected = hmac.new(secrets["secret"].encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("x-signature", ""), expected)

    def split(self, channel, body):  # noqa: ANN001, ANN201
        try:
            events = json.loads(body)
            return [DeliveryEvent(e["id"], json.dumps(e).encode()) for e in events]
        except (ValueError, KeyError, TypeError):
            raise MalformedDelivery("not a list of events") from None

    def parse(self, channel, payload):  # noqa: ANN001, ANN201
        e = json.loads(payload)
        at = datetime.fromtimestamp(e.get("ts", 1_790_000_000), timezone.utc)
        if "status" in e:
            return [StatusUpdate(e["of"], e["status"], at, e.get("code", ""), e.get("reason", ""))]
        media = [MediaRef(m, "image/png", "foto.png") for m in e.get("media", [])]
        return [InboundMessage(e["id"], e["from"], at, text=e.get("text"), sender_name=e.get("name"), media=media)]

    def fetch_media(self, channel, secrets, media):  # noqa: ANN001, ANN201
        outcome = self.media_outcomes.pop(0) if self.media_outcomes else PNG
        if isinstance(outcome, Exception):
            raise outcome
        return outcome, "image/png", "foto.png"

    def send(self, channel, secrets, request):  # noqa: ANN001, ANN201
        self.sent.append(request)
        outcome = self.send_outcomes.pop(0) if self.send_outcomes else SendResult(f"prov-{len(self.sent)}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def adapter(monkeypatch):  # noqa: ANN001, ANN201
    fake = RecordingAdapter()
    monkeypatch.setitem(adapters.ADAPTERS, "webchat", fake)
    return fake


@pytest.fixture
def channel(session, tenant_a, adapter):  # noqa: ANN001, ANN201
    made = service.create_channel(session, tenant_a.principal(), kind="webchat", name="Chat situs",
                                  secrets={"secret": SECRET})
    session.commit()
    return made


def deliver(client, channel, events, secret=SECRET):  # noqa: ANN001, ANN201
    body = json.dumps(events).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(service.webhook_path(channel), content=body, headers={"x-signature": signature})


def process_all(database, tenant_id):  # noqa: ANN001, ANN201
    with database.transaction() as s:
        ids = list(s.scalars(select(InboundEvent.id).where(InboundEvent.tenant_id == tenant_id,
                                                          InboundEvent.status == "pending")))
    return [tasks.run_inbound(database, tenant_id, event_id) for event_id in ids]


def count(session, model, tenant_id, *where):  # noqa: ANN001, ANN201
    return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where))


def test_a_forged_or_missing_signature_is_refused_and_nothing_is_stored(client, session, channel):  # noqa: ANN001
    events = [{"id": "m1", "from": "v1", "text": "Halo kak"}]
    assert deliver(client, channel, events, secret="salah").status_code == 401
    body = json.dumps(events).encode()
    assert client.post(service.webhook_path(channel), content=body).status_code == 401
    assert count(session, InboundEvent, channel.tenant_id) == 0


def test_unknown_channel_key_and_wrong_kind_get_404(client, channel):  # noqa: ANN001
    assert client.post("/webhooks/webchat/" + "x" * 32, content=b"[]").status_code == 404
    assert client.post(f"/webhooks/telegram/{channel.webhook_key}", content=b"[]").status_code == 404
    assert client.post("/webhooks/nosuchkind/abc", content=b"[]").status_code == 404


def test_malformed_body_gets_400_and_stores_nothing(client, session, channel):  # noqa: ANN001
    body = b"{not json"
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(service.webhook_path(channel), content=body, headers={"x-signature": signature})
    assert response.status_code == 400 and response.json()["type"] == "malformed-delivery"
    assert "kiriman" in response.json()["detail"]  # explained in the default language, Indonesian
    assert count(session, InboundEvent, channel.tenant_id) == 0


def test_an_oversized_delivery_gets_413(client, channel, settings):  # noqa: ANN001
    events = [{"id": "big", "from": "v1", "text": "x" * (settings.max_body_bytes + 10)}]
    assert deliver(client, channel, events).status_code == 413


def test_a_delivery_is_stored_sealed_then_processed_into_contact_conversation_and_message(
        client, session, database, channel):  # noqa: ANN001
    response = deliver(client, channel, [{"id": "m1", "from": "v-77", "name": "Dewi Lestari", "text": "Stok ada?"}])
    assert response.status_code == 200 and response.json()["stored"] == 1
    event = session.scalar(select(InboundEvent).where(InboundEvent.tenant_id == channel.tenant_id))
    assert b"Stok ada" not in event.payload_sealed and b"Dewi" not in event.payload_sealed
    assert process_all(database, channel.tenant_id) == ["done"]
    session.expire_all()
    message = session.scalar(select(Message).where(Message.tenant_id == channel.tenant_id))
    conversation = session.get(Conversation, (channel.tenant_id, message.conversation_id))
    contact = session.get(Contact, (channel.tenant_id, conversation.contact_id))
    assert (message.body, message.direction, contact.full_name, contact.source) == (
        "Stok ada?", "in", "Dewi Lestari", "webchat")
    assert conversation.unread_count == 1 and conversation.status == "open"
    assert session.get(InboundEvent, (event.tenant_id, event.id)).payload_sealed is None


def test_a_redelivered_event_is_stored_once(client, session, database, channel):  # noqa: ANN001
    events = [{"id": "m1", "from": "v-1", "text": "Halo"}]
    answers = [deliver(client, channel, events).json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [1, 0, 0] and answers[2]["duplicates"] == 1
    process_all(database, channel.tenant_id)
    assert count(session, Message, channel.tenant_id) == 1


def test_a_burst_from_a_new_sender_makes_one_contact_and_one_conversation(client, session, database, channel):  # noqa: ANN001
    for n in range(5):
        deliver(client, channel, [{"id": f"m{n}", "from": "v-new", "name": "Andi", "text": f"pesan {n}"}])
    process_all(database, channel.tenant_id)
    assert count(session, Contact, channel.tenant_id, Contact.source == "webchat") == 1
    assert count(session, Conversation, channel.tenant_id) == 1
    assert count(session, Message, channel.tenant_id) == 5


def test_an_event_with_media_is_done_only_after_the_file_is_stored(client, session, database, channel, adapter):  # noqa: ANN001
    adapter.media_outcomes = [TemporaryFailure("provider 503")]
    deliver(client, channel, [{"id": "m1", "from": "v-1", "text": "lihat foto", "media": ["media-1"]}])
    with pytest.raises(TemporaryFailure):
        process_all(database, channel.tenant_id)
    session.expire_all()
    event = session.scalar(select(InboundEvent).where(InboundEvent.tenant_id == channel.tenant_id))
    assert (event.status, event.attempts, count(session, Message, channel.tenant_id)) == ("pending", 1, 0)
    assert process_all(database, channel.tenant_id) == ["done"]  # the retry stores message and file
    session.expire_all()
    attachment = session.scalar(select(Attachment).where(Attachment.tenant_id == channel.tenant_id))
    assert attachment.status == "stored" and attachment.file_id is not None and attachment.size == len(PNG)
    assert count(session, Message, channel.tenant_id) == 1


def test_a_file_the_provider_no_longer_has_is_marked_failed_and_the_message_kept(
        client, session, database, channel, adapter):  # noqa: ANN001
    adapter.media_outcomes = [PermanentFailure("media expired", "404")]
    deliver(client, channel, [{"id": "m1", "from": "v-1", "text": "foto", "media": ["media-1"]}])
    assert process_all(database, channel.tenant_id) == ["done"]
    attachment = session.scalar(select(Attachment).where(Attachment.tenant_id == channel.tenant_id))
    assert (attachment.status, attachment.failure_reason) == ("failed", "media expired")


@pytest.fixture
def conversation(client, session, database, channel):  # noqa: ANN001, ANN201
    deliver(client, channel, [{"id": "m1", "from": "v-9", "name": "Rudi", "text": "Halo"}])
    process_all(database, channel.tenant_id)
    return session.scalar(select(Conversation).where(Conversation.tenant_id == channel.tenant_id))


def test_a_reply_is_sent_after_commit_with_the_provider_id_recorded(session, database, tenant_a, conversation,
                                                                     adapter):  # noqa: ANN001
    message = outbox.queue_message(session, tenant_a.principal(), conversation, text="Ada kak")
    session.commit()
    assert message.status == "queued" and conversation.first_reply_at is not None
    assert tasks.run_delivery(database, conversation.tenant_id, message.id) == "sent"
    session.expire_all()
    sent = session.get(Message, (message.tenant_id, message.id))
    assert (sent.status, sent.provider_message_id, sent.attempts) == ("sent", "prov-1", 1)
    assert adapter.sent[0].to == "v-9" and adapter.sent[0].text == "Ada kak"
    assert tasks.run_delivery(database, conversation.tenant_id, message.id) == "skipped"  # never twice
    assert len(adapter.sent) == 1


def test_a_rate_limited_send_is_retried_after_retry_after_then_fails_for_good(session, database, tenant_a,
                                                                               conversation, adapter):  # noqa: ANN001
    adapter.send_outcomes = [TemporaryFailure("429 too many", retry_after=120)]
    message = outbox.queue_message(session, tenant_a.principal(), conversation, text="Ada kak")
    session.commit()
    assert tasks.run_delivery(database, conversation.tenant_id, message.id) == "queued"
    session.expire_all()
    queued = session.get(Message, (message.tenant_id, message.id))
    assert queued.next_attempt_at >= utcnow() + timedelta(seconds=110)
    assert tasks.run_delivery(database, conversation.tenant_id, message.id) == "skipped"  # not due yet
    with database.transaction() as s:
        s.get(Message, (message.tenant_id, message.id)).next_attempt_at = utcnow()
    adapter.send_outcomes = [PermanentFailure("Recipient blocked the business", "131026")]
    assert tasks.run_delivery(database, conversation.tenant_id, message.id) == "failed"
    session.expire_all()
    failed = session.get(Message, (message.tenant_id, message.id))
    assert (failed.failure_code, failed.failure_reason) == ("131026", "Recipient blocked the business")


def test_a_message_that_keeps_failing_temporarily_gives_up_with_the_reason(session, database, tenant_a, conversation,
                                                                            adapter):  # noqa: ANN001
    message = outbox.queue_message(session, tenant_a.principal(), conversation, text="Ada kak")
    session.commit()
    for _ in range(outbox.MAX_SEND_ATTEMPTS):
        adapter.send_outcomes = [TemporaryFailure("503 from provider")]
        with database.transaction() as s:
            s.get(Message, (message.tenant_id, message.id)).next_attempt_at = utcnow()
        status = tasks.run_delivery(database, conversation.tenant_id, message.id)
    session.expire_all()
    assert status == "failed"
    assert session.get(Message, (message.tenant_id, message.id)).failure_reason == "503 from provider"


def test_notes_are_never_sent(session, database, tenant_a, conversation, adapter):  # noqa: ANN001
    note = outbox.queue_message(session, tenant_a.principal(), conversation, text="pelanggan VIP", private=True)
    session.commit()
    assert tasks.run_delivery(database, conversation.tenant_id, note.id) == "skipped"
    assert adapter.sent == []


def test_statuses_only_move_forward_and_failed_keeps_its_reason(client, session, database, tenant_a, channel,
                                                                conversation, adapter):  # noqa: ANN001
    message = outbox.queue_message(session, tenant_a.principal(), conversation, text="Ada kak")
    session.commit()
    tasks.run_delivery(database, channel.tenant_id, message.id)
    deliver(client, channel, [{"id": "s1", "of": "prov-1", "status": "read"},
                              {"id": "s2", "of": "prov-1", "status": "delivered"}])
    process_all(database, channel.tenant_id)
    session.expire_all()
    assert session.get(Message, (message.tenant_id, message.id)).status == "read"
    deliver(client, channel, [{"id": "s3", "of": "prov-1", "status": "failed", "code": "131047",
                               "reason": "Re-engagement message"},
                              {"id": "s4", "of": "prov-1", "status": "read"}])
    process_all(database, channel.tenant_id)
    session.expire_all()
    final = session.get(Message, (message.tenant_id, message.id))
    assert (final.status, final.failure_code, final.failure_reason) == ("failed", "131047", "Re-engagement message")


def test_whatsapp_free_text_outside_24_hours_is_refused_but_a_template_is_allowed(session, tenant_a, conversation):  # noqa: ANN001
    conversation.last_inbound_at = utcnow() - timedelta(hours=25)
    from niaga.inbox.models import Channel

    session.get(Channel, (conversation.tenant_id, conversation.channel_id)).kind = "whatsapp"
    with pytest.raises(outbox.OutsideReplyWindow):
        outbox.queue_message(session, tenant_a.principal(), conversation, text="Halo lagi")
    message = outbox.queue_message(session, tenant_a.principal(), conversation, text=None,
                                   template={"name": "promo_akhir_tahun", "language": "id", "parameters": ["Rudi"]})
    assert (message.status, message.template) == ("queued", "promo_akhir_tahun")


def test_another_tenants_channel_key_cannot_write_into_this_tenant(client, session, database, channel, tenant_b,
                                                                   adapter):  # noqa: ANN001
    theirs = service.create_channel(session, tenant_b.principal(), kind="webchat", name="Chat B",
                                    secrets={"secret": "rahasia-b"})
    session.commit()
    deliver(client, theirs, [{"id": "m1", "from": "v-1", "text": "halo B"}], secret="rahasia-b")
    assert count(session, InboundEvent, channel.tenant_id) == 0
    assert count(session, InboundEvent, tenant_b.id) == 1


def test_erasing_the_contact_makes_the_conversation_read_as_erased(session, conversation):  # noqa: ANN001
    message = session.scalar(select(Message).where(Message.tenant_id == conversation.tenant_id))
    contact = session.get(Contact, (conversation.tenant_id, conversation.contact_id))
    erase_subject(session, conversation.tenant_id, contact.subject_id, Actor.system(), reason="test")
    session.commit()
    session.expire_all()
    assert session.get(Message, (message.tenant_id, message.id)).body is ERASED


def test_merging_two_contacts_joins_their_conversations_on_the_same_channel(client, session, database, tenant_a,
                                                                           channel):  # noqa: ANN001
    from niaga.crm.contacts.merge import merge_contacts

    deliver(client, channel, [{"id": "a1", "from": "v-a", "name": "Siti", "text": "dari ponsel"}])
    deliver(client, channel, [{"id": "b1", "from": "v-b", "name": "Siti N", "text": "dari laptop"}])
    process_all(database, channel.tenant_id)
    first, second = session.scalars(select(Conversation).where(Conversation.tenant_id == channel.tenant_id)
                                    .order_by(Conversation.created_at)).all()
    merge_contacts(session, tenant_a.principal(), first.contact_id, second.contact_id)
    session.commit()
    session.expire_all()
    remaining = session.scalars(select(Conversation).where(Conversation.tenant_id == channel.tenant_id)).all()
    assert [c.id for c in remaining] == [first.id]
    bodies = sorted(m.body for m in session.scalars(select(Message).where(Message.conversation_id == first.id)))
    assert bodies == ["dari laptop", "dari ponsel"]


def test_an_event_that_keeps_failing_is_marked_failed_and_its_payload_purged_after_a_week(
        client, session, database, channel, adapter):  # noqa: ANN001
    adapter.media_outcomes = [TemporaryFailure("provider down")] * ingest.MAX_ATTEMPTS
    deliver(client, channel, [{"id": "m1", "from": "v-1", "text": "foto", "media": ["media-1"]}])
    for _ in range(ingest.MAX_ATTEMPTS):
        with pytest.raises(TemporaryFailure):
            process_all(database, channel.tenant_id)
    session.expire_all()
    event = session.scalar(select(InboundEvent).where(InboundEvent.tenant_id == channel.tenant_id))
    assert (event.status, event.last_error, event.payload_sealed is not None) == ("failed", "provider down", True)
    assert process_all(database, channel.tenant_id) == []  # no longer retried
    assert ingest.purge_failed_payloads(session) == 0  # kept a week for staff to look into
    event.received_at = utcnow() - timedelta(days=8)
    session.flush()
    assert ingest.purge_failed_payloads(session) == 1
    session.refresh(event)
    assert event.payload_sealed is None


def test_the_inventory_lists_raw_deliveries_as_transient_communication_data():
    from niaga.privacy.inventory import build_inventory

    rows = [r for r in build_inventory() if (r.table, r.column) == ("inbound_events", "payload_sealed")]
    assert len(rows) == 1 and rows[0].category == "communication" and rows[0].retention == "transient"


def test_a_status_that_overtakes_its_send_is_retried_until_the_id_is_recorded(client, session, database, tenant_a,
                                                                              channel, conversation, adapter):  # noqa: ANN001
    message = outbox.queue_message(session, tenant_a.principal(), conversation, text="Ada kak")
    session.commit()
    with database.transaction() as s:
        attempt = outbox.begin_attempt(s, channel.tenant_id, message.id)  # claimed; the provider answers late
    deliver(client, channel, [{"id": "s1", "of": "prov-1", "status": "delivered"}])
    with pytest.raises(TemporaryFailure):
        process_all(database, channel.tenant_id)
    with database.transaction() as s:
        outbox.finish_attempt(s, attempt, outbox.send(attempt))
    assert process_all(database, channel.tenant_id) == ["done"]
    session.expire_all()
    assert session.get(Message, (message.tenant_id, message.id)).status == "delivered"
    deliver(client, channel, [{"id": "s2", "of": "sent-from-another-app", "status": "read"}])
    assert process_all(database, channel.tenant_id) == ["ignored"]  # nothing in flight: not ours, let go

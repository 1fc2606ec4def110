"""Privacy-center codes by WhatsApp: an approved template to the number on file, masked once sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from niaga.crm.contacts import service as contacts
from niaga.inbox import privacy_codes
from niaga.inbox.channels import whatsapp
from niaga.inbox.models import Message
from niaga.inbox.tasks import run_delivery
from niaga.kit.mail import SmtpServer
from niaga.privacy.requests import otp, service as requests
from niaga.privacy.requests.notices import Mailer
from tests.support.fake_meta import APP_SECRET, TOKEN, fake_meta, meta_api  # noqa: F401 - fixtures

PHONE_ID = "106540352242922"
WABA = "102290129340398"


@pytest.fixture
def graph(meta_api):  # noqa: ANN001, ANN201, F811
    meta_api.phone_numbers.add(PHONE_ID)
    meta_api.add_template(WABA, "kode_privasi", "id", "Kode verifikasi Anda: {{1}}")
    return meta_api


@pytest.fixture(autouse=True)
def _inbox_sends_codes():  # noqa: ANN202
    """What importing the app does (other tests swap the sender for fakes and put back none)."""
    previous = (otp._whatsapp_sender, otp._whatsapp_ready)
    otp.register_whatsapp_sender(privacy_codes.send_code_by_whatsapp, privacy_codes.code_is_ready)
    yield
    otp.register_whatsapp_sender(*previous)


@pytest.fixture
def mailer(tmp_path):  # noqa: ANN001, ANN201
    return Mailer(SmtpServer(host="", outbox_dir=tmp_path / "outbox"), "niaga <no-reply@niaga.example>",
                  "http://testserver")


@pytest.fixture
def customer(session, tenant_a):  # noqa: ANN001, ANN201
    contact = contacts.create_contact(session, tenant_a.principal(), {
        "full_name": "Dewi Lestari", "phones": ["0812-3456-7890"], "emails": ["dewi@pelanggan.example"]})
    session.commit()
    return contact


def make_channel(make_channel, session, tenant_a, otp_template=True):  # noqa: ANN001, ANN201
    config = {"waba_id": WABA}
    if otp_template:
        config["otp_template"] = {"name": "kode_privasi", "languages": {"id": "id", "en": "id"}}
    channel = make_channel("whatsapp", account_ref=PHONE_ID, config=config,
                           secrets={"app_secret": APP_SECRET, "access_token": TOKEN})
    whatsapp.sync_templates(session, tenant_a.principal(), channel, {"access_token": TOKEN})
    session.commit()
    return channel


def test_a_phone_on_file_gets_its_code_by_whatsapp_and_the_thread_keeps_it_masked(
        session, database, tenant_a, customer, graph, make_channel, mailer, tmp_path):  # noqa: ANN001
    channel = make_channel_for(make_channel, session, tenant_a)
    submission = requests.submit(session, tenant_a.tenant, kind="access", address="0812 3456 7890", details="",
                                 language="id", client=None, mailer=mailer)
    session.commit()
    assert submission.delivery.channel == "whatsapp" and submission.delivery.send is None
    assert otp.whatsapp_available(session, tenant_a.id)
    message = session.scalars(select(Message).where(Message.channel_id == channel.id)).one()
    assert message.content["template"]["name"] == "kode_privasi"
    code = message.content["template"]["parameters"][0]
    assert otp.code_matches(session, submission.request.id, submission.request.code_hash, code)
    assert run_delivery(database, tenant_a.id, message.id) == "sent"
    sent = graph.requests[-1].json
    assert sent["type"] == "template" and sent["to"] == "6281234567890"
    assert sent["template"]["components"][0]["parameters"][0]["text"] == code
    session.expire_all()
    kept = session.get(Message, (message.tenant_id, message.id))
    assert kept.content["template"]["parameters"] == ["••••••"]  # staff reading the thread see no live code
    assert not list((tmp_path / "outbox").glob("*.eml"))  # no email was sent as well


def test_without_a_code_template_the_code_goes_by_email_as_before(
        session, tenant_a, customer, graph, make_channel, mailer):  # noqa: ANN001
    make_channel_for(make_channel, session, tenant_a, otp_template=False)
    submission = requests.submit(session, tenant_a.tenant, kind="access", address="081234567890", details="",
                                 language="id", client=None, mailer=mailer)
    assert submission.delivery.channel == "email"
    assert session.scalars(select(Message)).all() == []
    assert not otp.whatsapp_available(session, tenant_a.id)  # the page keeps saying: codes go by email


def test_an_unknown_number_gets_no_message_at_all(session, tenant_a, graph, make_channel, mailer):  # noqa: ANN001
    make_channel_for(make_channel, session, tenant_a)
    submission = requests.submit(session, tenant_a.tenant, kind="deletion", address="0813 0000 1111", details="",
                                 language="id", client=None, mailer=mailer)
    assert submission.delivery.channel == "none"
    assert session.scalars(select(Message)).all() == []


make_channel_for = make_channel

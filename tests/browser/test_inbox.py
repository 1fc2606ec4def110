"""An agent in a real browser: a customer's WhatsApp message arrives through the signed webhook while the inbox
is open, appears without a reload, is answered, and the reply goes out to (a strict local fake of) the
WhatsApp Cloud API and shows as sent in the thread."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from niaga.identity.models import Tenant, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.inbox import service, tasks
from niaga.inbox.models import InboundEvent, Message
from niaga.web.i18n import gettext_for
from tests.browser.conftest import browser, context, live_server, page  # noqa: F401 - fixtures
from tests.browser.flows import sign_up, unique_email
from tests.support.fake_meta import (  # noqa: F401 - fake_meta and meta_api are fixtures
    APP_SECRET,
    TOKEN,
    encode,
    fake_meta,
    meta_api,
    sign,
    wa_delivery,
    wa_message,
)

pytestmark = pytest.mark.browser
ID = gettext_for("id")
PHONE_ID = "106540352242999"
CUSTOMER = "6281355500077"


def _connect_whatsapp(live_server, company: str):  # noqa: ANN001, ANN202, F811
    """The business's WhatsApp number, connected as the channel settings would leave it."""
    with live_server.database.transaction() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == company))
        owner = session.scalar(select(User).where(User.tenant_id == tenant.id))
        principal = Principal(tenant_id=tenant.id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                              permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
        channel = service.create_channel(session, principal, kind="whatsapp", name="WhatsApp Toko Kupang",
                                         account_ref=PHONE_ID,
                                         secrets={"app_secret": APP_SECRET, "access_token": TOKEN})
        return tenant.id, service.webhook_path(channel)


def _process_stored_events(live_server, tenant_id) -> None:  # noqa: ANN001, F811
    """What the worker does after the webhook's commit."""
    with live_server.database.transaction() as session:
        ids = list(session.scalars(select(InboundEvent.id).where(InboundEvent.tenant_id == tenant_id,
                                                                 InboundEvent.status == "pending")))
    assert ids
    for event_id in ids:
        assert tasks.run_inbound(live_server.database, tenant_id, event_id) == "done"


def test_a_whatsapp_message_appears_live_is_answered_and_sent(page, live_server, meta_api, tmp_path) -> None:  # noqa: ANN001, F811
    meta_api.phone_numbers.add(PHONE_ID)
    company = "Toko Kain Kupang"
    sign_up(page, company=company, name="Maria Fernandez", email=unique_email("maria"))  # WITA
    tenant_id, webhook = _connect_whatsapp(live_server, company)

    page.get_by_role("link", name=ID("Inbox")).first.click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.get_by_test_id("no-conversations")).to_be_visible()

    delivery = wa_delivery(PHONE_ID, names={CUSTOMER: "Yohanes Manurung"}, messages=[
        wa_message(CUSTOMER, "text", {"body": "Kain tenun ikat motif Sumba masih ada?"}, ts=int(time.time()))])
    body = encode(delivery)
    answer = httpx.post(f"{live_server.url}{webhook}", content=body, headers=sign(body))
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    _process_stored_events(live_server, tenant_id)

    # No reload: the page's script polls and the conversation shows up with its unread mark.
    row = page.get_by_test_id("conversation").filter(has_text="Yohanes Manurung")
    expect(row).to_be_visible(timeout=15_000)
    expect(row).to_contain_text("WITA")
    expect(row.get_by_test_id("unread")).to_have_text(re.compile(r"^1"))
    row.click()

    expect(page.get_by_test_id("thread")).to_contain_text("Kain tenun ikat motif Sumba masih ada?")
    expect(page.get_by_test_id("contact-card")).to_contain_text("0813-5550-0077")
    reply = page.get_by_test_id("reply-form")
    reply.get_by_label(ID("Reply"), exact=True).fill("Masih ada, Kak. Harganya Rp 450.000 per lembar.")
    reply.get_by_role("button", name=ID("Send")).click()
    outgoing = page.get_by_test_id("message-out")
    expect(outgoing).to_contain_text("Rp 450.000")
    expect(outgoing.get_by_test_id("message-status")).to_contain_text(ID("Waiting to be sent"))

    with live_server.database.transaction() as session:
        message = session.scalar(select(Message).where(Message.tenant_id == tenant_id, Message.direction == "out"))
    assert tasks.run_delivery(live_server.database, tenant_id, message.id) == "sent"
    sent = meta_api.sent()
    assert len(sent) == 1 and sent[0]["to"] == CUSTOMER
    assert sent[0]["text"]["body"] == "Masih ada, Kak. Harganya Rp 450.000 per lembar."

    # Again without a reload: the thread refreshes and the reply shows as sent.
    expect(outgoing.get_by_test_id("message-status")).to_contain_text(ID("Sent"), timeout=15_000)
    page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)

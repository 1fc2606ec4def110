"""A support agent in a real browser: open a ticket for a customer, answer it, resolve it."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from niaga.crm.service_desk import sla_settings
from niaga.crm.service_desk.models import Ticket
from niaga.identity.models import Tenant, User
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.web.i18n import gettext_for
from tests.browser.conftest import browser, context, live_server, page  # noqa: F401 - fixtures
from tests.browser.flows import sign_up, unique_email
from tests.crm.service_desk.helpers import make_contact

pytestmark = pytest.mark.browser
ID = gettext_for("id")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _customer_for(live_server, company: str) -> None:  # noqa: ANN001, F811
    """The business's first customer and its SLA targets, as the contacts work and the settings would leave them."""
    with live_server.database.transaction() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.name == company))
        owner = session.scalar(select(User).where(User.tenant_id == tenant.id))
        make_contact(session, SimpleNamespace(id=tenant.id, owner=owner), "Yohanes Manurung",
                     email="yohanes@pelanggan.example", phone="081355500077")
        principal = Principal(tenant_id=tenant.id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                              permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
        sla_settings.save_week(session, principal, {d: ("00:00", "24:00") for d in range(7)})
        sla_settings.save_default_policies(session, principal, {"high": ("60", "480")})


def test_an_agent_opens_answers_and_resolves_a_ticket(page, live_server, tmp_path) -> None:  # noqa: ANN001, F811
    company = "Toko Sepatu Kupang"
    sign_up(page, company=company, name="Maria Fernandez", email=unique_email("maria"))  # WITA, as signed up
    _customer_for(live_server, company)

    page.goto("/tickets/new")
    form = page.get_by_test_id("ticket-form")
    form.get_by_label(ID("Customer")).fill("0813-5550-0077")  # the customer's phone, typed the local way
    form.get_by_label(ID("Subject")).fill("Sepatu kebesaran, minta tukar")
    form.get_by_label(ID("Description")).fill("Ukuran 43 terlalu besar, mohon ditukar ukuran 42.")
    form.get_by_label(ID("Priority")).select_option(label=ID("High"))
    form.get_by_label(ID("Came in through")).select_option(label="WhatsApp")
    form.get_by_role("button", name=ID("Open ticket")).click()

    expect(page).to_have_url(re.compile(r"/tickets/[0-9a-f-]{36}\?saved=1$"))
    expect(page.get_by_test_id("ticket-title")).to_have_text("#1001 Sepatu kebesaran, minta tukar")
    expect(page.get_by_test_id("ticket-status")).to_have_text(ID("New"))
    response_clock = page.get_by_test_id("clock-response")
    expect(response_clock).to_contain_text(ID("Running"))
    expect(page.get_by_test_id("due-response")).to_contain_text("WITA")  # the business's zone, not the browser's

    reply = page.get_by_test_id("reply-form")
    reply.get_by_label(ID("Message")).fill("Baik Kak, silakan kirim sepatunya, ukuran 42 kami siapkan.")
    reply.get_by_role("button", name=ID("Send")).click()
    expect(page.get_by_test_id("thread")).to_contain_text("ukuran 42 kami siapkan")
    expect(page.get_by_test_id("first-response")).to_be_visible()
    expect(response_clock).to_contain_text(ID("Met"))
    expect(page.get_by_test_id("ticket-status")).to_have_text(ID("Open"))

    page.get_by_test_id("set-resolved").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text(ID("Resolved"))
    expect(page.get_by_test_id("clock-resolution")).to_contain_text(ID("Met"))
    page.screenshot(path=str(tmp_path / "ticket.png"), full_page=True)

    with live_server.database.transaction() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == 1001).order_by(Ticket.created_at.desc()))
        assert ticket.status == "resolved" and ticket.first_responded_at is not None and ticket.resolved_at
        assert ticket.channel == "whatsapp" and ticket.priority == "high"

    page.get_by_role("link", name=ID("Tickets")).first.click()
    expect(page.get_by_test_id("no-tickets")).to_be_visible()  # resolved tickets leave the active list
    page.get_by_label(ID("Status")).select_option("all")
    page.get_by_role("button", name=ID("Show")).click()
    expect(page.get_by_test_id("ticket-list")).to_contain_text("Sepatu kebesaran, minta tukar")


def test_the_ticket_page_fits_a_phone(browser, live_server, tmp_path) -> None:  # noqa: ANN001, F811
    ctx = browser.new_context(base_url=live_server.url, locale="id-ID", **PHONE)
    try:
        page = ctx.new_page()
        company = "Toko Tas Ambon"
        sign_up(page, company=company, name="Nona Latuconsina", email=unique_email("nona"))
        _customer_for(live_server, company)
        page.goto("/tickets/new")
        form = page.get_by_test_id("ticket-form")
        form.get_by_label(ID("Customer")).fill("yohanes@pelanggan.example")
        form.get_by_label(ID("Subject")).fill("Tanya garansi")
        form.get_by_role("button", name=ID("Open ticket")).click()
        expect(page.get_by_test_id("ticket-title")).to_contain_text("Tanya garansi")
        for path in (page.url, "/tickets", "/tasks", "/settings/sla", "/sla/report"):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        page.screenshot(path=str(tmp_path / "phone-report.png"), full_page=True)
    finally:
        ctx.close()

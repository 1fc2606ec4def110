"""A business owner in a real browser: create a contact with the form, then find it by phone, typed another way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from niaga.web.i18n import gettext_for
from tests.browser.conftest import browser, context, live_server, page  # noqa: F401 - fixtures
from tests.browser.flows import sign_up, unique_email

pytestmark = pytest.mark.browser
ID = gettext_for("id")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _fits_the_screen(page) -> bool:  # noqa: ANN001, F811
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_create_a_contact_and_find_it_by_phone(browser, page, live_server, tmp_path) -> None:  # noqa: ANN001, F811
    sign_up(page, company="Toko Kain Ratna", name="Ratna Sari", email=unique_email("ratna"))
    page.goto("/contacts")
    page.get_by_test_id("new-contact").click()
    expect(page.get_by_role("heading", name=ID("New contact"))).to_be_visible()
    form = page.get_by_test_id("contact-form")
    form.get_by_label(ID("Name"), exact=True).fill("Yohanes Manurung")
    form.get_by_label(ID("Emails")).fill("yohanes@pelanggan.example")
    form.get_by_label(ID("Phones")).fill("0813-5550-0077")
    form.get_by_label(ID("Position")).fill("Pemilik butik")
    form.get_by_label(ID("Tags")).fill("vip, grosir")
    form.get_by_role("button", name=ID("Create contact")).click()
    expect(page).to_have_url(re.compile(r"/contacts/[0-9a-f-]{36}\?saved=1$"))
    expect(page.get_by_test_id("contact-name")).to_have_text("Yohanes Manurung")
    facts = page.get_by_test_id("contact-facts")
    expect(facts).to_contain_text("0813-5550-0077")
    expect(facts).to_contain_text("yohanes@pelanggan.example")
    contact_url = page.url.split("?")[0]

    # The same number as a customer says it on WhatsApp: +62, spaces, no leading zero.
    page.goto("/contacts")
    search = page.get_by_test_id("contact-search")
    search.get_by_label(ID("Search"), exact=True).fill("+62 813 5550 0077")
    search.get_by_role("button", name=ID("Search")).click()
    expect(page.get_by_role("heading", name=ID("Search results"))).to_be_visible()
    assert "0813" not in page.url and "5550" not in page.url  # the number never lands in the address bar
    found = page.get_by_test_id("contact-list").get_by_role("link", name="Yohanes Manurung")
    expect(found).to_be_visible()
    found.click()
    expect(page).to_have_url(contact_url)
    page.screenshot(path=str(tmp_path / "contact.png"), full_page=True)

    # A second contact with the same phone is offered the first one instead.
    page.goto("/contacts/new")
    form = page.get_by_test_id("contact-form")
    form.get_by_label(ID("Name"), exact=True).fill("Yohanes M.")
    form.get_by_label(ID("Phones")).fill("6281355500077")
    form.get_by_role("button", name=ID("Create contact")).click()
    existing = page.get_by_test_id("existing-contact")
    expect(existing).to_contain_text(ID("This customer is already in your contacts."))
    existing.get_by_role("link").click()
    expect(page).to_have_url(contact_url)


def test_the_contact_list_fits_a_phone(browser, live_server) -> None:  # noqa: ANN001, F811
    ctx = browser.new_context(base_url=live_server.url, locale="id-ID", **PHONE)
    try:
        phone = ctx.new_page()
        sign_up(phone, company="Warung Pak Slamet", name="Slamet Riyadi", email=unique_email("slamet"))
        phone.goto("/contacts/new")
        phone.get_by_label(ID("Name"), exact=True).fill("Sri Mulyani")
        phone.get_by_label(ID("Phones")).fill("0815-7801-2234")
        phone.get_by_role("button", name=ID("Create contact")).click()
        phone.goto("/contacts")
        expect(phone.get_by_role("link", name="Sri Mulyani")).to_be_visible()
        assert _fits_the_screen(phone)
    finally:
        ctx.close()

"""A business owner and a cashier in a real browser: sign up, languages, invitation, sign out and in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.flows import sign_in, sign_out, sign_up, unique_email
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _fits_the_screen(page) -> bool:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_owner_signs_up_switches_language_invites_a_cashier_and_signs_back_in(
    browser, context, page, live_server, tmp_path  # noqa: ANN001
) -> None:
    owner_email = unique_email("dewi")
    sign_up(page, company="Kedai Kopi Senja", name="Dewi Lestari", email=owner_email)
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_text("Kedai Kopi Senja · Pemilik")).to_be_visible()
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # English and back; the choice holds across pages.
    page.get_by_role("link", name="English").click()
    expect(page.get_by_test_id("greeting")).to_have_text("Welcome, Dewi Lestari")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="My account").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("link", name="Bahasa Indonesia").click()
    expect(page.get_by_role("heading", name="Akun saya")).to_be_visible()
    page.get_by_role("link", name="Dasbor").click()
    expect(page.get_by_test_id("greeting")).to_have_text("Selamat datang, Dewi Lestari")

    # Invite a cashier and copy the link from the page.
    cashier_email = unique_email("budi")
    page.get_by_role("link", name="Staf").click()
    invite = page.get_by_test_id("invite-form")
    invite.get_by_label("Email").fill(cashier_email)
    invite.get_by_label("Peran").select_option(label="Kasir")
    invite.get_by_role("button", name="Buat tautan undangan").click()
    expect(page.get_by_role("status")).to_contain_text("Kirim tautan ini kepada orang yang Anda undang.")
    link_box = page.get_by_test_id("invite-link")
    link = link_box.input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/invite/[\w-]{20,}", link), link
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.get_by_role("button", name="Salin tautan").click()
    expect(page.get_by_role("button", name="Tersalin")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link  # what the owner pastes into a chat
    expect(page.get_by_role("cell", name=cashier_email)).to_be_visible()  # listed under open invitations

    # The cashier opens the link on a phone, in a browser that has never seen niaga.
    phone = browser.new_context(base_url=live_server.url, locale="id-ID", **PHONE)
    try:
        cashier = phone.new_page()
        cashier.goto(link)
        expect(cashier.get_by_role("heading", name="Bergabung dengan tim Anda di niaga")).to_be_visible()
        expect(cashier.get_by_text("Anda diundang sebagai Kasir")).to_be_visible()
        assert _fits_the_screen(cashier)
        cashier.get_by_label("Nama lengkap Anda").fill("Budi Santoso")
        cashier.get_by_label("Nomor HP").fill("0813-1111-2222")
        cashier.get_by_label("Tanggal lahir").fill("1998-03-14")
        cashier.get_by_label("Kata sandi").fill("kasir-" + PASSWORD)
        cashier.get_by_role("button", name="Buat akun saya").click()
        # Not accepting the terms re-shows the form with the reason; what was typed stays.
        expect(cashier.get_by_text("Mohon setujui syarat layanan dan kebijakan privasi.")).to_be_visible()
        expect(cashier.get_by_label("Nama lengkap Anda")).to_have_value("Budi Santoso")
        expect(cashier.get_by_test_id("error-summary")).to_be_visible()
        terms = cashier.get_by_label("Saya menyetujui syarat layanan dan kebijakan privasi.")
        expect(terms).to_be_focused()  # the cursor waits where the fix is needed
        cashier.get_by_label("Kata sandi").fill("kasir-" + PASSWORD)
        terms.check()
        cashier.get_by_role("button", name="Buat akun saya").click()
        expect(cashier.get_by_test_id("greeting")).to_have_text("Selamat datang, Budi Santoso")
        expect(cashier.get_by_text("Kedai Kopi Senja · Kasir")).to_be_visible()
        assert _fits_the_screen(cashier)
        expect(cashier.get_by_role("link", name="Staf")).to_have_count(0)  # a cashier does not manage staff
        sign_out(cashier)
        cashier.goto(link)  # the link worked once
        expect(cashier.get_by_test_id("error-message")).to_have_text("Undangan ini sudah dipakai. Silakan masuk.")
    finally:
        phone.close()

    # The owner sees the new colleague, signs out and back in.
    page.reload()
    expect(page.get_by_test_id("staff-list")).to_contain_text("Budi Santoso")
    expect(page.get_by_test_id("staff-list")).to_contain_text("Kasir")
    sign_out(page)
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(owner_email)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page).to_have_url("/dashboard")
    expect(page.get_by_test_id("greeting")).to_have_text("Selamat datang, Dewi Lestari")


def test_a_wrong_password_is_explained_in_the_form(browser, live_server) -> None:  # noqa: ANN001
    ctx = browser.new_context(base_url=live_server.url, locale="id-ID")
    try:
        page = ctx.new_page()
        email = unique_email("tini")
        sign_up(page, company="Warung Bu Tini", name="Sutini Wulandari", email=email)
        sign_out(page)
        sign_in(page, email, "bukan-kata-sandi-yang-benar")
        expect(page.get_by_role("alert")).to_have_text("Email atau kata sandi salah.")
        expect(page.get_by_label("Email")).to_have_value(email)
        expect(page.get_by_label("Kata sandi")).to_have_value("")
        expect(page.get_by_role("heading", name="Masuk")).to_be_visible()
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    finally:
        ctx.close()


def test_signing_in_works_with_the_keyboard_alone(browser, live_server) -> None:  # noqa: ANN001
    ctx = browser.new_context(base_url=live_server.url, locale="id-ID")
    try:
        page = ctx.new_page()
        email = unique_email("keyboard")
        sign_up(page, company="Toko Papan Ketik", name="Rudi Hartono", email=email)
        sign_out(page)
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Langsung ke konten")).to_be_focused()
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        expect(page.get_by_label("Email")).to_be_focused()
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        expect(page.get_by_label("Kata sandi")).to_be_focused()
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("greeting")).to_have_text("Selamat datang, Rudi Hartono")
    finally:
        ctx.close()


def test_pages_fit_a_phone_screen(browser, live_server, tmp_path) -> None:  # noqa: ANN001
    ctx = browser.new_context(base_url=live_server.url, locale="id-ID", **PHONE)
    try:
        page = ctx.new_page()
        page.goto("/signup")
        assert _fits_the_screen(page)
        sign_up(page, company="Toko Serba Ada Nusantara Makmur Sejahtera", name="Agus Salim", email=unique_email("agus"))
        for path in ("/dashboard", "/staff", "/account", "/settings"):
            page.goto(path)
            assert _fits_the_screen(page), path
            page.screenshot(path=str(tmp_path / f"phone{path.replace('/', '-')}.png"), full_page=True)
        button = page.get_by_role("button", name="Keluar")
        box = button.bounding_box()
        assert box is not None and box["height"] >= 24
    finally:
        ctx.close()

"""Pages as a person sees them: forms re-shown with messages, erased people, notices, clean markup."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi import Depends, Request
from sqlalchemy import select

from niaga.db.base import utcnow
from niaga.identity import staff
from niaga.identity.models import StaffSession, Tenant
from niaga.identity.permissions import Role
from niaga.privacy.models import DataSubject
from niaga.privacy.vault import get_vault
from niaga.web.deps import LANG_COOKIE, PUBLIC
from tests.conftest import PASSWORD, browser_login
from tests.web.helpers import SIGNUP, page_problems, post_form, rows


def test_sign_up_form_is_reshown_with_indonesian_messages_and_the_values_kept(client, session) -> None:  # noqa: ANN001
    before = rows(session, Tenant)
    too_young = (date.today() - timedelta(days=365 * 15)).isoformat()
    response = post_form(client, "/signup", {**SIGNUP, "phone": "12345", "email": "bukan-email",
                                             "birth_date": too_young, "accept_terms": ""})
    assert response.status_code == 422
    text = response.text
    assert "Masukkan nomor HP Indonesia yang valid, contohnya 0812-3456-7890." in text
    assert "Masukkan alamat email yang valid." in text
    assert "Anda harus berusia minimal 18 tahun untuk menggunakan niaga." in text
    assert "Mohon setujui syarat layanan dan kebijakan privasi." in text
    assert 'value="Kedai Kopi Senja"' in text and 'value="Dewi Lestari"' in text  # typed values kept
    assert PASSWORD not in text  # the password is never echoed back
    assert 'aria-invalid="true"' in text and 'aria-describedby="h-phone e-phone"' in text
    assert rows(session, Tenant) == before


def test_a_weak_password_is_refused_with_the_reason(client, session) -> None:  # noqa: ANN001
    client.cookies.set(LANG_COOKIE, "en")
    response = post_form(client, "/signup", {**SIGNUP, "password": "password123"})
    assert response.status_code == 422
    assert "most common passwords" in response.text or "too easy to guess" in response.text


def test_wrong_password_reshows_the_login_form_with_the_email(client, tenant_a) -> None:  # noqa: ANN001
    response = post_form(client, "/login", {"email": "rina@sinarabadi.example", "password": "bukan-kata-sandinya"})
    assert response.status_code == 401
    assert "Email atau kata sandi salah." in response.text
    assert 'value="rina@sinarabadi.example"' in response.text
    assert 'role="alert"' in response.text


def test_saved_changes_are_confirmed(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    browser_login(client, session, tenant_a.owner, settings)
    response = post_form(client, "/settings", {"name": "Toko Sinar Abadi Jaya", "industry": "retail",
                                               "timezone": "Asia/Jakarta", "locale": "id", "address": ""})
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Perubahan Anda telah disimpan." in page.text
    assert 'value="Toko Sinar Abadi Jaya"' in page.text


def test_an_erased_staff_member_shows_as_erased_not_as_an_error(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    cashier = tenant_a.add_staff(session, Role.CASHIER, email="budi@sinarabadi.example", name="Budi Santoso")
    session.commit()
    browser_login(client, session, tenant_a.owner, settings)
    assert "Budi Santoso" in client.get("/staff").text

    subject = session.scalar(select(DataSubject).where(DataSubject.tenant_id == tenant_a.id,
                                                       DataSubject.id == cashier.subject_id))
    subject.key_wrapped = None  # crypto-shredded: the key is gone, the ciphertext stays
    session.commit()
    get_vault().forget_subject(tenant_a.id, cashier.subject_id)

    page = client.get("/staff")
    assert page.status_code == 200
    assert "Budi Santoso" not in page.text and "budi@sinarabadi.example" not in page.text
    assert page.text.count('<span class="erased">dihapus</span>') >= 2  # name and email
    assert "Rina Kusuma" in page.text  # the others are untouched
    client.cookies.set(LANG_COOKIE, "en")
    assert '<span class="erased">erased</span>' in client.get("/staff").text


@pytest.mark.parametrize("path", ["/login", "/signup", "/no-such-page"])
def test_public_pages_have_no_inline_code_and_no_external_urls(client, path) -> None:  # noqa: ANN001
    response = client.get(path)
    assert page_problems(response.text) == []
    assert '<link rel="stylesheet" href="/static/niaga.css">' in response.text
    assert '<meta name="viewport"' in response.text


def test_staff_pages_have_no_inline_code_and_no_external_urls(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    browser_login(client, session, tenant_a.owner, settings)
    invited = post_form(client, "/staff/invite", {"email": "sari@sinarabadi.example", "role": "agent"},
                        form_page="/staff")
    assert invited.status_code == 200
    for response in (invited, *(client.get(p) for p in ("/dashboard", "/account", "/settings", "/staff"))):
        assert response.status_code == 200
        assert page_problems(response.text) == [], response.url


def test_the_scanner_sees_inline_code() -> None:
    bad = '<p style="x" onclick="y()">a</p><script>alert(1)</script><img src="https://cdn.example/a.png">'
    assert len(page_problems(bad)) == 5


def test_static_assets_are_served(client) -> None:  # noqa: ANN001
    css = client.get("/static/niaga.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/niaga.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_times_are_shown_in_the_business_time_zone_and_phones_as_dialled(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    tenant_a.tenant.timezone = "Asia/Jayapura"
    session.commit()
    browser_login(client, session, tenant_a.owner, settings)
    dashboard = client.get("/dashboard").text
    assert "<dd>WIT</dd>" in dashboard
    account = client.get("/account").text
    assert " WIT</td>" in account and "UTC" not in account
    assert 'value="0812-9876-5432"' in account  # stored as +6281298765432, shown the Indonesian way
    client.cookies.set(LANG_COOKIE, "en")
    assert " WIT</td>" in client.get("/account").text


def test_an_unexpected_failure_shows_a_friendly_page_and_saves_nothing(app, client, session) -> None:  # noqa: ANN001
    @app.get("/test-crash", dependencies=[Depends(PUBLIC)])
    def crash(request: Request) -> None:
        request.state.db.add(Tenant(name="Setengah Jadi", slug="setengah-jadi"))
        request.state.db.flush()
        raise RuntimeError("secret detail that must not be shown")

    @app.get("/api/v1/test-crash", dependencies=[Depends(PUBLIC)])
    def api_crash() -> None:
        raise RuntimeError("secret detail that must not be shown")

    before = rows(session, Tenant)
    page = client.get("/test-crash")
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "Terjadi kesalahan di sisi kami. Tidak ada yang tersimpan; silakan coba lagi." in page.text
    assert "secret detail" not in page.text and "Traceback" not in page.text
    assert rows(session, Tenant) == before
    api = client.get("/api/v1/test-crash")
    assert api.status_code == 500 and api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["title"] == "Kesalahan server" and "secret detail" not in api.text


def test_a_bad_invitation_is_reshown_with_the_reason(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    browser_login(client, session, tenant_a.owner, settings)
    response = post_form(client, "/staff/invite", {"email": "bukan-email", "role": "agent"}, form_page="/staff")
    assert response.status_code == 422
    assert "Masukkan alamat email yang valid." in response.text
    assert 'value="bukan-email"' in response.text
    assert 'data-testid="invite-link"' not in response.text
    taken = post_form(client, "/staff/invite", {"email": "rina@sinarabadi.example", "role": "agent"},
                      form_page="/staff")
    assert taken.status_code == 422
    assert "Email ini sudah memiliki akun niaga." in taken.text


def test_an_expired_invitation_says_so_in_indonesian(client, session, tenant_a) -> None:  # noqa: ANN001
    token, invitation = staff.invite(session, tenant_a.principal(), "telat@sinarabadi.example", "agent",
                                     tenant_a.settings)
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    page = client.get(f"/invite/{token}")
    assert page.status_code == 410
    assert "Undangan ini sudah kedaluwarsa. Mintalah undangan baru kepada pemilik bisnis." in page.text
    bogus = client.get("/invite/" + "x" * 43)
    assert bogus.status_code == 410 and "Tautan undangan ini tidak valid." in bogus.text


def test_an_expired_session_goes_back_to_sign_in_and_returns_after(client, session, tenant_a, settings) -> None:  # noqa: ANN001
    browser_login(client, session, tenant_a.owner, settings)
    for row in session.scalars(select(StaffSession).where(StaffSession.user_id == tenant_a.owner.id)):
        row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    response = client.get("/staff", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fstaff"
    login = client.get(response.headers["location"])
    assert 'name="next" value="/staff"' in login.text
    signed_in = post_form(client, "/login", {"email": "rina@sinarabadi.example", "password": PASSWORD,
                                             "next": "/staff"}, form_page="/login?next=/staff")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/staff"

"""The contact and company pages as staff use them: forms re-shown with messages, duplicates linked, search by
POST, the timeline, merge, import and export, per role, in Bahasa Indonesia by default."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from niaga.crm.models import Company, Contact
from niaga.crm.timeline import SOURCES, TimelineItem, register_source
from niaga.db.base import utcnow
from niaga.privacy.audit import AuditEvent
from tests.conftest import browser_login
from tests.web.helpers import form_token, page_problems

NEW = {"full_name": "Siti Aminah", "emails": "siti@contoh.example", "phones": "0812-3456-7890",
       "address_shipping_street": "Jl. Kaliurang 5", "address_shipping_city": "Sleman",
       "address_shipping_postal_code": "55281", "tags": "vip, grosir", "birth_date": "1990-08-17",
       "gender": "female", "position": "Pemilik warung", "notes": "Suka kopi"}


def contacts(session) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Contact))


def login(client, session, shop, settings, who: str = "owner") -> str:  # noqa: ANN001
    return browser_login(client, session, shop.staff[who], settings)


def test_create_a_contact_with_the_form_and_open_it(client, session, shop, settings):
    token = login(client, session, shop, settings)
    page = client.get("/contacts/new")
    assert page.status_code == 200 and not page_problems(page.text)
    assert "Kontak baru" in page.text and "Alamat pengiriman" in page.text
    resp = client.post("/contacts/new", data={**NEW, "csrf_token": token, "owner_id": str(shop.world.owner.id)},
                       follow_redirects=False)
    assert resp.status_code == 303, resp.text
    detail = client.get(resp.headers["location"])
    assert detail.status_code == 200 and not page_problems(detail.text)
    for shown in ("Siti Aminah", "siti@contoh.example", "0812-3456-7890", "Jl. Kaliurang 5, Sleman, 55281",
                  "Perempuan", "Pemilik warung", "Suka kopi", "vip", "Linimasa"):
        assert shown in detail.text, shown


def test_a_bad_form_is_shown_again_with_messages_and_the_values_kept(client, session, shop, settings):
    token = login(client, session, shop, settings)
    bad = {**NEW, "emails": "siti-at-contoh", "phones": "0812", "birth_date": "2999-01-01",
           "address_office_postal_code": "12", "csrf_token": token}
    resp = client.post("/contacts/new", data=bad)
    assert resp.status_code == 422
    assert "Masukkan alamat email yang valid" in resp.text or 'id="e-emails"' in resp.text
    for field in ("emails", "phones", "birth_date"):
        assert f'id="e-{field}"' in resp.text, field
    assert 'id="e-address_office"' in resp.text
    assert "siti-at-contoh" in resp.text and "Siti Aminah" in resp.text  # what was typed stays in the form
    assert contacts(session) == 0


def test_a_duplicate_phone_links_to_the_existing_contact(client, session, shop, settings):
    existing = shop.contact(session, full_name="Siti Aminah", phones=["081234567890"])
    token = login(client, session, shop, settings)
    resp = client.post("/contacts/new", data={"full_name": "Siti A", "phones": "+62 812 3456 7890",
                                              "csrf_token": token})
    assert resp.status_code == 409
    assert f'href="/contacts/{existing.id}"' in resp.text
    assert "Pelanggan ini sudah ada di kontak Anda." in resp.text
    assert contacts(session) == 1


def test_the_list_searches_by_post_so_nothing_personal_goes_in_a_url(client, session, shop, settings):
    siti = shop.contact(session, full_name="Siti Aminah", phones=["081234567890"], emails=["siti@contoh.example"])
    shop.contact(session, full_name="Budi Santoso")
    token = login(client, session, shop, settings)
    listing = client.get("/contacts")
    assert listing.status_code == 200 and not page_problems(listing.text)
    assert "Siti Aminah" in listing.text and "Budi Santoso" in listing.text
    form = re.search(r'<form method="post" action="/contacts/search"', listing.text)
    assert form, "the search box posts its text"
    found = client.post("/contacts/search", data={"q": "62 812-3456-7890", "csrf_token": token})
    assert found.status_code == 200
    assert f"/contacts/{siti.id}" in found.text and "Budi Santoso" not in found.text
    none = client.post("/contacts/search", data={"q": "tidak ada", "csrf_token": token})
    assert 'data-testid="no-results"' in none.text
    assert client.post("/contacts/search", data={"q": "siti"}).status_code == 403  # no CSRF token


def test_list_pages_by_fifty_and_filters_by_tag_and_owner(client, session, shop, settings):
    from niaga.crm.contacts import service

    for i in range(53):
        service.create_contact(session, shop.p(), {"full_name": f"Pelanggan {i:02d}", "tags": ["grosir"] if i < 3 else []})
    service.create_contact(session, shop.p("agent"), {"full_name": "Milik Agen"})
    session.commit()
    login(client, session, shop, settings)
    first = client.get("/contacts")
    assert first.text.count('href="/contacts/0') + first.text.count('href="/contacts/') >= 50
    rows = re.findall(r'<td data-label="Nama"><a href="/contacts/([0-9a-f-]{36})">', first.text)
    assert len(rows) == 50
    nxt = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = re.findall(r'<td data-label="Nama"><a href="/contacts/([0-9a-f-]{36})">', client.get(nxt).text)
    assert len(second) == 4 and not set(rows) & set(second)
    tagged = client.get("/contacts", params={"tag": "grosir"}).text
    assert tagged.count('<td data-label="Nama">') == 3
    owned = client.get("/contacts", params={"owner": str(shop.staff["agent"].id)}).text
    assert "Milik Agen" in owned and owned.count('<td data-label="Nama">') == 1
    assert client.get("/contacts", params={"owner": "bukan-uuid", "after": "x"}).status_code == 200


def test_edit_keeps_unchanged_rows_and_shows_messages(client, session, shop, settings):
    contact = shop.contact(session, full_name="Siti Aminah", emails=["siti@contoh.example"], phones=["081234567890"])
    token = login(client, session, shop, settings)
    form = client.get(f"/contacts/{contact.id}/edit")
    assert form.status_code == 200 and "siti@contoh.example" in form.text and "+6281234567890" in form.text
    bad = client.post(f"/contacts/{contact.id}/edit", data={"full_name": "", "csrf_token": token})
    assert bad.status_code == 422 and 'id="e-full_name"' in bad.text
    ok = client.post(f"/contacts/{contact.id}/edit", data={
        "full_name": "Siti Aminah Rahma", "emails": "siti@contoh.example\nsiti.rahma@contoh.example",
        "phones": "081234567890", "owner_id": str(shop.world.owner.id), "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    session.expire_all()
    again = session.get(Contact, (shop.world.id, contact.id))
    assert again.full_name == "Siti Aminah Rahma" and [str(e.email) for e in again.emails] == [
        "siti@contoh.example", "siti.rahma@contoh.example"]


def test_the_detail_page_shows_the_timeline_of_every_source(client, session, shop, settings):
    contact = shop.contact(session, full_name="Siti Aminah")

    def visits(session, principal, about, limit):  # noqa: ANN001, ANN202
        if about.id == contact.id:
            yield TimelineItem(utcnow() - timedelta(days=1), "visit", "Visited the shop", detail="Beli kopi 2 kg")

    register_source("test-visits", visits)
    try:
        login(client, session, shop, settings)
        page = client.get(f"/contacts/{contact.id}")
    finally:
        SOURCES.pop("test-visits", None)
    assert 'data-testid="timeline"' in page.text and "Visited the shop" in page.text and "Beli kopi 2 kg" in page.text
    assert "WIB" in page.text


def test_viewing_a_contact_page_is_audited(client, session, shop, settings):
    contact = shop.contact(session, full_name="Siti Aminah")
    login(client, session, shop, settings)
    client.get(f"/contacts/{contact.id}")
    session.expire_all()
    viewed = session.scalar(select(AuditEvent).where(AuditEvent.action == "crm.contact_viewed",
                                                     AuditEvent.target_id == contact.id.hex))
    assert viewed is not None and viewed.actor_id == shop.world.owner.id


def test_merge_from_the_detail_page(client, session, shop, settings):
    keep = shop.contact(session, full_name="Budi Santoso", emails=["budi@contoh.example"])
    duplicate = shop.contact(session, full_name="Budi S", phones=["081322223333"])
    token = login(client, session, shop, settings)
    found = client.post(f"/contacts/{keep.id}/merge-candidates", data={"q": "0813-2222-3333", "csrf_token": token})
    assert found.status_code == 200 and 'data-testid="merge-candidates"' in found.text
    assert f'name="duplicate_id" value="{duplicate.id}"' in found.text and "data-confirm" in found.text
    merged = client.post(f"/contacts/{keep.id}/merge", data={"duplicate_id": str(duplicate.id), "csrf_token": token},
                         follow_redirects=False)
    assert merged.status_code == 303
    page = client.get(f"/contacts/{keep.id}")
    assert "0813-2222-3333" in page.text
    old = client.get(f"/contacts/{duplicate.id}", follow_redirects=False)
    assert old.status_code == 303 and old.headers["location"] == f"/contacts/{keep.id}"
    empty = client.post(f"/contacts/{keep.id}/merge-candidates", data={"q": "", "csrf_token": token})
    assert empty.status_code == 422
    itself = client.post(f"/contacts/{keep.id}/merge", data={"duplicate_id": str(keep.id), "csrf_token": token})
    assert itself.status_code == 422 and "dirinya sendiri" in itself.text
    missing = client.post(f"/contacts/{keep.id}/merge", data={"duplicate_id": str(uuid.uuid4()), "csrf_token": token})
    assert missing.status_code == 404


@pytest.mark.parametrize("who, new, edit, merge, import_, export", [
    ("owner", True, True, True, True, True),
    ("manager", True, True, True, True, True),
    ("agent", True, True, False, False, False),
    ("cashier", False, False, False, False, False),
    ("auditor", False, False, False, False, False),
])
def test_each_role_sees_the_actions_it_may_take(client, session, shop, settings, who, new, edit, merge, import_,
                                                  export):
    contact = shop.contact(session, by="agent", full_name="Pelanggan Bersama")
    login(client, session, shop, settings, who)
    listing = client.get("/contacts")
    assert listing.status_code == 200
    assert ('href="/contacts/new"' in listing.text) == new
    assert ('href="/contacts/import"' in listing.text) == import_
    assert ('href="/contacts/export"' in listing.text) == export
    assert client.get("/contacts/new").status_code == (200 if new else 403)
    assert client.get("/contacts/import").status_code == (200 if import_ else 403)
    detail = client.get(f"/contacts/{contact.id}")
    if who == "cashier":  # not in the agent's team: the contact does not exist for them
        assert detail.status_code == 404
        return
    assert ('/edit"' in detail.text) == edit and ("merge-candidates" in detail.text) == merge


def test_an_agent_does_not_see_a_colleagues_contacts(client, session, shop, settings):
    other = shop.contact(session, by="loner", full_name="Milik Penyendiri")
    login(client, session, shop, settings, "agent")
    assert "Milik Penyendiri" not in client.get("/contacts").text
    assert client.get(f"/contacts/{other.id}").status_code == 404
    assert client.get(f"/contacts/{other.id}/edit").status_code == 404


def test_import_page_reports_rows_and_refuses_junk(client, session, shop, settings):
    token = login(client, session, shop, settings)
    page = client.get("/contacts/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert "Paling besar 1 MB dan 20.000 baris per berkas." in page.text
    csv_file = "nama,email,hp\nSiti,siti@contoh.example,081234567890\nAni,ani-tanpa-at,\n".encode()
    resp = client.post("/contacts/import", data={"csrf_token": token}, files={"file": ("kontak.csv", csv_file, "text/csv")})
    assert resp.status_code == 200
    assert re.search(r'data-testid="created">1<', resp.text) and re.search(r'data-testid="failed">1<', resp.text)
    problems = resp.text.split('data-testid="import-problems"')[1]
    assert '<td data-label="Baris">3</td>' in problems and "ani-tanpa-at" not in problems
    junk = client.post("/contacts/import", data={"csrf_token": token},
                       files={"file": ("foto.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "text/csv")})
    assert junk.status_code == 422 and 'data-testid="import-error"' in junk.text
    nothing = client.post("/contacts/import", data={"csrf_token": token})
    assert nothing.status_code == 422
    huge = client.post("/contacts/import", data={"csrf_token": token},
                       files={"file": ("besar.csv", b"x" * (10 * 1024 * 1024), "text/csv")})
    assert huge.status_code == 413
    assert contacts(session) == 1


def test_export_downloads_a_csv(client, session, shop, settings):
    shop.contact(session, full_name="Siti Aminah", phones=["081234567890"])
    login(client, session, shop, settings)
    resp = client.get("/contacts/export")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "Siti Aminah" in resp.text and "0812-3456-7890" in resp.text


def test_company_pages_validate_the_npwp_and_list_contacts(client, session, shop, settings):
    token = login(client, session, shop, settings)
    assert client.get("/companies/new").status_code == 200
    bad = client.post("/companies/new", data={"name": "CV Kopi Jaya", "npwp": "21.609.052.4-017.001",
                                               "csrf_token": token})
    assert bad.status_code == 422 and 'id="e-npwp"' in bad.text and "NPWP" in bad.text
    assert session.scalar(select(func.count()).select_from(Company)) == 0
    ok = client.post("/companies/new", data={"name": "CV Kopi Jaya", "npwp": "013121660091000", "industry": "Kopi",
                                              "address_city": "Yogyakarta", "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    company_id = ok.headers["location"].split("/")[2].split("?")[0]
    shop.contact(session, full_name="Siti Aminah", company_id=uuid.UUID(company_id), position="Pembeli")
    detail = client.get(f"/companies/{company_id}")
    assert "01.312.166.0-091.000" in detail.text and "Siti Aminah" in detail.text and not page_problems(detail.text)
    twice = client.post("/companies/new", data={"name": "CV Lain", "npwp": "01.312.166.0-091.000",
                                                 "csrf_token": token})
    assert twice.status_code == 409 and f'href="/companies/{company_id}"' in twice.text
    listing = client.get("/companies", params={"name": "kopi"})
    assert "CV Kopi Jaya" in listing.text
    edit = client.post(f"/companies/{company_id}/edit", data={"name": "", "csrf_token": token})
    assert edit.status_code == 422
    form = client.get(f"/companies/{company_id}/edit")
    assert form.status_code == 200 and "01.312.166.0-091.000" in form.text


def test_pages_speak_english_when_chosen(client, session, shop, settings):
    login(client, session, shop, settings)
    client.cookies.set("niaga_lang", "en")
    page = client.get("/contacts")
    assert "New contact" in page.text and "Kontak baru" not in page.text


def test_another_tenants_owner_gets_404_on_every_contact_page(client, session, shop, tenant_b, settings):
    contact = shop.contact(session, full_name="Kontak Rahasia")
    browser_login(client, session, tenant_b.owner, settings)
    for path in (f"/contacts/{contact.id}", f"/contacts/{contact.id}/edit"):
        resp = client.get(path)
        assert resp.status_code == 404 and "Kontak Rahasia" not in resp.text
    token = form_token(client.get("/contacts/new").text)
    resp = client.post(f"/contacts/{contact.id}/edit", data={"full_name": "Diambil", "csrf_token": token})
    assert resp.status_code == 404
    session.expire_all()
    assert str(session.get(Contact, (shop.world.id, contact.id)).full_name) == "Kontak Rahasia"

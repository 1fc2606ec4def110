"""After `delete_person`, every page and API that showed the person shows "erased" and keeps working; the
raw database files, a plain pg_dump and the file store hold none of their values; others are untouched."""

from __future__ import annotations

import uuid

from niaga.crm.contacts import service as contacts
from niaga.privacy import erasure, files
from niaga.privacy.audit import Actor
from niaga.privacy.models import DataSubject
from niaga.privacy.rights import delete_person, prepare_access_package
from tests.conftest import api_token, bearer, browser_login, make_settings, make_tenant
from tests.privacy.rights.conftest import (
    DEAL_TITLE,
    EMAIL,
    FILE_BYTES,
    FILE_NAME,
    NAME,
    NOTE,
    PHONE,
    PHONE_E164,
    STREET,
    TICKET_TITLE,
    make_customer,
)
from tests.privacy.test_raw_storage import (
    _forms,
    _leaks,
    _pg_dump,
    _pg_files,
    _sqlite_bytes,
)

REQUEST = uuid.UUID("01a20000-0000-7000-8000-0000000000ee")
OTHER = {"name": "Budi Santoso", "email": "budi.santoso@contoh.example", "phone": "0813-1111-2222"}


def _values() -> list[str]:
    return [NAME, EMAIL, PHONE_E164, "81234567890", STREET, DEAL_TITLE, TICKET_TITLE, NOTE, "Nurhaliza"]


def test_every_page_and_api_shows_erased_and_keeps_working(client, session, tenant_a, settings, store):
    siti = make_customer(session, tenant_a, store)
    budi = make_customer(session, tenant_a, store, **OTHER)
    delete_person(session, tenant_a.id, siti.subject_id, actor=tenant_a.principal(), request_id=REQUEST, notify=None)
    session.commit()
    form_token = browser_login(client, session, tenant_a.owner, settings)
    api = bearer(api_token(session, tenant_a.owner))

    pages = {
        "contact page": client.get(f"/contacts/{siti.contact.id}"),
        "deal page": client.get(f"/deals/{siti.won_deal.id}"),
        "ticket page": client.get(f"/tickets/{siti.ticket.id}"),
    }
    for what, resp in pages.items():
        assert resp.status_code == 200, what
        assert '<span class="erased">' in resp.text, f"{what} does not show the erased marker"
    lists = {
        "contact list": client.get("/contacts"),
        "deal list": client.get("/deals/list"),
        "ticket list": client.get("/tickets"),
        "search page": client.post("/contacts/search", data={"q": PHONE, "csrf_token": form_token}),
        "export page": client.get("/contacts/export"),
        "contact API": client.get(f"/api/v1/contacts/{siti.contact.id}", headers=api),
        "deal API": client.get(f"/api/v1/deals/{siti.won_deal.id}", headers=api),
        "ticket API": client.get(f"/api/v1/tickets/{siti.ticket.id}", headers=api),
        "search API": client.post("/api/v1/contacts/search", json={"q": PHONE}, headers=api),
        "export API": client.get("/api/v1/contacts/export", headers=api),
        "contact list API": client.get("/api/v1/contacts", headers=api),
    }
    for what, resp in {**pages, **lists}.items():
        assert resp.status_code == 200, f"{what}: {resp.status_code}"
        shown = [v for v in _values() if v in resp.text]
        assert shown == [], f"{what} still shows {shown}"
    assert "[erased]" in lists["contact API"].text or "erased" in lists["contact API"].text
    # The won deal (a record the law keeps) is still listed and counted, without identity.
    assert str(siti.won_deal.id) in lists["deal list"].text and "2.500.000" in pages["deal page"].text
    # Everyone else is as before.
    assert OTHER["name"] in lists["contact list"].text and OTHER["email"] in lists["export page"].text
    assert OTHER["name"] in client.get(f"/contacts/{budi.contact.id}").text
    found = client.post("/contacts/search", data={"q": OTHER["phone"], "csrf_token": form_token})
    assert OTHER["name"] in found.text


def _secrets() -> dict[bytes, str]:
    wanted: dict[bytes, str] = {}
    for value, kind in ((NAME, "name"), (EMAIL, "text"), (PHONE, "phone"), (STREET, "text"), (DEAL_TITLE, "text"),
                        (TICKET_TITLE, "text"), (NOTE, "text"), (FILE_NAME, "text"),
                        (FILE_BYTES.decode(), "text"), ("Langganan bulanan " + NAME, "text")):
        wanted.update({form: f"the erased person's {kind}" for form in _forms(value, kind)})
    return wanted


def test_after_erasure_the_raw_storage_holds_none_of_the_persons_values(fresh_db, tmp_path, keep_vault):
    settings = make_settings(tmp_path / "data", database_url=fresh_db.url)
    store = files.FileStore.from_settings(settings)
    from niaga.identity.passwords import Passwords

    with fresh_db.database.transaction() as session:
        world = make_tenant(session, settings, Passwords(1, 8), "Toko Sinar Abadi", "rina@sinarabadi.example")
        siti = make_customer(session, world, store)
        make_customer(session, world, store, **OTHER)
        prepare_access_package(session, world.id, siti.subject_id, actor=world.principal(), language="id",
                               portable=True, request_id=REQUEST, settings=settings, store=store)
        tenant_id, subject_id = world.id, siti.subject_id
    with fresh_db.database.transaction() as session:
        wrapped = session.get(DataSubject, (tenant_id, subject_id)).key_wrapped
        delete_person(session, tenant_id, subject_id, actor=Actor.system(), request_id=REQUEST, notify=None)
    report = erasure.compact_storage(fresh_db.database.engine)
    assert "incomplete" not in report
    with fresh_db.database.transaction() as session:
        assert files.purge_erased_blobs(session, store) == 2  # the attachment and the access package

    if fresh_db.sqlite_path is not None:
        views = {"SQLite file and WAL": _sqlite_bytes(fresh_db.sqlite_path)}
    else:
        views = {"pg_dump": _pg_dump(fresh_db), "PostgreSQL data files": _pg_files(fresh_db)}
    views["file store"] = b"".join(p.read_bytes() for p in (settings.data_dir / "files").rglob("*") if p.is_file())
    leaks = _leaks(views, _secrets())
    assert leaks == [], "\n".join(leaks)
    assert wrapped not in b"".join(v for k, v in views.items() if k != "PostgreSQL data files")
    # The other customer is still there, readable through the service.
    with fresh_db.database.transaction() as session:
        principal = world.principal()
        page = contacts.list_contacts(session, principal, contacts.repo.ContactFilter())
        names = {str(c.full_name) for c in page.contacts}
        assert OTHER["name"] in names and "[erased]" in names
    assert OTHER["name"].encode() not in views["file store"]  # sealed, like everything else

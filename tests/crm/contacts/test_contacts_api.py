"""Contacts through the JSON API: create, read, change, duplicates offered, search, pagination, bad input."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from niaga.crm.contacts import companies, service
from niaga.crm.models import Contact, ContactEmail, ContactPhone
from niaga.identity.models import Team
from niaga.privacy.audit import AuditEvent
from niaga.privacy.vault import get_vault
from tests.conftest import api_token, bearer, make_tenant

SITI = {
    "full_name": "Siti Aminah", "emails": ["Siti.Aminah@Contoh.example"], "phones": ["0812 3456 7890"],
    "addresses": {"shipping": {"street": "Jl. Kaliurang Km 5 No. 12", "city": "Sleman", "province": "DI Yogyakarta",
                               "postal_code": "55281"}},
    "birth_date": "1990-04-17", "gender": "female", "position": "Pemilik warung", "notes": "Suka kopi tubruk",
    "tags": ["VIP", "grosir"], "loyalty_card_number": "mj-0001",
}


def contacts_in(session, tenant_id) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Contact).where(Contact.tenant_id == tenant_id))


@pytest.fixture
def owner_api(session, shop):  # noqa: ANN001, ANN201
    return bearer(api_token(session, shop.world.owner))


def test_a_new_contact_is_normalised_stored_encrypted_and_read_back(client, session, shop, owner_api):
    resp = client.post("/api/v1/contacts", json=SITI, headers=owner_api)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["full_name"] == "Siti Aminah"
    assert body["emails"] == ["siti.aminah@contoh.example"]
    assert body["phones"] == ["+6281234567890"]
    assert body["tags"] == ["vip", "grosir"]
    assert body["loyalty_card_number"] == "MJ-0001"
    assert body["addresses"]["shipping"]["postal_code"] == "55281"
    assert body["owner_id"] == str(shop.world.owner.id) and body["source"] == "manual"
    again = client.get(f"/api/v1/contacts/{body['id']}", headers=owner_api)
    assert again.status_code == 200 and again.json()["birth_date"] == "1990-04-17"
    # At rest the name and the email are ciphertext (K1).
    raw_name = session.execute(select(Contact.__table__.c.full_name).where(Contact.id == uuid.UUID(body["id"]))).scalar()
    raw_email = session.execute(select(ContactEmail.__table__.c.email)
                                .where(ContactEmail.contact_id == uuid.UUID(body["id"]))).scalar()
    assert b"Siti" not in raw_name and b"contoh" not in raw_email


def test_creating_and_viewing_are_audited_without_personal_values(client, session, shop, owner_api):
    created = client.post("/api/v1/contacts", json=SITI, headers=owner_api).json()
    client.get(f"/api/v1/contacts/{created['id']}", headers=owner_api)
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == shop.world.id,
                                                           AuditEvent.target_id == uuid.UUID(created["id"]).hex)))
    assert {e.action for e in events} >= {"crm.contact_created", "crm.contact_viewed"}
    text = repr([(e.details, e.target_id) for e in events])
    for value in ("Siti", "contoh", "3456", "Kaliurang"):
        assert value not in text


@pytest.mark.parametrize("field, value, same_as", [
    ("emails", ["SITI.AMINAH@contoh.example"], "emails"),
    ("phones", ["+62 812-3456-7890"], "phones"),
    ("phones", ["6281234567890"], "phones"),
    ("loyalty_card_number", "MJ-0001", "loyalty_card_number"),
])
def test_a_duplicate_email_phone_or_card_offers_the_existing_contact(client, session, shop, owner_api, field, value,
                                                                     same_as):
    existing = shop.contact(session, **SITI)
    before = contacts_in(session, shop.world.id)
    resp = client.post("/api/v1/contacts", json={"full_name": "Siti A.", field: value}, headers=owner_api)
    assert resp.status_code == 409, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["existing_id"] == str(existing.id) and problem["field"] == same_as
    assert "already exists" in problem["detail"] or "sudah ada" in problem["detail"]
    assert contacts_in(session, shop.world.id) == before


def test_a_duplicate_of_a_colleagues_customer_is_refused_without_naming_it(client, session, shop):
    shop.contact(session, by="loner", full_name="Pelanggan Rahasia", emails=["rahasia@contoh.example"])
    agent = bearer(api_token(session, shop.staff["agent"]))
    resp = client.post("/api/v1/contacts", json={"full_name": "Orang Lain", "emails": ["rahasia@contoh.example"]},
                       headers=agent)
    assert resp.status_code == 409
    assert resp.json()["existing_id"] is None
    assert "Rahasia" not in resp.text


BAD_INPUT = [
    ({"full_name": ""}, "full_name"),
    ({"full_name": "   "}, "full_name"),
    ({"full_name": "A" * 121}, "full_name"),
    ({"full_name": "Ani", "emails": ["ani@"]}, "emails"),
    ({"full_name": "Ani", "emails": ["bukan email"]}, "emails"),
    ({"full_name": "Ani", "phones": ["12345"]}, "phones"),
    ({"full_name": "Ani", "phones": ["0812-ABCD-7890"]}, "phones"),
    ({"full_name": "Ani", "birth_date": "31-02-1990"}, "birth_date"),
    ({"full_name": "Ani", "birth_date": "1990-02-31"}, "birth_date"),
    ({"full_name": "Ani", "birth_date": "2999-01-01"}, "birth_date"),
    ({"full_name": "Ani", "tags": ["ada spasi dan <b>"]}, "tags"),
    ({"full_name": "Ani", "addresses": {"office": {"street": "Jl. Solo", "postal_code": "55"}}}, "address_office"),
    ({"full_name": "Ani", "loyalty_card_number": "kartu; DROP"}, "loyalty_card_number"),
    ({"full_name": "Ani", "notes": "x" * 5001}, "notes"),
    ({"full_name": "Ani", "company_id": "bukan-uuid"}, "company_id"),
    ({"full_name": "Ani", "owner_id": str(uuid.uuid4())}, "owner_id"),
    ({"full_name": "Ani", "team_id": str(uuid.uuid4())}, "team_id"),
    ({"full_name": "Ani", "source": "telepati"}, "source"),
    ({"full_name": "Ani", "emails": [f"a{i}@contoh.example" for i in range(6)]}, "emails"),
]


@pytest.mark.parametrize("body, field", BAD_INPUT, ids=[f for _, f in BAD_INPUT])
def test_bad_input_gets_a_field_message_and_writes_nothing(client, session, shop, owner_api, body, field):
    before = contacts_in(session, shop.world.id)
    resp = client.post("/api/v1/contacts", json=body, headers=owner_api)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert field in resp.json()["errors"]
    assert contacts_in(session, shop.world.id) == before


@pytest.mark.parametrize("body", [
    {"full_name": "A" * 600},
    {"full_name": "Ani", "emails": ["a@b.example"] * 25},
    {"full_name": "Ani", "gender": "robot"},
    {"full_name": "Ani", "hobby": "catur"},
    {"full_name": "Ani", "addresses": {"rumah": {"street": "Jl. Solo"}}},
    {"emails": ["tanpa-nama@contoh.example"]},
])
def test_malformed_or_oversized_bodies_are_422_problems(client, session, shop, owner_api, body):
    before = contacts_in(session, shop.world.id)
    resp = client.post("/api/v1/contacts", json=body, headers=owner_api)
    assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json")
    assert contacts_in(session, shop.world.id) == before


def test_references_to_another_tenant_are_refused(client, session, shop, owner_api, settings, passwords):
    other = make_tenant(session, settings, passwords, "Toko Seberang", "pemilik@seberang.example")
    foreign_company = companies.create_company(session, other.principal(), {"name": "PT Seberang"})
    foreign_team = Team(tenant_id=other.id, name="Tim Seberang")
    session.add(foreign_team)
    session.commit()
    before = contacts_in(session, shop.world.id)
    for field, value in (("company_id", foreign_company.id), ("owner_id", other.owner.id),
                         ("team_id", foreign_team.id)):
        resp = client.post("/api/v1/contacts", json={"full_name": "Ani", field: str(value)}, headers=owner_api)
        assert resp.status_code == 422, resp.text
        assert field in resp.json()["errors"]
    assert contacts_in(session, shop.world.id) == before


def test_an_agent_cannot_give_a_contact_to_a_colleague_or_a_foreign_team(client, session, shop):
    agent = bearer(api_token(session, shop.staff["agent"]))
    outside = Team(tenant_id=shop.world.id, name="Sales Solo")
    session.add(outside)
    session.commit()
    resp = client.post("/api/v1/contacts", json={"full_name": "Ani", "owner_id": str(shop.staff["loner"].id)},
                       headers=agent)
    assert resp.status_code == 422 and "owner_id" in resp.json()["errors"]
    resp = client.post("/api/v1/contacts", json={"full_name": "Ani", "team_id": str(outside.id)}, headers=agent)
    assert resp.status_code == 422 and "team_id" in resp.json()["errors"]
    resp = client.post("/api/v1/contacts", json={"full_name": "Ani", "team_id": str(shop.team.id)}, headers=agent)
    assert resp.status_code == 201 and resp.json()["owner_id"] == str(shop.staff["agent"].id)


def test_patch_changes_only_what_is_sent_and_audits_the_field_names(client, session, shop, owner_api):
    contact = shop.contact(session, **SITI)
    resp = client.patch(f"/api/v1/contacts/{contact.id}", json={"phones": ["0813-1111-2222", "0812 3456 7890"],
                                                                "tags": ["langganan"]}, headers=owner_api)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["phones"] == ["+6281311112222", "+6281234567890"]
    assert body["emails"] == ["siti.aminah@contoh.example"] and body["full_name"] == "Siti Aminah"
    assert body["tags"] == ["langganan"] and body["notes"] == "Suka kopi tubruk"
    event = session.scalar(select(AuditEvent).where(AuditEvent.tenant_id == shop.world.id,
                                                    AuditEvent.action == "crm.contact_updated"))
    assert event.details == {"fields": ["phones", "tags"]}
    # The kept phone row is the same row: its blind index still finds the contact.
    found = client.post("/api/v1/contacts/search", json={"q": "081311112222"}, headers=owner_api).json()
    assert [i["id"] for i in found["items"]] == [str(contact.id)]


def test_patch_to_another_contacts_email_is_a_409_and_changes_nothing(client, session, shop, owner_api):
    siti = shop.contact(session, **SITI)
    budi = shop.contact(session, full_name="Budi Santoso", emails=["budi@contoh.example"])
    resp = client.patch(f"/api/v1/contacts/{budi.id}", json={"emails": ["siti.aminah@contoh.example"],
                                                             "full_name": "Budi Diubah"}, headers=owner_api)
    assert resp.status_code == 409 and resp.json()["existing_id"] == str(siti.id)
    assert client.get(f"/api/v1/contacts/{budi.id}", headers=owner_api).json()["full_name"] == "Budi Santoso"


def test_patch_with_bad_values_is_422_and_keeps_the_contact(client, session, shop, owner_api):
    contact = shop.contact(session, **SITI)
    for body in ({"full_name": ""}, {"phones": ["999"]}, {"birth_date": "kemarin"}, {"company_id": str(uuid.uuid4())}):
        resp = client.patch(f"/api/v1/contacts/{contact.id}", json=body, headers=owner_api)
        assert resp.status_code == 422, body
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=owner_api).json()["phones"] == ["+6281234567890"]


def test_another_tenants_contact_is_not_found(client, session, shop, tenant_b):
    contact = shop.contact(session, **SITI)
    outsider = bearer(api_token(session, tenant_b.owner))
    assert client.get(f"/api/v1/contacts/{contact.id}", headers=outsider).status_code == 404
    resp = client.patch(f"/api/v1/contacts/{contact.id}", json={"full_name": "Diambil"}, headers=outsider)
    assert resp.status_code == 404
    found = client.post("/api/v1/contacts/search", json={"q": "siti.aminah@contoh.example"}, headers=outsider)
    assert found.status_code == 200 and found.json()["items"] == []
    assert "Siti" not in client.get("/api/v1/contacts", headers=outsider).text
    assert client.get(f"/api/v1/contacts/{uuid.uuid4()}", headers=outsider).status_code == 404
    assert client.get("/api/v1/contacts/bukan-uuid", headers=outsider).status_code == 422


@pytest.mark.parametrize("query", [
    "siti.aminah@contoh.example", "SITI.AMINAH@CONTOH.EXAMPLE", "081234567890", "0812-3456-7890", "+62 812 3456 7890",
    "6281234567890", "siti", "Aminah Siti", "AMINAH", "mj-0001",
])
def test_search_finds_by_email_phone_in_any_format_name_words_and_card(client, session, shop, owner_api, query):
    siti = shop.contact(session, **SITI)
    shop.contact(session, full_name="Siti Rahayu", emails=["rahayu@contoh.example"], phones=["081377778888"])
    resp = client.post("/api/v1/contacts/search", json={"q": query}, headers=owner_api)
    assert resp.status_code == 200
    ids = [i["id"] for i in resp.json()["items"]]
    assert str(siti.id) in ids
    if query not in ("siti",):
        assert ids == [str(siti.id)]


@pytest.mark.parametrize("query", ["sit", "siti.aminah@contoh", "0812345", "Aminah Rahayu", "@", "+62"])
def test_search_needs_whole_values(client, session, shop, owner_api, query):
    shop.contact(session, **SITI)
    resp = client.post("/api/v1/contacts/search", json={"q": query}, headers=owner_api)
    assert resp.status_code == 200 and resp.json()["items"] == []


def test_search_text_is_never_in_a_url(client, session, shop, owner_api):
    resp = client.get("/api/v1/contacts", params={"q": "siti"}, headers=owner_api)
    # GET has no search parameter: it lists (and ignores unknown parameters); searching is POST only.
    assert resp.status_code == 200
    assert client.post("/api/v1/contacts/search", json={"q": "x" * 201}, headers=owner_api).status_code == 422


def test_list_pages_of_50_newest_first_with_a_cursor(client, session, shop, owner_api):
    principal = shop.p()
    made = [service.create_contact(session, principal, {"full_name": f"Pelanggan {i:03d}"}).id for i in range(57)]
    session.commit()
    first = client.get("/api/v1/contacts", headers=owner_api).json()
    assert len(first["items"]) == 50 and first["next_cursor"]
    assert first["items"][0]["id"] == str(made[-1])
    second = client.get("/api/v1/contacts", params={"after": first["next_cursor"]}, headers=owner_api).json()
    assert len(second["items"]) == 7 and second["next_cursor"] is None
    seen = [i["id"] for i in first["items"] + second["items"]]
    assert sorted(seen) == sorted(str(m) for m in made)
    assert client.get("/api/v1/contacts", params={"limit": 500}, headers=owner_api).status_code == 422
    assert client.get("/api/v1/contacts", params={"after": "zzz"}, headers=owner_api).status_code == 422


def test_filters_by_tag_owner_and_company(client, session, shop, owner_api):
    company = companies.create_company(session, shop.p(), {"name": "CV Kopi Jaya"})
    session.commit()
    vip = shop.contact(session, full_name="Andi", tags=["vip"], company_id=company.id)
    shop.contact(session, full_name="Bayu", tags=["vip-lama"])
    mine = shop.contact(session, by="agent", full_name="Citra", tags=["grosir"])
    by_tag = client.get("/api/v1/contacts", params={"tag": "VIP"}, headers=owner_api).json()["items"]
    assert [i["id"] for i in by_tag] == [str(vip.id)]  # "vip" does not match "vip-lama"
    by_owner = client.get("/api/v1/contacts", params={"owner_id": str(shop.staff["agent"].id)},
                          headers=owner_api).json()["items"]
    assert [i["id"] for i in by_owner] == [str(mine.id)]
    by_company = client.get("/api/v1/contacts", params={"company_id": str(company.id)}, headers=owner_api).json()
    assert [i["id"] for i in by_company["items"]] == [str(vip.id)]
    assert by_company["items"][0]["company_name"] == "CV Kopi Jaya"
    searched = client.post("/api/v1/contacts/search", json={"q": "andi", "tag": "grosir"}, headers=owner_api)
    assert searched.json()["items"] == []


def test_a_tag_with_like_wildcards_matches_only_itself(client, session, shop, owner_api):
    exact = shop.contact(session, full_name="Dewi", tags=["a_b"])
    shop.contact(session, full_name="Eko", tags=["axb"])
    found = client.get("/api/v1/contacts", params={"tag": "a_b"}, headers=owner_api).json()["items"]
    assert [i["id"] for i in found] == [str(exact.id)]
    assert client.get("/api/v1/contacts", params={"tag": "%"}, headers=owner_api).json()["items"] == []


def test_an_erased_contact_reads_as_erased_and_cannot_be_changed(client, session, shop, owner_api):
    from niaga.privacy.erasure import erase_subject
    from niaga.privacy.audit import Actor

    contact = shop.contact(session, **SITI)
    erase_subject(session, shop.world.id, contact.subject_id, Actor.system(), "subject-request")
    session.commit()
    body = client.get(f"/api/v1/contacts/{contact.id}", headers=owner_api).json()
    assert body["full_name"] == "[erased]" and body["emails"] == ["[erased]"]
    resp = client.patch(f"/api/v1/contacts/{contact.id}", json={"full_name": "Siti Lagi"}, headers=owner_api)
    assert resp.status_code == 409
    assert client.post("/api/v1/contacts/search", json={"q": "siti"}, headers=owner_api).json()["items"] == []
    # The erased person's email is free again.
    again = client.post("/api/v1/contacts", json={"full_name": "Siti Baru", "emails": ["siti.aminah@contoh.example"]},
                        headers=owner_api)
    assert again.status_code == 201


def test_the_vault_is_used_per_contact(session, shop):
    a = shop.contact(session, full_name="Satu")
    b = shop.contact(session, full_name="Dua")
    assert a.subject_id != b.subject_id
    assert a.subject.kind == "contact" and get_vault().subject_cipher(session, a.subject) is not None
    assert session.scalar(select(func.count()).select_from(ContactPhone)) == 0

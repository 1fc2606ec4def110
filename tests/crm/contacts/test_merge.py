"""Merging a duplicate: every linked and personal record moves to the kept contact in one audited transaction."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.crm.contacts import service
from niaga.crm.contacts.merge import CONTACT_REFERENCES, merge_contacts, register_contact_reference
from niaga.crm.contacts.repository import ContactFilter
from niaga.crm.models import Contact, ContactAddress, ContactEmail
from niaga.db.base import utcnow
from niaga.identity.models import Invitation
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.privacy import files
from niaga.privacy.audit import Actor, AuditEvent
from niaga.privacy.consent import ConsentEvent, ConsentMethod, ConsentPurpose, current_consents, record_consent
from niaga.privacy.erasure import erase_subject, is_erased
from niaga.privacy.fields import registered_fields
from niaga.privacy.models import BlindIndexEntry, DataSubject
from niaga.privacy.rekey import RekeyRefused, rekey_subject_rows
from tests.conftest import api_token, bearer


@pytest.fixture
def pair(session, shop):  # noqa: ANN001, ANN201
    """Budi twice: the kept contact and a duplicate with emails, phones, an address, a card and notes."""
    keep = shop.contact(session, full_name="Budi Santoso", emails=["budi@tokomaju.example"], notes="Pelanggan lama",
                        tags=["vip"], addresses={"office": {"street": "Jl. Malioboro 10", "city": "Yogyakarta"}})
    duplicate = shop.contact(
        session, full_name="Budi S.", emails=["budi.s@gmail.example", "bsantoso@kantor.example"],
        phones=["0813-2222-3333", "+62 274 555 123"], loyalty_card_number="MJ-0420", birth_date="1985-03-09",
        position="Pembeli grosir", notes="Minta faktur pajak", tags=["grosir", "vip"],
        addresses={"shipping": {"street": "Jl. Parangtritis 7", "city": "Bantul", "postal_code": "55188"}})
    return keep, duplicate


def _searched(session, shop, query):  # noqa: ANN001, ANN202
    return [c.id for c in service.list_contacts(session, shop.p(), ContactFilter(query=query)).contacts]


def test_everything_of_the_duplicate_shows_under_the_kept_contact(session, shop, pair, tmp_path, monkeypatch,
                                                                    settings):
    keep, duplicate = pair
    old_subject = duplicate.subject_id
    # Other personal rows of the same person, made directly: a consent, a stored file, an invitation-like row.
    record_consent(session, duplicate.subject, ConsentPurpose.MARKETING_WHATSAPP, True, method=ConsentMethod.STAFF,
                   actor=Actor.system(), evidence={"said": "boleh kirim promo"})
    monkeypatch.setattr(files, "get_settings", lambda: settings)
    stored = files.store_file(session, Actor.system(), old_subject, b"%PDF-1.4 faktur budi", "Faktur Budi.pdf",
                              tenant_id=shop.world.id)
    letter = Invitation(tenant_id=shop.world.id, subject_id=old_subject, email="budi.lama@contoh.example",
                        role="cashier", token_hash=uuid.uuid4().bytes * 2, invited_by=shop.world.owner.id,
                        expires_at=utcnow() + timedelta(days=1))
    session.add(letter)
    session.commit()

    result = merge_contacts(session, shop.p(), keep.id, duplicate.id)
    session.commit()
    session.expire_all()

    kept = session.get(Contact, (shop.world.id, keep.id))
    assert [str(e.email) for e in kept.emails] == ["budi@tokomaju.example", "budi.s@gmail.example",
                                                   "bsantoso@kantor.example"]
    assert [str(p.phone) for p in kept.phones] == ["+6281322223333", "+62274555123"]
    assert {a.kind: a.address["city"] for a in kept.addresses} == {"office": "Yogyakarta", "shipping": "Bantul"}
    assert kept.loyalty_card_number == "MJ-0420" and str(kept.birth_date) == "1985-03-09"
    assert kept.position == "Pembeli grosir" and kept.full_name == "Budi Santoso"
    assert kept.notes == "Pelanggan lama\n\nMinta faktur pajak" and kept.tags == ["vip", "grosir"]
    # Searchable under the kept contact by the moved values.
    for query in ("budi.s@gmail.example", "0813 2222 3333", "MJ-0420"):
        assert _searched(session, shop, query) == [keep.id], query
    # The other personal rows are readable under the kept contact's key.
    consent = session.scalar(select(ConsentEvent).where(ConsentEvent.tenant_id == shop.world.id))
    assert consent.subject_id == keep.subject_id and consent.evidence == {"said": "boleh kirim promo"}
    assert current_consents(session, shop.world.id, keep.subject_id)[ConsentPurpose.MARKETING_WHATSAPP].granted
    moved_files = files.files_of_subject(session, shop.world.id, keep.subject_id)
    assert [str(f.filename) for f in moved_files] == ["Faktur Budi.pdf"]
    content = files.read_file(session, Actor.system(), moved_files[0].id, tenant_id=shop.world.id)
    assert content.data == b"%PDF-1.4 faktur budi"
    assert session.get(files.StoredFile, (shop.world.id, stored.id)) is None
    moved_letter = session.get(Invitation, (shop.world.id, letter.id))
    assert moved_letter.subject_id == keep.subject_id and moved_letter.email == "budi.lama@contoh.example"
    # The duplicate is closed, its old key is gone and nothing is left under it.
    dup = session.get(Contact, (shop.world.id, duplicate.id))
    assert dup.status == "merged" and dup.merged_into_id == keep.id and dup.full_name is None
    assert is_erased(session, shop.world.id, old_subject)
    assert session.scalars(select(BlindIndexEntry).where(BlindIndexEntry.subject_id == old_subject)).all() == []
    assert session.scalars(select(ContactEmail).where(ContactEmail.subject_id == old_subject)).all() == []
    assert result.resealed["contact_emails"] == 2 and result.references["contact_phones"] == 2
    # Erasing the kept person now reaches what came from the duplicate (one key for one person).
    erase_subject(session, shop.world.id, keep.subject_id, Actor.system(), "subject-request")
    session.flush()
    session.expire_all()
    assert str(session.get(ConsentEvent, (shop.world.id, consent.id)).evidence) == "[erased]"
    assert _searched(session, shop, "budi.s@gmail.example") == []


def test_the_merge_is_audited_with_ids_and_counts_only(session, shop, pair):
    keep, duplicate = pair
    merge_contacts(session, shop.p(), keep.id, duplicate.id)
    session.commit()
    event = session.scalar(select(AuditEvent).where(AuditEvent.tenant_id == shop.world.id,
                                                    AuditEvent.action == "crm.contacts_merged"))
    assert event.target_id == keep.id.hex and event.subject_id == keep.subject_id
    assert event.details["duplicate"] == duplicate.id.hex and event.details["rows_moved"] >= 5
    erased = session.scalar(select(AuditEvent).where(AuditEvent.tenant_id == shop.world.id,
                                                     AuditEvent.action == "privacy.subject_erased"))
    assert erased.details["reason"] == "contact-merged"
    text = repr(event.details) + repr(erased.details)
    for value in ("Budi", "gmail", "2222", "MJ-0420", "Bantul"):
        assert value not in text


def test_merge_through_the_api_and_the_duplicate_leads_to_the_kept_contact(client, session, shop, pair):
    keep, duplicate = pair
    headers = bearer(api_token(session, shop.world.owner))
    resp = client.post(f"/api/v1/contacts/{keep.id}/merge", json={"duplicate_id": str(duplicate.id)}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert "budi.s@gmail.example" in resp.json()["emails"]
    dup = client.get(f"/api/v1/contacts/{duplicate.id}", headers=headers).json()
    assert dup["status"] == "merged" and dup["merged_into_id"] == str(keep.id) and dup["emails"] == []
    listed = [i["id"] for i in client.get("/api/v1/contacts", headers=headers).json()["items"]]
    assert str(duplicate.id) not in listed and str(keep.id) in listed
    again = client.post(f"/api/v1/contacts/{keep.id}/merge", json={"duplicate_id": str(duplicate.id)},
                        headers=headers)
    assert again.status_code == 409


def test_a_contact_merged_earlier_into_the_duplicate_now_leads_to_the_kept_one(session, shop, pair):
    keep, duplicate = pair
    older = shop.contact(session, full_name="Budi (lama)", phones=["081277776666"])
    merge_contacts(session, shop.p(), duplicate.id, older.id)
    merge_contacts(session, shop.p(), keep.id, duplicate.id)
    session.commit()
    session.expire_all()
    assert session.get(Contact, (shop.world.id, older.id)).merged_into_id == keep.id
    assert _searched(session, shop, "081277776666") == [keep.id]


def test_merge_refusals_write_nothing(session, shop, pair, tenant_b, client):
    keep, duplicate = pair
    with pytest.raises(ValidationFailed):
        merge_contacts(session, shop.p(), keep.id, keep.id)
    with pytest.raises(NotFound):
        merge_contacts(session, shop.p(), keep.id, uuid.uuid4())
    with pytest.raises(NotFound):  # the agent cannot see the owner's contacts
        merge_contacts(session, shop.p("agent"), keep.id, duplicate.id)
    other = service.create_contact(session, tenant_b.principal(), {"full_name": "Budi Seberang"})
    session.commit()
    with pytest.raises(NotFound):
        merge_contacts(session, shop.p(), keep.id, other.id)
    erase_subject(session, shop.world.id, duplicate.subject_id, Actor.system(), "subject-request")
    with pytest.raises(Conflict):
        merge_contacts(session, shop.p(), keep.id, duplicate.id)
    session.rollback()
    session.expire_all()
    assert session.get(Contact, (shop.world.id, duplicate.id)).status == "active"
    assert _searched(session, shop, "budi.s@gmail.example") == [duplicate.id]
    headers = bearer(api_token(session, shop.staff["agent"]))
    resp = client.post(f"/api/v1/contacts/{keep.id}/merge", json={"duplicate_id": str(duplicate.id)}, headers=headers)
    assert resp.status_code == 403
    owner = bearer(api_token(session, shop.world.owner))
    bad = client.post(f"/api/v1/contacts/{keep.id}/merge", json={"duplicate_id": "bukan-uuid"}, headers=owner)
    assert bad.status_code == 422


def test_a_damaged_value_stops_the_merge_before_anything_moves(session, shop, pair):
    keep, duplicate = pair
    row = duplicate.emails[0]
    session.execute(ContactEmail.__table__.update().where(ContactEmail.__table__.c.id == row.id)
                    .values(email=b"\x01" + b"\x00" * 40))
    session.commit()
    session.expire_all()
    with pytest.raises(RekeyRefused):
        with session.begin_nested():
            merge_contacts(session, shop.p(), keep.id, duplicate.id)
    session.expire_all()
    assert session.get(Contact, (shop.world.id, duplicate.id)).status == "active"
    assert not is_erased(session, shop.world.id, duplicate.subject_id)


def test_rekey_refuses_moving_onto_oneself_or_an_erased_person(session, shop, pair):
    keep, duplicate = pair
    with pytest.raises(RekeyRefused):
        rekey_subject_rows(session, shop.world.id, keep.subject_id, keep.subject_id)
    with pytest.raises(NotFound):
        rekey_subject_rows(session, shop.world.id, uuid.uuid4(), keep.subject_id)
    erase_subject(session, shop.world.id, keep.subject_id, Actor.system(), "subject-request")
    with pytest.raises(RekeyRefused):
        rekey_subject_rows(session, shop.world.id, duplicate.subject_id, keep.subject_id)


def test_other_domains_register_their_contact_references():
    registered = {(model.__tablename__, column) for model, column in CONTACT_REFERENCES}
    assert {("contact_emails", "contact_id"), ("contact_phones", "contact_id"), ("contact_addresses", "contact_id"),
            ("contacts", "merged_into_id")} <= registered
    register_contact_reference(ContactAddress)  # registering twice is harmless
    assert len([1 for m, c in CONTACT_REFERENCES if m is ContactAddress]) == 1
    with pytest.raises(TypeError):
        register_contact_reference(DataSubject, "contact_id")


@pytest.mark.parametrize("registered", [True, False], ids=["registered", "found-by-foreign-key"])
def test_deals_and_tickets_of_the_duplicate_move_and_stay_readable(session, shop, pair, monkeypatch, registered):
    """Records of other domains (here sales and the service desk, through their own services) follow the person,
    also when their module never registered its reference in this process."""
    from niaga.crm.sales.deals import create_deal
    from niaga.crm.sales.models import Deal
    from niaga.crm.service_desk.models import Ticket
    from niaga.crm.service_desk.service import create_ticket

    keep, duplicate = pair
    deal = create_deal(session, shop.p(), title="Langganan kopi 12 bulan", contact_id=duplicate.id, value=2_500_000)
    ticket = create_ticket(session, shop.p(), {"title": "Biji kopi terlalu gosong",
                                               "description": "Pesanan minggu lalu", "channel": "whatsapp"}, contact=duplicate)
    session.commit()
    if not registered:
        from niaga.crm.contacts import merge as merge_module

        monkeypatch.setattr(merge_module, "CONTACT_REFERENCES",
                            [(m, c) for m, c in CONTACT_REFERENCES if m not in (Deal, Ticket)])
    result = merge_contacts(session, shop.p(), keep.id, duplicate.id)
    session.commit()
    assert result.references["deals"] == 1 and result.references["tickets"] == 1
    session.expire_all()
    moved_deal = session.get(Deal, (shop.world.id, deal.id))
    moved_ticket = session.get(Ticket, (shop.world.id, ticket.id))
    assert moved_deal.contact_id == keep.id and moved_ticket.contact_id == keep.id
    assert moved_deal.subject_id == keep.subject_id and moved_ticket.subject_id == keep.subject_id
    for row in (moved_deal, moved_ticket):
        for spec in registered_fields(type(row)):
            assert str(getattr(row, spec.column)) not in ("[erased]", "[unreadable]"), (type(row).__name__, spec.column)
    assert moved_ticket.title == "Biji kopi terlalu gosong"

"""A person's access package holds every record about them, decrypted, with consents and the processing trail."""

from __future__ import annotations

import json
import uuid

from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from niaga.crm.contacts import service as contacts
from niaga.db.base import new_id
from niaga.privacy.access import build_package
from niaga.privacy.audit import Actor
from niaga.privacy.consent import ConsentMethod, ConsentPurpose, record_consent
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import REGISTRY, Category, Purpose, Retention, SubjectOwned, personal


def _person(session, tenant):  # noqa: ANN001, ANN202
    contact = contacts.create_contact(session, tenant.principal(), {
        "full_name": "Siti Nurhaliza", "emails": ["siti@contoh.example"], "phones": ["0812-3456-7890"],
        "birth_date": "1990-04-12", "notes": "Suka warna hijau",
    })
    session.flush()
    return contact


def test_package_has_every_record_decrypted_with_consents_and_trail(session, tenant_a):
    contact = _person(session, tenant_a)
    record_consent(session, contact.subject, ConsentPurpose.MARKETING_EMAIL, True, method=ConsentMethod.FORM,
                   actor=Actor.system())
    package = build_package(session, tenant_a.id, contact.subject_id)
    text = json.dumps(package)  # the whole package is JSON-serialisable
    assert package["schema_version"] == 1 and not package["subject"]["erased"]
    [row] = package["records"]["contacts"]
    assert row["full_name"] == "Siti Nurhaliza" and row["birth_date"] == "1990-04-12"
    assert row["notes"] == "Suka warna hijau"
    assert [e["email"] for e in package["records"]["contact_emails"]] == ["siti@contoh.example"]
    assert [p["phone"] for p in package["records"]["contact_phones"]] == ["+6281234567890"]
    assert package["consents"][0]["purpose"] == "marketing.email" and package["consents"][0]["granted"]
    actions = {e["action"] for e in package["processing_trail"]}
    assert "consent.granted" in actions
    assert "siti@contoh.example" in text and "Siti Nurhaliza" in text


def test_other_people_are_not_in_the_package(session, tenant_a):
    mine = _person(session, tenant_a)
    contacts.create_contact(session, tenant_a.principal(), {"full_name": "Budi Santoso",
                                                            "emails": ["budi@contoh.example"]})
    session.flush()
    text = json.dumps(build_package(session, tenant_a.id, mine.subject_id))
    assert "Budi Santoso" not in text and "budi@contoh.example" not in text


def test_a_field_added_to_a_model_appears_with_no_change_to_export_code(session, tenant_a):
    """Declare a new personal field on a throwaway model: the package picks it up from the declaration."""
    class Scratch(DeclarativeBase):  # its own registry, so the app's models stay as they are
        pass

    before = list(REGISTRY)
    try:
        class LoyaltyNote(SubjectOwned, Scratch):
            __tablename__ = "test_loyalty_notes"
            tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
            favourite_product = personal(Category.TRANSACTION, [Purpose.U1], retention=Retention.RELATIONSHIP)

        Scratch.metadata.create_all(session.connection())
        contact = _person(session, tenant_a)
        session.add(LoyaltyNote(tenant_id=tenant_a.id, subject=contact.subject, favourite_product="Kopi Gayo"))
        session.flush()
        package = build_package(session, tenant_a.id, contact.subject_id)
        assert package["records"]["test_loyalty_notes"][0]["favourite_product"] == "Kopi Gayo"
    finally:
        REGISTRY[:] = before


def test_after_erasure_the_package_shows_erased_values(session, tenant_a):
    contact = _person(session, tenant_a)
    erase_subject(session, tenant_a.id, contact.subject_id, Actor.system(), reason="request")
    package = build_package(session, tenant_a.id, contact.subject_id)
    assert package["subject"]["erased"]
    assert package["records"]["contacts"][0]["full_name"] == "[erased]"
    assert "Siti" not in json.dumps(package)

"""The kernel's fast paths keep their promises: erasure is immediate everywhere, nothing half-written survives a
rollback, and lookups built from the blind index compose into one statement."""

from __future__ import annotations

import pytest
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from niaga.crm.models import Contact, ContactEmail, ContactPhone
from niaga.identity.models import User
from niaga.privacy import blind_index, erasure
from niaga.privacy import vault as vault_module
from niaga.privacy.audit import Actor
from niaga.privacy.fields import ERASED, registered_fields
from niaga.privacy.models import BlindIndexEntry, DataSubject
from niaga.privacy.vault import Vault, get_vault
from tests.conftest import make_settings
from tests.privacy.conftest import staffed_tenant


def _spec(model: type, column: str):  # noqa: ANN202
    return next(f for f in registered_fields(model) if f.column == column)


def _new_contact(session, tenant_id, name: str, email: str, phone: str) -> Contact:  # noqa: ANN001
    subject = get_vault().new_subject(session, tenant_id, "contact")
    contact = Contact(tenant_id=tenant_id, subject=subject, full_name=name)
    session.add(contact)
    session.flush()
    session.add(ContactEmail(tenant_id=tenant_id, subject=subject, contact_id=contact.id, email=email))
    session.add(ContactPhone(tenant_id=tenant_id, subject=subject, contact_id=contact.id, phone=phone))
    session.flush()
    return contact


def test_an_erasure_committed_by_another_process_is_seen_although_this_one_caches_the_key(
        fresh_db, tmp_path, passwords, keep_vault):
    settings = make_settings(tmp_path / "data", database_url=fresh_db.url)
    with fresh_db.database.transaction() as session:
        world = staffed_tenant(session, settings, passwords)
        tenant_id, user_id = world.tenant_id, world.people["Siti Nurhaliza"].id
        subject_id = world.people["Siti Nurhaliza"].subject_id
    ours = get_vault()
    with fresh_db.database.transaction() as session:
        assert session.get(User, (tenant_id, user_id)).full_name == "Siti Nurhaliza"  # our cache now holds her key
    assert ours._subject_ciphers.get((tenant_id, subject_id)) is not None

    # Another process (its own vault and cache) erases her and commits.
    vault_module._vault = Vault(ours.provider)
    with fresh_db.database.transaction() as session:
        erasure.erase_subject(session, tenant_id, subject_id, Actor.system(), "subject-request")
    vault_module._vault = ours
    assert ours._subject_ciphers.get((tenant_id, subject_id)) is not None  # nobody told this process

    with fresh_db.database.transaction() as session:
        again = session.get(User, (tenant_id, user_id))
        assert again.full_name == ERASED and again.email == ERASED and again.phone == ERASED
        assert session.scalars(select(User.id).where(User.id.in_(
            blind_index.match_ids(session, tenant_id, _spec(User, "email"), "siti.nurhaliza@kopinusantara.example")
        ))).all() == []


def test_rows_already_loaded_read_as_erased_once_the_same_session_erases(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    contact = _new_contact(session, world.tenant_id, "Dewi Lestari", "dewi@tokomelati.example", "+6281234500001")
    session.commit()
    assert contact.full_name == "Dewi Lestari" and contact.subject.key_wrapped is not None

    erasure.erase_subject(session, world.tenant_id, contact.subject_id, Actor.system(), "subject-request")

    assert contact.full_name is ERASED  # no flush, no reload: the loaded row sees it at once
    emails = session.scalars(select(ContactEmail).where(ContactEmail.contact_id == contact.id)).all()
    assert [e.email for e in emails] == [ERASED]


def test_a_rolled_back_person_leaves_no_subject_row_and_no_index_entry(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    session.commit()
    subjects_before = session.scalar(select(func.count()).select_from(DataSubject))
    entries_before = session.scalar(select(func.count()).select_from(BlindIndexEntry))

    savepoint = session.begin_nested()
    _new_contact(session, world.tenant_id, "Rudi Hartono", "rudi@tokomelati.example", "+6281234500002")
    savepoint.rollback()

    assert session.scalar(select(func.count()).select_from(DataSubject)) == subjects_before
    assert session.scalar(select(func.count()).select_from(BlindIndexEntry)) == entries_before
    # The same address and number can be given to someone else: no unique digest was left behind.
    again = _new_contact(session, world.tenant_id, "Rudi Hartono", "rudi@tokomelati.example", "+6281234500002")
    assert again.full_name == "Rudi Hartono"


def test_a_duplicate_unique_value_is_refused_by_the_database(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    _new_contact(session, world.tenant_id, "Sari Wulandari", "sari@tokomelati.example", "+6281234500003")
    session.commit()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            _new_contact(session, world.tenant_id, "Sari Lain", "SARI@tokomelati.example ", "+6281234500004")
    assert session.scalar(select(func.count()).select_from(ContactPhone).where(
        ContactPhone.tenant_id == world.tenant_id)) == 1


def test_two_blind_index_lookups_compose_into_one_statement(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    dewi = _new_contact(session, world.tenant_id, "Dewi Lestari", "dewi@tokomelati.example", "+6281234500005")
    budi = _new_contact(session, world.tenant_id, "Budi Santoso", "budi@tokomelati.example", "+6281234500006")
    _new_contact(session, world.tenant_id, "Eka Putri", "eka@tokomelati.example", "+6281234500007")
    email, phone = _spec(ContactEmail, "email"), _spec(ContactPhone, "phone")
    tid = world.tenant_id

    by_email = select(ContactEmail.contact_id).where(
        ContactEmail.id.in_(blind_index.match_ids(session, tid, email, "dewi@tokomelati.example")))
    by_phone = select(ContactPhone.contact_id).where(
        ContactPhone.id.in_(blind_index.match_ids(session, tid, phone, "0812-3450-0006")))
    found = session.scalars(select(Contact).where(
        Contact.tenant_id == tid, or_(Contact.id.in_(by_email), Contact.id.in_(by_phone)))).all()
    assert sorted(c.full_name for c in found) == ["Budi Santoso", "Dewi Lestari"]
    assert {c.id for c in found} == {dewi.id, budi.id}
    # The same field twice in one statement, with two values.
    rows = session.scalars(select(ContactEmail).where(ContactEmail.tenant_id == tid, or_(
        ContactEmail.id.in_(blind_index.match_ids(session, tid, email, "dewi@tokomelati.example")),
        ContactEmail.id.in_(blind_index.match_ids(session, tid, email, "eka@tokomelati.example"))))).all()
    assert sorted(r.email for r in rows) == ["dewi@tokomelati.example", "eka@tokomelati.example"]
    assert blind_index.find_rows(session, tid, email, "nobody@tokomelati.example") == []

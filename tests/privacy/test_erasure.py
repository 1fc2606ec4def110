"""Crypto-shredding: after erase_subject the person reads as erased everywhere, others are untouched."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from niaga.identity import accounts, staff
from niaga.identity.models import Invitation, User
from niaga.kit.errors import NotFound
from niaga.privacy import blind_index, erasure
from niaga.privacy.audit import Actor, AuditEvent, events_for_subject, verify
from niaga.privacy.fields import ERASED, registered_fields
from niaga.privacy.models import BlindIndexEntry, DataSubject, ErasureRecord
from tests.conftest import make_settings
from tests.privacy.conftest import staffed_tenant

OPERATOR = Actor("user", uuid.uuid4())


def _email_spec():
    return next(f for f in registered_fields(User) if f.column == "email")


def test_erased_person_reads_as_erased_and_others_are_untouched(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    siti = world.people["Siti Nurhaliza"]
    bambang = world.people["Bambang Pamungkas"]
    assert siti.full_name == "Siti Nurhaliza"  # read (and cached) before the erasure

    result = erasure.erase_subject(session, world.tenant_id, siti.subject_id, OPERATOR, "subject-request",
                                   reference="DSR-2026-0001")
    session.commit()

    assert result.already_erased is False and result.index_entries >= 3  # email, name words, phone
    # The same session and a fresh read both show the marker, never the old value.
    assert siti.full_name is ERASED and siti.email == ERASED and siti.phone == ERASED
    session.expire_all()
    again = session.get(User, (world.tenant_id, siti.id))
    assert again.full_name == ERASED and again.birth_date == ERASED and str(again.email) == "[erased]"
    # Everyone else is readable; the staff list still lists four rows.
    assert bambang.full_name == "Bambang Pamungkas" and bambang.phone == "+6281322223344"
    listing = staff.list_staff(session, _principal(world))
    assert len(listing) == 4
    assert sum(1 for u in listing if u.full_name == ERASED) == 1
    # Blind-index lookups no longer find the person, so the address can sign up again later.
    assert not accounts.email_taken(session, "siti.nurhaliza@kopinusantara.example")
    assert accounts.email_taken(session, "bambang.p@kopinusantara.example")
    assert session.scalar(select(BlindIndexEntry).where(BlindIndexEntry.subject_id == siti.subject_id)) is None
    # The erasure log and the audit trail name ids only.
    record = session.get(ErasureRecord, (world.tenant_id, siti.subject_id))
    assert record.reason == "subject-request" and record.reference == "DSR-2026-0001"
    events = [e for e in events_for_subject(session, world.tenant_id, siti.subject_id)
              if e.action == "privacy.subject_erased"]
    assert len(events) == 1 and events[0].actor_id == OPERATOR.id
    dumped = repr(events[0].details) + repr(events[0].target_id)
    assert "Siti" not in dumped and "nurhaliza" not in dumped.lower()
    assert verify(session, world.tenant_id)[1] == []


def test_invitation_of_an_erased_invitee_is_erased_too(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    token, invitation = staff.invite(session, _principal(world), "dewi.sartika@kopinusantara.example", "agent",
                                     settings)
    erasure.erase_subject(session, world.tenant_id, invitation.subject_id, OPERATOR, "subject-request")
    session.flush()
    session.expire_all()
    assert session.get(Invitation, (world.tenant_id, invitation.id)).email == ERASED
    assert blind_index.find_rows(session, world.tenant_id, next(
        f for f in registered_fields(Invitation) if f.column == "email"), "dewi.sartika@kopinusantara.example") == []


def test_erasing_twice_is_a_no_op_and_other_tenants_cannot_erase(session, settings, passwords, tenant_b):
    world = staffed_tenant(session, settings, passwords)
    wahyu = world.people["Wahyu Hidayat"]
    erasure.erase_subject(session, world.tenant_id, wahyu.subject_id, OPERATOR, "retention")
    second = erasure.erase_subject(session, world.tenant_id, wahyu.subject_id, OPERATOR, "retention")
    assert second.already_erased is True
    assert len(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == world.tenant_id,
                                                        AuditEvent.action == "privacy.subject_erased")).all()) == 1
    # Tenant B cannot name tenant A's person: the same "not found" as an unknown id.
    other = world.people["Bambang Pamungkas"]
    with pytest.raises(NotFound):
        erasure.erase_subject(session, tenant_b.id, other.subject_id, OPERATOR, "subject-request")
    with pytest.raises(NotFound):
        erasure.erase_subject(session, world.tenant_id, uuid.uuid4(), OPERATOR, "subject-request")
    assert other.full_name == "Bambang Pamungkas"


@pytest.mark.parametrize("reason, reference", [
    ("Siti Nurhaliza asked", None),
    ("subject-request", "siti@example.com"),
    ("subject-request", "0812 3456 7890 via WA"),
    ("", None),
])
def test_reason_and_reference_cannot_carry_personal_data(session, settings, passwords, reason, reference):
    world = staffed_tenant(session, settings, passwords)
    person = world.people["Siti Nurhaliza"]
    with pytest.raises(ValueError):
        erasure.erase_subject(session, world.tenant_id, person.subject_id, OPERATOR, reason, reference)
    assert person.full_name == "Siti Nurhaliza"


def test_a_new_value_cannot_be_written_for_an_erased_person(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    person = world.people["Bambang Pamungkas"]
    erasure.erase_subject(session, world.tenant_id, person.subject_id, OPERATOR, "subject-request")
    session.flush()
    person.position = "Kepala Toko"
    with pytest.raises(ValueError, match="erased"):
        session.flush()
    session.rollback()


def test_replay_after_restore_erases_again_and_keeps_the_log(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    person = world.people["Siti Nurhaliza"]
    ghost = uuid.uuid4()  # erased in a newer copy, unknown to this one: still logged
    records = [
        {"tenant_id": world.tenant_id, "subject_id": person.subject_id, "erased_at": person.created_at,
         "reason": "subject-request", "reference": None},
        {"tenant_id": world.tenant_id, "subject_id": ghost, "erased_at": person.created_at,
         "reason": "retention", "reference": None},
    ]
    assert erasure.replay_erasures(session, records) == 1
    assert erasure.replay_erasures(session, records) == 0
    session.expire_all()
    assert session.get(User, (world.tenant_id, person.id)).full_name == ERASED
    assert session.get(ErasureRecord, (world.tenant_id, ghost)) is not None


def _wrapped_key_of(fresh, tenant_id, subject_id) -> bytes:
    with fresh.database.transaction() as s:
        return s.get(DataSubject, (tenant_id, subject_id)).key_wrapped


def test_compacting_storage_removes_the_erased_key_from_files(fresh_db, tmp_path, passwords):
    settings = make_settings(tmp_path)
    with fresh_db.database.transaction() as s:
        world = staffed_tenant(s, settings, passwords)
        tenant_id, subject_id = world.tenant_id, world.people["Siti Nurhaliza"].subject_id
    wrapped = _wrapped_key_of(fresh_db, tenant_id, subject_id)
    assert len(wrapped) >= 32 and _storage_bytes(fresh_db).count(wrapped) >= 1

    with fresh_db.database.transaction() as s:
        erasure.erase_subject(s, tenant_id, subject_id, Actor.system(), "subject-request")
    report = erasure.compact_storage(fresh_db.database.engine)

    assert "incomplete" not in report
    assert wrapped not in _storage_bytes(fresh_db)
    with fresh_db.database.transaction() as s:  # the database still works after compaction
        assert len(staff.list_staff(s, _principal_for(s, tenant_id))) == 4


def _storage_bytes(fresh) -> bytes:
    """Every byte the engine keeps for this database on disk (after a checkpoint, for PostgreSQL)."""
    if fresh.sqlite_path is not None:
        base = fresh.sqlite_path
        return b"".join(Path(f"{base}{suffix}").read_bytes()
                        for suffix in ("", "-wal", "-shm") if Path(f"{base}{suffix}").exists())
    with fresh.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        paths = [conn.scalar(text(f"SELECT pg_relation_filepath('{t}')")) for t in ("data_subjects", "blind_index")]
    return b"".join(_relation_bytes(fresh.pg.data / p) for p in paths)


def _relation_bytes(path: Path) -> bytes:
    chunks = [path.read_bytes()]
    n = 1
    while Path(f"{path}.{n}").exists():
        chunks.append(Path(f"{path}.{n}").read_bytes())
        n += 1
    return b"".join(chunks)


def _principal(world):
    from niaga.identity.permissions import ROLE_PERMISSIONS, Role
    from niaga.identity.principal import Principal

    return Principal(tenant_id=world.tenant_id, user_id=world.owner.id, subject_id=world.owner.subject_id,
                     role=Role.OWNER, permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")


def _principal_for(session, tenant_id):
    owner = session.scalar(select(User).where(User.tenant_id == tenant_id, User.role == "owner"))

    class _W:
        pass

    w = _W()
    w.tenant_id, w.owner = tenant_id, owner
    return _principal(w)


def test_one_statement_lookup_matches_exact_values_only(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    session.flush()
    email_spec = next(f for f in registered_fields(User) if f.column == "email")
    name_spec = next(f for f in registered_fields(User) if f.column == "full_name")

    def found(spec, value):
        ids = blind_index.match_ids(session, world.tenant_id, spec, value)
        return [] if ids is None else [u.full_name for u in session.scalars(select(User).where(User.id.in_(ids)))]

    assert found(email_spec, "  SITI.NURHALIZA@kopinusantara.example ") == ["Siti Nurhaliza"]
    assert found(name_spec, "nurhaliza siti") == ["Siti Nurhaliza"]
    assert found(name_spec, "Siti Hidayat") == []  # every word must match the same person
    assert found(email_spec, "siti@kopinusantara.example") == []
    assert blind_index.match_ids(session, world.tenant_id, name_spec, "  ,, ") is None

"""Encrypted personal fields: round trips, bound ciphertext, damaged bytes read as unreadable and are audited."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from niaga.identity.models import StaffSession, User
from niaga.privacy.audit import AuditEvent
from niaga.privacy.fields import ERASED, UNREADABLE, is_readable
from niaga.privacy.models import DataSubject
from tests.conftest import browser_login
from tests.privacy.conftest import staffed_tenant


def _unreadable_events(session, tenant_id):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                         AuditEvent.action == "privacy.unreadable")
                                .order_by(AuditEvent.seq)))


def test_values_round_trip_and_the_column_holds_ciphertext(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    session.commit()
    session.expire_all()
    siti = session.get(User, (world.tenant_id, world.people["Siti Nurhaliza"].id))
    assert siti.full_name == "Siti Nurhaliza"
    assert siti.phone == "+6281234567801"
    assert siti.birth_date == date(1992, 3, 4)
    raw = session.execute(select(User.__table__.c.full_name).where(User.id == siti.id)).scalar_one()
    assert isinstance(raw, bytes) and b"Siti" not in raw and raw[:1] == b"\x01"


def test_ciphertext_copied_to_another_row_or_column_does_not_decrypt(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    siti, bambang = world.people["Siti Nurhaliza"], world.people["Bambang Pamungkas"]
    session.commit()
    table = User.__table__
    sitis_name = session.execute(select(table.c.full_name).where(table.c.id == siti.id)).scalar_one()
    session.execute(update(table).where(table.c.id == bambang.id).values(full_name=sitis_name))
    session.execute(update(table).where(table.c.id == siti.id).values(position=sitis_name))
    session.commit()
    session.expire_all()
    assert session.get(User, (world.tenant_id, bambang.id)).full_name is UNREADABLE
    assert session.get(User, (world.tenant_id, siti.id)).position is UNREADABLE
    assert session.get(User, (world.tenant_id, siti.id)).full_name == "Siti Nurhaliza"


def test_corrupted_bytes_read_as_unreadable_with_one_audit_event_each(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    wahyu = world.people["Wahyu Hidayat"]
    session.commit()
    table = User.__table__
    sealed = session.execute(select(table.c.email).where(table.c.id == wahyu.id)).scalar_one()
    damaged = sealed[:-1] + bytes([sealed[-1] ^ 0x01])
    session.execute(update(table).where(table.c.id == wahyu.id).values(email=damaged, phone=b"\x01junk"))
    session.commit()
    session.expire_all()
    before = len(_unreadable_events(session, world.tenant_id))

    row = session.get(User, (world.tenant_id, wahyu.id))
    assert row.email is UNREADABLE and not is_readable(row.email) and str(row.email) == "[unreadable]"
    assert row.phone is UNREADABLE
    assert row.email is UNREADABLE  # a second read is not a second incident
    assert row.full_name == "Wahyu Hidayat"  # the other fields of the row are fine
    session.commit()

    events = _unreadable_events(session, world.tenant_id)[before:]
    assert sorted(e.details["field"] for e in events) == ["users.email", "users.phone"]
    assert all(e.outcome == "failed" and e.target_id == wahyu.id.hex and e.subject_id == wahyu.subject_id
               for e in events)
    assert "Wahyu" not in repr([e.details for e in events])


def test_incidents_of_a_rolled_back_transaction_are_not_written(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    person = world.people["Bambang Pamungkas"]
    session.commit()
    table = User.__table__
    session.execute(update(table).where(table.c.id == person.id).values(position=b"\x01" + b"\x00" * 40))
    session.commit()
    session.expire_all()
    before = len(_unreadable_events(session, world.tenant_id))
    assert session.get(User, (world.tenant_id, person.id)).position is UNREADABLE
    session.rollback()
    session.commit()
    assert len(_unreadable_events(session, world.tenant_id)) == before


def test_damaged_subject_key_makes_every_field_unreadable_not_a_crash(session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    person = world.people["Siti Nurhaliza"]
    session.commit()
    session.execute(update(DataSubject).where(DataSubject.id == person.subject_id)
                    .values(key_wrapped=b"\x00" * 60))
    session.commit()
    from niaga.privacy.vault import get_vault

    get_vault().forget_subject(world.tenant_id, person.subject_id)
    session.expire_all()
    row = session.get(User, (world.tenant_id, person.id))
    assert row.full_name is UNREADABLE and row.email is UNREADABLE
    assert row.full_name is not ERASED


def test_staff_page_shows_the_marker_instead_of_failing(client, session, settings, passwords):
    world = staffed_tenant(session, settings, passwords)
    person = world.people["Bambang Pamungkas"]
    session.commit()
    table = User.__table__
    session.execute(update(table).where(table.c.id == person.id).values(full_name=b"\x01garbage-bytes-here"))
    session.commit()
    session.expire_all()
    browser_login(client, session, world.owner, settings)
    client.cookies.set("niaga_lang", "en")
    page = client.get("/staff")
    assert page.status_code == 200
    assert "unreadable" in page.text and "Siti Nurhaliza" in page.text
    session.expire_all()
    assert any(e.details.get("field") == "users.full_name" for e in _unreadable_events(session, world.tenant_id))


def test_session_device_fields_are_sealed_too(session, settings, passwords):
    from niaga.identity import auth

    world = staffed_tenant(session, settings, passwords)
    _, row = auth.start_session(session, world.owner, settings, user_agent="Mozilla/5.0 (Android 14)",
                                client="203.0.113.7", client_ref=None)
    session.commit()
    raw = session.execute(select(StaffSession.__table__.c.ip_address).where(StaffSession.id == row.id)).scalar_one()
    assert b"203.0.113.7" not in raw
    session.expire_all()
    assert session.get(StaffSession, (world.tenant_id, row.id)).ip_address == "203.0.113.7"


def test_a_personal_field_cannot_hide_the_link_to_the_persons_key():
    import pytest as _pytest

    from niaga.privacy.fields import Category, Purpose, Retention, personal

    with _pytest.raises(RuntimeError) as refused:  # Python wraps errors raised by __set_name__
        class EmailThread:  # noqa: F841 - declaring it is the test
            __tablename__ = "email_threads_test"
            subject = personal(Category.COMMUNICATION, [Purpose.U1], retention=Retention.RELATIONSHIP)
    assert "cannot be called 'subject'" in str(refused.value.__cause__)

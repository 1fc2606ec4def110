"""The audit log: append-only, hash-chained per tenant, free of personal values, verifiable."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from niaga.privacy import audit
from niaga.privacy.audit import Actor, AuditEvent


def _drop_append_only_guard(session) -> None:  # noqa: ANN001
    """What a tamperer with database access would do first (rolled back with the test)."""
    if session.bind.dialect.name == "sqlite":
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(text("DROP TRIGGER audit_events_no_delete"))
    else:
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))


def test_chain_verifies_and_links_each_event(session, tenant_a):
    checked, breaks = audit.verify(session, tenant_a.id)
    assert checked >= 2 and breaks == []
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_a.id)
                                  .order_by(AuditEvent.seq)))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:]))


def test_database_refuses_updates_and_deletes(session, tenant_a):
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        nested = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        nested.rollback()


@pytest.mark.parametrize("tamper,reason", [
    ("UPDATE audit_events SET action = 'tenant.nothing' WHERE seq = 2", "changed"),
    ("DELETE FROM audit_events WHERE seq = 2", "missing"),
])
def test_tampering_is_found_at_the_first_broken_link(session, tenant_a, tamper, reason):
    for i in range(3):
        audit.record(session, tenant_a.id, "test.event", Actor.system(), details={"n": i})
    session.flush()
    _drop_append_only_guard(session)
    session.execute(text(tamper + " AND tenant_id = :t"), {"t": tenant_a.id if session.bind.dialect.name ==
                                                             "postgresql" else tenant_a.id.hex})
    session.expire_all()
    _, breaks = audit.verify(session, tenant_a.id)
    assert len(breaks) == 1
    assert breaks[0].tenant_id == tenant_a.id and breaks[0].seq in (2, 3)
    assert reason in breaks[0].reason


def test_truncated_chain_end_is_found(session, tenant_a):
    audit.record(session, tenant_a.id, "test.last", Actor.system())
    session.flush()
    _drop_append_only_guard(session)
    last = session.scalar(select(AuditEvent.seq).where(AuditEvent.tenant_id == tenant_a.id)
                          .order_by(AuditEvent.seq.desc()).limit(1))
    session.execute(AuditEvent.__table__.delete().where(AuditEvent.tenant_id == tenant_a.id, AuditEvent.seq == last))
    session.expire_all()
    _, breaks = audit.verify(session, tenant_a.id)
    assert breaks and "removed" in breaks[0].reason


def test_other_tenants_chain_is_independent(session, tenant_a, tenant_b):
    _drop_append_only_guard(session)
    session.execute(AuditEvent.__table__.update().where(AuditEvent.tenant_id == tenant_a.id, AuditEvent.seq == 1)
                    .values(action="forged"))
    session.expire_all()
    _, breaks = audit.verify(session)
    assert [b.tenant_id for b in breaks] == [tenant_a.id]


def test_personal_values_are_refused_in_details(session, tenant_a):
    with pytest.raises(ValueError, match="personal"):
        audit.record(session, tenant_a.id, "test", Actor.system(), details={"who": "rina@sinarabadi.example"})
    with pytest.raises(ValueError, match="personal"):
        audit.record(session, tenant_a.id, "test", Actor.system(), details={"phone": "0812-9876-5432"})


def test_sign_up_audit_has_no_personal_values(session, tenant_a):
    rows = session.execute(text("SELECT * FROM audit_events")).all()
    dump = repr(rows)
    for value in ("rina@sinarabadi.example", "Rina Kusuma", "81298765432", "1988-06-15"):
        assert value not in dump

"""Correction, withdrawal, restriction, objection, erasure and a guardian's removal request: each takes
effect at once (the marketing audience already skips the person, with the reason) and is audited."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from niaga.crm.models import Contact
from niaga.crm.sales.models import Deal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.privacy.audit import Actor, AuditEvent, verify
from niaga.privacy.consent import (
    ConsentEvent,
    ConsentMethod,
    ConsentPurpose,
    RestrictionKind,
    active_restrictions,
    current_consents,
    marketing_audience,
    record_consent,
)
from niaga.privacy.fields import ERASED
from niaga.privacy.models import ErasureRecord
from niaga.privacy.rights import (
    CorrectionRefused,
    NotAChild,
    apply_correction,
    delete_person,
    guardian_removal,
    lift_restriction,
    object_to_automated,
    object_to_marketing,
    restrict_person,
    withdraw_all_consents,
)
from tests.privacy.rights.conftest import EMAIL, NAME, make_customer

REQUEST = uuid.UUID("01a20000-0000-7000-8000-0000000000aa")
WA = ConsentPurpose.MARKETING_WHATSAPP


def _fulfilled(session, tenant_id, right: str) -> list[AuditEvent]:
    return [e for e in session.scalars(select(AuditEvent).where(
        AuditEvent.tenant_id == tenant_id, AuditEvent.action == "privacy.right_fulfilled"))
        if e.details["right"] == right]


def _audience(session, customer, purpose=WA) -> str:
    [decision] = marketing_audience(session, customer.world.id, purpose, [customer.subject_id])
    return decision.reason


def _fresh_contact(session, customer) -> Contact:
    session.expire_all()
    return session.get(Contact, (customer.world.id, customer.contact.id))


# -- correction -----------------------------------------------------------------------------------
def test_a_correction_goes_through_the_contacts_service_and_is_audited_by_field_name(session, customer):
    changed = apply_correction(session, customer.world.id, customer.subject_id, {
        "full_name": "Siti Nurhaliza Putri", "email": "siti.putri@contoh.example", "phone": "0857 1111 2222",
        "birth_date": "1990-04-21", "city": "Jakarta Selatan",
    }, actor=customer.world.principal(), request_id=REQUEST)
    assert changed == ["addresses", "birth_date", "emails", "full_name", "phones"]
    contact = _fresh_contact(session, customer)
    assert contact.full_name == "Siti Nurhaliza Putri" and str(contact.birth_date) == "1990-04-21"
    assert [e.email for e in contact.emails] == ["siti.putri@contoh.example"]
    assert [p.phone for p in contact.phones] == ["+6285711112222"]  # stored in E.164
    assert contact.addresses[0].address["city"] == "Jakarta Selatan"
    assert contact.addresses[0].address["street"].startswith("Jl. Melati")  # the other parts are kept
    [event] = _fulfilled(session, customer.world.id, "correction")
    assert event.details["fields"] == changed and event.details["request_id"] == REQUEST.hex
    assert event.actor_id == customer.world.owner.id
    dumped = json.dumps(event.details)
    assert "Putri" not in dumped and "siti.putri" not in dumped and "2222" not in dumped
    # A correction that changes nothing writes nothing.
    assert apply_correction(session, customer.world.id, customer.subject_id, {"full_name": "Siti Nurhaliza Putri"},
                            actor=Actor.system(), request_id=REQUEST) == []
    assert len(_fulfilled(session, customer.world.id, "correction")) == 1


@pytest.mark.parametrize("changes, field", [
    ({"phone": "12345"}, "phones"),
    ({"phone": "0812-ABCD-7890"}, "phones"),
    ({"email": "siti di contoh"}, "emails"),
    ({"birth_date": "2999-01-01"}, "birth_date"),
    ({"full_name": ""}, "full_name"),
    ({"full_name": "x" * 500}, "full_name"),
    ({"postal_code": "ABCDE"}, "address_shipping"),
])
def test_bad_corrections_are_refused_and_nothing_is_written(session, customer, changes, field):
    with pytest.raises(ValidationFailed) as refused:
        apply_correction(session, customer.world.id, customer.subject_id, changes, actor=Actor.system(),
                         request_id=REQUEST)
    assert field in refused.value.errors
    contact = _fresh_contact(session, customer)
    assert contact.full_name == NAME and [e.email for e in contact.emails] == [EMAIL]
    assert _fulfilled(session, customer.world.id, "correction") == []


@pytest.mark.parametrize("changes", [{}, {"owner_id": str(uuid.uuid4())}, {"notes": "x"}, {"full_name": 5}, []])
def test_only_known_fields_can_be_corrected(session, customer, changes):
    with pytest.raises(ValidationFailed):
        apply_correction(session, customer.world.id, customer.subject_id, changes, actor=Actor.system(),
                         request_id=REQUEST)


def test_a_correction_that_would_take_someone_elses_email_or_phone_is_refused(session, customer, tenant_a, store):
    make_customer(session, tenant_a, store, name="Budi Santoso", email="budi@contoh.example", phone="0813-1111-2222")
    for changes in ({"email": "Budi@Contoh.example"}, {"phone": "+62 813-1111-2222"}):
        with pytest.raises(CorrectionRefused) as refused:
            apply_correction(session, customer.world.id, customer.subject_id, changes, actor=Actor.system(),
                             request_id=REQUEST)
        assert refused.value.status == 409 and "Budi" not in refused.value.message
    contact = _fresh_contact(session, customer)
    assert [e.email for e in contact.emails] == [EMAIL] and contact.phones[0].phone == "+6281234567890"


def test_corrections_for_erased_unknown_or_non_customer_people_are_refused(session, customer, tenant_b):
    with pytest.raises(NotFound):
        apply_correction(session, tenant_b.id, customer.subject_id, {"full_name": "X"}, actor=Actor.system(),
                         request_id=None)
    with pytest.raises(NotFound):  # a staff member is not a contact
        apply_correction(session, customer.world.id, customer.world.owner.subject_id, {"full_name": "X"},
                         actor=Actor.system(), request_id=None)
    delete_person(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=None, notify=None)
    with pytest.raises(Conflict):
        apply_correction(session, customer.world.id, customer.subject_id, {"full_name": "X"}, actor=Actor.system(),
                         request_id=None)


# -- withdrawal, restriction, objection ------------------------------------------------------------
def test_withdrawing_every_consent_takes_effect_at_once(session, customer):
    assert _audience(session, customer) == "ok"
    assert withdraw_all_consents(session, customer.world.id, customer.subject_id, actor=Actor.system(),
                                 request_id=REQUEST) == 2
    assert _audience(session, customer) == "withdrawn"
    assert _audience(session, customer, ConsentPurpose.MARKETING_EMAIL) == "withdrawn"
    assert not any(s.granted for s in current_consents(session, customer.world.id, customer.subject_id).values())
    methods = {e.method for e in session.scalars(select(ConsentEvent).where(
        ConsentEvent.subject_id == customer.subject_id, ConsentEvent.granted.is_(False)))}
    assert methods == {ConsentMethod.REQUEST.value}
    [event] = _fulfilled(session, customer.world.id, "withdraw_consent")
    assert event.details["withdrawn"] == 2


def test_a_restricted_person_is_skipped_until_the_restriction_is_lifted(session, customer):
    restrict_person(session, customer.world.id, customer.subject_id, actor=customer.world.principal(),
                    request_id=REQUEST)
    assert _audience(session, customer) == "restricted"
    restrict_person(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=REQUEST)
    assert active_restrictions(session, customer.world.id, [customer.subject_id]) == {
        customer.subject_id: {RestrictionKind.RESTRICT}}  # asking twice keeps one restriction
    assert lift_restriction(session, customer.world.id, customer.subject_id, actor=Actor.system(),
                            request_id=REQUEST) == 1
    assert _audience(session, customer) == "ok"
    assert len(_fulfilled(session, customer.world.id, "restrict")) == 2


def test_objections_to_marketing_and_to_automated_decisions(session, customer):
    object_to_automated(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=REQUEST)
    assert active_restrictions(session, customer.world.id, [customer.subject_id])[customer.subject_id] == {
        RestrictionKind.OBJECT_AUTOMATED}
    object_to_marketing(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=REQUEST)
    assert _audience(session, customer) == "objected"
    assert {e.details["right"] for e in session.scalars(select(AuditEvent).where(
        AuditEvent.action == "privacy.right_fulfilled", AuditEvent.tenant_id == customer.world.id))} == {
        "object_automated", "object_marketing"}


def test_other_people_are_untouched(session, customer, tenant_a, store):
    other = make_customer(session, tenant_a, store, name="Budi Santoso", email="budi@contoh.example",
                          phone="0813-1111-2222")
    restrict_person(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=None)
    delete_person(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=None, notify=None)
    assert _audience(session, other) == "ok"
    assert _fresh_contact(session, other).full_name == "Budi Santoso"


# -- erasure ---------------------------------------------------------------------------------------
def test_delete_person_tells_them_first_ends_consents_then_shreds(session, customer):
    seen: list[str] = []

    def notify() -> None:
        # At this moment the person's address still reads, and nothing was erased yet.
        contact = _fresh_contact(session, customer)
        seen.append(str(contact.emails[0].email))
        assert _audience(session, customer) == "ok"

    record = delete_person(session, customer.world.id, customer.subject_id, actor=customer.world.principal(),
                           request_id=REQUEST, notify=notify)
    assert seen == [EMAIL]
    assert isinstance(record, ErasureRecord) and record.reason == "subject-request"
    assert record.reference == str(REQUEST)
    assert _audience(session, customer) == "erased"
    withdrawn = [e for e in session.scalars(select(AuditEvent).where(
        AuditEvent.tenant_id == customer.world.id, AuditEvent.subject_id == customer.subject_id,
        AuditEvent.action == "consent.withdrawn"))]
    assert len(withdrawn) == 2  # both consents ended before the key went
    # The won deal is a record the law keeps: it stays, with its value, without identity.
    session.expire_all()
    won = session.get(Deal, (customer.world.id, customer.won_deal.id))
    assert won.status == "won" and won.value == 2_500_000 and won.title == ERASED
    assert _fresh_contact(session, customer).full_name == ERASED
    assert verify(session, customer.world.id)[1] == []
    # Asking again only records the request.
    again = delete_person(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=REQUEST,
                          notify=None)
    assert again.erased_at == record.erased_at


def test_when_telling_the_person_fails_nothing_is_erased(session, customer):
    def notify() -> None:
        raise RuntimeError("mail server down")

    with pytest.raises(RuntimeError):
        delete_person(session, customer.world.id, customer.subject_id, actor=Actor.system(), request_id=REQUEST,
                      notify=notify)
    assert _fresh_contact(session, customer).full_name == NAME and _audience(session, customer) == "ok"


def test_unknown_people_and_other_tenants_cannot_be_deleted(session, customer, tenant_b):
    called = []
    with pytest.raises(NotFound):
        delete_person(session, tenant_b.id, customer.subject_id, actor=Actor.system(), request_id=None,
                      notify=lambda: called.append(1))
    assert called == [] and _fresh_contact(session, customer).full_name == NAME


# -- a guardian's removal request (H2) -------------------------------------------------------------
def test_a_guardian_removes_a_child_and_ends_the_subscriptions(session, tenant_a, store):
    child = make_customer(session, tenant_a, store, name="Putri Ayu", email="putri.ayu@contoh.example",
                          phone="0812-9999-0001", birth_date="2013-05-01")
    # A child's marketing consent counts only from a guardian (H3).
    record_consent(session, child.contact.subject, ConsentPurpose.MARKETING_SMS, True, method=ConsentMethod.FORM,
                   actor=Actor.system(), birth_date=child.contact.birth_date,
                   guardian={"name": "Ibu Ratna", "relation": "ibu"})
    told = []
    record = guardian_removal(session, tenant_a.id, child.subject_id, actor=tenant_a.principal(), request_id=REQUEST,
                              notify=lambda: told.append(True), guardian={"name": "Ibu Ratna", "relation": "ibu"})
    assert told == [True] and record.reason == "guardian-request"
    withdrawals = list(session.scalars(select(ConsentEvent).where(
        ConsentEvent.subject_id == child.subject_id, ConsentEvent.granted.is_(False))))
    assert {w.purpose for w in withdrawals} == {"marketing.whatsapp", "marketing.email", "marketing.sms"}
    assert {w.method for w in withdrawals} == {ConsentMethod.GUARDIAN.value}
    assert all(w.by_guardian for w in withdrawals)
    assert _audience(session, child) == "erased"
    assert _fresh_contact(session, child).full_name == ERASED
    assert {e.details["right"] for e in session.scalars(select(AuditEvent).where(
        AuditEvent.action == "privacy.right_fulfilled", AuditEvent.subject_id == child.subject_id))} == {
        "guardian_withdrawal", "guardian_erasure"}


@pytest.mark.parametrize("birth_date", ["1990-04-12", ""])
def test_a_guardian_cannot_remove_an_adult_or_someone_of_unknown_age(session, tenant_a, store, birth_date):
    person = make_customer(session, tenant_a, store, name="Dewi Lestari", email="dewi@contoh.example",
                           phone="0812-9999-0002", birth_date=birth_date)
    told = []
    with pytest.raises(NotAChild):
        guardian_removal(session, tenant_a.id, person.subject_id, actor=Actor.system(), request_id=REQUEST,
                         notify=lambda: told.append(True))
    assert told == [] and _audience(session, person) == "ok"
    assert _fresh_contact(session, person).full_name == "Dewi Lestari"

"""The consent ledger: append-only proof, current state, children need a guardian, restrictions stop marketing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from niaga.kit.errors import ValidationFailed
from niaga.privacy.audit import Actor, AuditEvent
from niaga.privacy.consent import (
    ConsentEvent,
    ConsentMethod,
    ConsentPurpose,
    RestrictionKind,
    current_consents,
    has_consent,
    is_child,
    lift,
    marketing_audience,
    proof_of_consent,
    record_consent,
    restrict,
    withdraw_all,
)
from niaga.privacy.erasure import erase_subject
from niaga.privacy.vault import get_vault

WA = ConsentPurpose.MARKETING_WHATSAPP
SYSTEM = Actor.system()


@pytest.fixture
def people(session, tenant_a):
    vault = get_vault()
    subjects = [vault.new_subject(session, tenant_a.id, "contact") for _ in range(5)]
    session.flush()
    return subjects


def test_grant_then_withdraw_keeps_both_events_and_latest_wins(session, people):
    person = people[0]
    record_consent(session, person, WA, True, method=ConsentMethod.CHECKBOX, actor=SYSTEM, channel="web",
                   evidence={"form": "privacy-center", "text_shown": "Kirimi saya promo lewat WhatsApp"})
    assert has_consent(session, person.tenant_id, person.id, WA)
    record_consent(session, person, WA, False, method=ConsentMethod.CHAT_KEYWORD, actor=SYSTEM, channel="whatsapp")
    assert not has_consent(session, person.tenant_id, person.id, WA)
    events = list(session.scalars(select(ConsentEvent).where(ConsentEvent.subject_id == person.id)))
    assert [e.granted for e in sorted(events, key=lambda e: (e.at, e.id))] == [True, False]
    proof = proof_of_consent(session, person.tenant_id, person.id)
    assert proof[0]["policy_version"] and proof[0]["evidence"]["text_shown"].startswith("Kirimi")
    assert proof[1]["method"] == "chat_keyword"
    state = current_consents(session, person.tenant_id, person.id)
    assert state[WA].granted is False and state[ConsentPurpose.MARKETING_EMAIL].at is None


def test_consent_is_per_purpose_not_bundled(session, people):
    person = people[0]
    record_consent(session, person, ConsentPurpose.MARKETING_EMAIL, True, method=ConsentMethod.FORM, actor=SYSTEM)
    assert has_consent(session, person.tenant_id, person.id, ConsentPurpose.MARKETING_EMAIL)
    assert not has_consent(session, person.tenant_id, person.id, WA)


def test_child_marketing_needs_guardian_recorded_as_such(session, people):
    child = people[1]
    born = date(date.today().year - 15, 1, 1)
    assert is_child(born) and not is_child(date(1990, 1, 1)) and not is_child(None)
    with pytest.raises(ValidationFailed) as refused:
        record_consent(session, child, WA, True, method=ConsentMethod.CHECKBOX, actor=SYSTEM, birth_date=born)
    assert "guardian" in refused.value.errors
    event = record_consent(session, child, WA, True, method=ConsentMethod.FORM, actor=SYSTEM, birth_date=born,
                           guardian={"name": "Ibu Sari", "relation": "ibu"})
    assert event.method == "guardian" and event.by_guardian
    assert event.evidence["guardian"]["name"] == "Ibu Sari"
    # Withdrawal never needs a guardian.
    record_consent(session, child, WA, False, method=ConsentMethod.CHAT_KEYWORD, actor=SYSTEM, birth_date=born)


def test_audience_skips_with_reasons(session, people):
    granted, withdrawn, never, restricted, objected = people
    for p in (granted, withdrawn, restricted, objected):
        record_consent(session, p, WA, True, method=ConsentMethod.FORM, actor=SYSTEM)
    record_consent(session, withdrawn, WA, False, method=ConsentMethod.CHAT_KEYWORD, actor=SYSTEM)
    restrict(session, restricted, RestrictionKind.RESTRICT, SYSTEM)
    restrict(session, objected, RestrictionKind.OBJECT_MARKETING, SYSTEM)
    decisions = {d.subject_id: d for d in marketing_audience(session, granted.tenant_id, WA, [p.id for p in people])}
    assert decisions[granted.id].allowed and decisions[granted.id].reason == "ok"
    assert decisions[withdrawn.id].reason == "withdrawn"
    assert decisions[never.id].reason == "no-consent"
    assert decisions[restricted.id].reason == "restricted"
    assert decisions[objected.id].reason == "objected"
    assert sum(d.allowed for d in decisions.values()) == 1
    # Lifting the restriction makes the person reachable again (their consent still stands).
    lift(session, restricted, RestrictionKind.RESTRICT, SYSTEM)
    again = {d.subject_id: d for d in marketing_audience(session, granted.tenant_id, WA, [restricted.id])}
    assert again[restricted.id].allowed


def test_erased_person_is_never_in_an_audience(session, people):
    person = people[0]
    record_consent(session, person, WA, True, method=ConsentMethod.FORM, actor=SYSTEM)
    withdraw_all(session, person, SYSTEM, ConsentMethod.REQUEST)
    erase_subject(session, person.tenant_id, person.id, SYSTEM, reason="request")
    [decision] = marketing_audience(session, person.tenant_id, WA, [person.id])
    assert decision.reason == "erased" and not decision.allowed
    with pytest.raises(ValidationFailed):
        record_consent(session, person, WA, True, method=ConsentMethod.FORM, actor=SYSTEM)


def test_consent_events_are_audited_without_personal_values(session, people):
    person = people[0]
    record_consent(session, person, ConsentPurpose.MARKETING_EMAIL, True, method=ConsentMethod.FORM, actor=SYSTEM,
                   evidence={"email_shown": "siti@contoh.example"})
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "consent.granted"))
    assert event.subject_id == person.id and event.details["purpose"] == "marketing.email"
    assert "siti@contoh.example" not in str(event.details)

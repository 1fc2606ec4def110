"""Tickets through the service: numbers, statuses, replies, SLA clocks in business time, erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.crm.service_desk import clocks, service, sla_settings
from niaga.crm.service_desk.models import Ticket, TicketComment, TicketEvent
from niaga.identity.permissions import Role
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.privacy.audit import AuditEvent
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import ERASED
from niaga.privacy.audit import Actor
from tests.crm.service_desk.helpers import count, make_contact, make_team, wib

MON, TUE, WED = 23, 24, 25


@pytest.fixture
def desk(session, tenant_a):  # noqa: ANN001, ANN201
    """Tenant A with default targets: normal = 1 hour to answer, 8 hours to resolve."""
    owner = tenant_a.principal()
    sla_settings.save_default_policies(session, owner, {"normal": ("60", "480"), "urgent": ("15", "120"),
                                                        "low": ("", "")})
    contact = make_contact(session, tenant_a, "Budi Hartono", email="budi@pelanggan.example")
    return tenant_a, owner, contact


def open_ticket(session, principal, contact, when, **data):  # noqa: ANN001, ANN003, ANN201
    body = {"contact_id": str(contact.id), "title": "Pesanan belum sampai", "description": "Sudah 5 hari.", **data}
    return service.create_ticket(session, principal, body, now=when)


def test_numbers_start_at_1001_per_tenant(session, desk, tenant_b):  # noqa: ANN001
    tenant, owner, contact = desk
    first = open_ticket(session, owner, contact, wib(MON, 9))
    second = open_ticket(session, owner, contact, wib(MON, 10))
    other = make_contact(session, tenant_b, "Sari Dewi")
    theirs = open_ticket(session, tenant_b.principal(), other, wib(MON, 9))
    assert (first.number, second.number, theirs.number) == (1001, 1002, 1001)


def test_a_new_ticket_is_new_assigned_to_its_opener_and_sealed(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9), priority="urgent", channel="whatsapp")
    assert (ticket.status, ticket.priority, ticket.channel) == ("new", "urgent", "whatsapp")
    assert ticket.assignee_id == tenant.owner.id and ticket.subject_id == contact.subject_id
    raw = session.execute(select(Ticket.title_sealed).where(Ticket.id == ticket.id)).scalar_one()
    assert b"Pesanan" not in raw
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "ticket.created"))
    assert event.target_id == ticket.id.hex and "Pesanan" not in str(event.details)


def test_the_sla_clock_counts_business_hours_only(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 16, 30))  # normal: 60 / 480 minutes
    cal = sla_settings.tenant_calendar(session, tenant.id)
    assert ticket.response_due_at == wib(TUE, 8, 30)
    assert ticket.resolution_due_at == wib(TUE, 15, 30)
    evening = clocks.views(cal, ticket, wib(MON, 20))
    assert evening["response"].state == "running" and evening["response"].used_minutes == 30
    assert not evening["response"].at_risk
    next_morning = clocks.views(cal, ticket, wib(TUE, 8, 20))
    assert next_morning["response"].at_risk and not next_morning["response"].breached
    late = clocks.views(cal, ticket, wib(TUE, 8, 31))
    assert late["response"].state == "breached"


def test_the_first_public_reply_records_the_first_response_and_opens_the_ticket(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    service.add_comment(session, owner, ticket, {"body": "Catatan: cek gudang", "public": False}, now=wib(MON, 9, 5))
    assert ticket.first_responded_at is None and ticket.status == "new"
    service.add_comment(session, owner, ticket, {"body": "Baik Pak, kami cek."}, now=wib(MON, 9, 40))
    assert ticket.first_responded_at == wib(MON, 9, 40) and ticket.status == "open"
    cal = sla_settings.tenant_calendar(session, tenant.id)
    response = clocks.view(cal, ticket, "response", wib(TUE, 9))
    assert response.state == "met" and response.used_minutes == 40 and ticket.response_due_at is None
    service.add_comment(session, owner, ticket, {"body": "Sudah dikirim ulang."}, now=wib(MON, 11))
    assert ticket.first_responded_at == wib(MON, 9, 40)  # later replies do not move it
    kinds = [type(i).__name__ for i in service.thread(session, ticket)]
    assert kinds == ["TicketComment", "TicketComment", "TicketEvent", "TicketComment"]  # reply, then its effect


def test_a_late_first_reply_is_a_breach(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    service.add_comment(session, owner, ticket, {"body": "Maaf terlambat."}, now=wib(MON, 10, 1))
    cal = sla_settings.tenant_calendar(session, tenant.id)
    assert clocks.view(cal, ticket, "response", wib(MON, 11)).state == "breached" and ticket.response_breached


def test_pending_pauses_the_clock_and_the_customers_answer_resumes_it(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    service.add_comment(session, owner, ticket, {"body": "Mohon kirim nomor resi."}, now=wib(MON, 9, 30))
    service.update_ticket(session, owner, ticket, {"status": "pending"}, now=wib(MON, 10))
    assert ticket.resolution_running_since is None and ticket.resolution_due_at is None
    assert ticket.resolution_used_seconds == 60 * 60
    cal = sla_settings.tenant_calendar(session, tenant.id)
    paused = clocks.view(cal, ticket, "resolution", wib(WED, 10))
    assert paused.state == "paused" and paused.used_minutes == 60
    service.add_comment(session, owner, ticket, {"body": "Resi JNE 123", "from_customer": True}, now=wib(WED, 10))
    assert ticket.status == "open" and ticket.resolution_due_at == wib(WED, 17)  # 7 business hours left
    service.update_ticket(session, owner, ticket, {"status": "resolved"}, now=wib(WED, 11))
    resolution = clocks.view(cal, ticket, "resolution", wib(WED, 18))
    assert resolution.state == "met" and resolution.used_minutes == 120 and ticket.resolved_at == wib(WED, 11)


def test_reopening_a_resolved_ticket_resumes_its_clock(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    service.update_ticket(session, owner, ticket, {"status": "resolved"}, now=wib(MON, 10))
    service.update_ticket(session, owner, ticket, {"status": "open"}, now=wib(TUE, 9))
    assert ticket.resolved_at is None and ticket.resolution_due_at == wib(TUE, 16)
    service.update_ticket(session, owner, ticket, {"status": "closed"}, now=wib(TUE, 9, 30))
    assert ticket.closed_at == wib(TUE, 9, 30) and ticket.resolution_due_at is None


@pytest.mark.parametrize("old, new", [("closed", "new"), ("closed", "open"), ("open", "new"),
                                      ("resolved", "pending")])
def test_transitions_that_are_not_allowed(session, desk, old, new):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    path = {"closed": ["closed"], "open": ["open"], "resolved": ["resolved"]}[old]
    for step in path:
        service.update_ticket(session, owner, ticket, {"status": step}, now=wib(MON, 10))
    events_before = count(session, TicketEvent, ticket_id=ticket.id)
    with pytest.raises(ValidationFailed) as refused:
        service.update_ticket(session, owner, ticket, {"status": new, "priority": "urgent"}, now=wib(MON, 11))
    assert "status" in refused.value.errors
    assert ticket.status == old and ticket.priority == "normal"
    assert count(session, TicketEvent, ticket_id=ticket.id) == events_before


def test_a_closed_ticket_takes_no_more_replies(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    service.update_ticket(session, owner, ticket, {"status": "closed"}, now=wib(MON, 10))
    with pytest.raises(Conflict):
        service.add_comment(session, owner, ticket, {"body": "Halo?"}, now=wib(MON, 11))
    assert count(session, TicketComment, ticket_id=ticket.id) == 0


def test_raising_the_priority_tightens_the_targets(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    service.update_ticket(session, owner, ticket, {"priority": "urgent"}, now=wib(MON, 9, 10))
    assert ticket.response_target_minutes == 15 and ticket.response_due_at == wib(MON, 9, 15)
    service.update_ticket(session, owner, ticket, {"priority": "low"}, now=wib(MON, 9, 20))
    assert ticket.response_target_minutes is None and not ticket.response_breached


def test_a_contacts_own_policy_overrides_the_default(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    sla_settings.save_contact_policy(session, owner, contact, "normal", "15", "")
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    assert ticket.response_target_minutes == 15 and ticket.resolution_target_minutes == 480
    other = make_contact(session, tenant, "Wati Susanti")
    assert open_ticket(session, owner, other, wib(MON, 9)).response_target_minutes == 60


def test_changing_the_hours_moves_running_deadlines(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 16, 30))
    assert ticket.response_due_at == wib(TUE, 8, 30)
    week = {d: ("08:00", "20:00") for d in range(5)}
    sla_settings.save_week(session, owner, week)
    assert ticket.response_due_at == wib(MON, 17, 30)
    sla_settings.add_holiday(session, owner, "2026-11-24", "Cuti bersama")
    sla_settings.save_week(session, owner, {d: ("08:00", "17:00") for d in range(5)})
    assert ticket.response_due_at == wib(WED, 8, 30)


def test_lists_filter_by_sla_state(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    late = open_ticket(session, owner, contact, wib(MON, 9))
    risky = open_ticket(session, owner, contact, wib(MON, 9, 40))
    fine = open_ticket(session, owner, contact, wib(MON, 10))
    paused = open_ticket(session, owner, contact, wib(MON, 9))
    service.update_ticket(session, owner, paused, {"status": "pending"}, now=wib(MON, 9, 5))
    now = wib(MON, 10, 30)

    def numbers(**flt):  # noqa: ANN003, ANN202
        rows, _ = service.list_tickets(session, owner, service.check_filter(flt), now=now)
        return {t.number for t in rows}

    assert numbers(sla="breached") == {late.number}
    assert numbers(sla="at_risk") == {risky.number}
    assert numbers(status="pending") == {paused.number}
    assert fine.number in numbers(status="new")
    with pytest.raises(ValidationFailed):
        service.check_filter({"sla": "soon"})


def test_assignee_and_contact_must_belong_to_the_tenant(session, desk, tenant_b):  # noqa: ANN001
    tenant, owner, contact = desk
    outsider = tenant_b.owner
    their_contact = make_contact(session, tenant_b, "Orang Lain")
    before = count(session, Ticket)
    with pytest.raises(ValidationFailed) as refused:
        open_ticket(session, owner, contact, wib(MON, 9), assignee_id=str(outsider.id))
    assert set(refused.value.errors) == {"assignee_id"}
    with pytest.raises(ValidationFailed) as refused:
        open_ticket(session, owner, their_contact, wib(MON, 9))
    assert set(refused.value.errors) == {"contact_id"}
    cashier = tenant.add_staff(session, Role.CASHIER)
    with pytest.raises(ValidationFailed):
        open_ticket(session, owner, contact, wib(MON, 9), assignee_id=str(cashier.id))
    assert count(session, Ticket) == before


@pytest.mark.parametrize("data, field", [
    ({"priority": "critical"}, "priority"), ({"channel": "fax"}, "channel"), ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"), ({"description": "y" * 20_001}, "description"), ({"title": 5}, "title"),
    ({"team_id": "not-a-team"}, "team_id"),
])
def test_bad_ticket_input_is_refused_with_the_field(session, desk, data, field):  # noqa: ANN001
    tenant, owner, contact = desk
    before = count(session, Ticket)
    with pytest.raises(ValidationFailed) as refused:
        open_ticket(session, owner, contact, wib(MON, 9), **data)
    assert field in refused.value.errors and count(session, Ticket) == before


def test_agents_see_their_own_and_their_teams_tickets(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    agent = tenant.add_staff(session, Role.AGENT, name="Agen Satu")
    colleague = tenant.add_staff(session, Role.AGENT, name="Agen Dua")
    team = make_team(session, tenant, "Layanan Jogja", agent, colleague)
    mine = open_ticket(session, owner, contact, wib(MON, 9), assignee_id=str(agent.id))
    teams = open_ticket(session, owner, contact, wib(MON, 9), assignee_id=str(colleague.id), team_id=str(team.id))
    hidden = open_ticket(session, owner, contact, wib(MON, 9), assignee_id=str(colleague.id))
    principal = tenant.principal(agent)
    rows, _ = service.list_tickets(session, principal, service.TicketFilter())
    assert {t.id for t in rows} == {mine.id, teams.id}
    with pytest.raises(NotFound):
        service.get_ticket(session, principal, hidden.id)
    auditor = tenant.principal(tenant.add_staff(session, Role.AUDITOR))
    assert len(service.list_tickets(session, auditor, service.TicketFilter())[0]) == 3


def test_erasing_the_contact_shreds_the_ticket_text(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    comment = service.add_comment(session, owner, ticket, {"body": "Alamat: Jl. Kaliurang 5"}, now=wib(MON, 9, 5))
    erase_subject(session, tenant.id, contact.subject_id, Actor.system(), "subject-request")
    session.expire_all()
    ticket = session.get(Ticket, (tenant.id, ticket.id))
    assert ticket.title == ERASED and ticket.description == ERASED
    assert session.get(TicketComment, (tenant.id, comment.id)).body == ERASED
    assert ticket.number == 1001 and ticket.status == "open"  # the record survives without identity
    with pytest.raises(Conflict):
        service.add_comment(session, owner, ticket, {"body": "lagi"}, now=wib(MON, 10))
    service.update_ticket(session, owner, ticket, {"status": "resolved"}, now=wib(MON, 10))
    with pytest.raises(ValidationFailed):
        service.update_ticket(session, owner, ticket, {"title": "baru"}, now=wib(MON, 10))


def test_sla_targets_and_hours_are_validated(session, desk):  # noqa: ANN001
    tenant, owner, _ = desk
    with pytest.raises(ValidationFailed) as refused:
        sla_settings.save_week(session, owner, {0: ("17:00", "08:00"), 1: ("8", "17:00"), 2: ("08:00", "24:30")})
    assert set(refused.value.errors) == {"closes_0", "opens_1", "closes_2"}
    with pytest.raises(ValidationFailed) as refused:
        sla_settings.save_week(session, owner, {})
    assert set(refused.value.errors) == {"week"}
    with pytest.raises(ValidationFailed) as refused:
        sla_settings.save_default_policies(session, owner, {"high": ("120", "60"), "urgent": ("-5", "abc")})
    assert set(refused.value.errors) == {"high_resolution", "urgent_first_response", "urgent_resolution"}
    with pytest.raises(ValidationFailed):
        sla_settings.add_holiday(session, owner, "2026-02-30", "")
    sla_settings.add_holiday(session, owner, "2026-12-25", "Natal")
    with pytest.raises(ValidationFailed):
        sla_settings.add_holiday(session, owner, "2026-12-25", "Natal lagi")
    assert sla_settings.parse_target("4:30") == (True, 270) and sla_settings.parse_target("0") == (False, 0)


def test_timestamps_are_stored_in_utc(session, desk):  # noqa: ANN001
    tenant, owner, contact = desk
    ticket = open_ticket(session, owner, contact, wib(MON, 9))
    session.expire_all()
    stored = session.get(Ticket, (tenant.id, ticket.id))
    assert stored.created_at.utcoffset() == timedelta(0) and stored.created_at == wib(MON, 9)

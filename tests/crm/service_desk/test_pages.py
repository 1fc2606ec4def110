"""Service-desk pages as staff use them: lists, a new ticket, replying, status buttons, tasks, SLA settings."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from niaga.crm.service_desk import activities, service, sla_settings
from niaga.crm.service_desk.models import Activity, BusinessHours, Holiday, SlaPolicy, Ticket, TicketComment
from niaga.identity.permissions import Role
from niaga.privacy.audit import Actor
from niaga.privacy.erasure import erase_subject
from niaga.web.i18n import gettext_for
from tests.conftest import browser_login
from tests.crm.service_desk.helpers import count, make_contact
from tests.identity.helpers import form_token, post_form

ID = gettext_for("id")  # what an Indonesian-speaking staff member reads


@pytest.fixture
def desk(client, session, tenant_a, settings):  # noqa: ANN001, ANN201
    owner = tenant_a.principal()
    sla_settings.save_default_policies(session, owner, {"normal": ("60", "480")})
    contact = make_contact(session, tenant_a, "Budi Hartono", email="budi@pelanggan.example", phone="081234500001")
    session.commit()
    browser_login(client, session, tenant_a.owner, settings)
    return owner, contact


def open_ticket(session, principal, contact, **data):  # noqa: ANN001, ANN003, ANN201
    ticket = service.create_ticket(session, principal, {"contact_id": str(contact.id), "title": "Pesanan belum sampai",
                                                        **data})
    session.commit()
    return ticket


def test_a_new_ticket_found_by_the_customers_phone(client, session, desk):  # noqa: ANN001
    page = client.get("/tickets/new")
    assert page.status_code == 200 and "Pelanggan" in page.text
    resp = post_form(client, "/tickets", {"customer": "0812-3450-0001", "title": "Tas rusak", "priority": "high",
                                          "channel": "whatsapp", "description": "Resleting lepas"},
                     form_page="/tickets/new")
    assert resp.status_code == 303 and re.fullmatch(r"/tickets/[0-9a-f-]{36}\?saved=1", resp.headers["location"])
    ticket = client.get(resp.headers["location"])
    assert "#1001 Tas rusak" in ticket.text and "Resleting lepas" in ticket.text and "WhatsApp" in ticket.text
    assert "Budi Hartono" in ticket.text


def test_a_new_ticket_from_the_contacts_page_keeps_the_contact(client, session, desk):  # noqa: ANN001
    _, contact = desk
    page = client.get(f"/tickets/new?contact_id={contact.id}")
    assert "Budi Hartono" in page.text and f'value="{contact.id}"' in page.text
    resp = client.post("/tickets", data={"contact_id": str(contact.id), "title": "Tanya ongkir", "priority": "normal",
                                         "channel": "manual", "csrf_token": form_token(page.text)},
                       follow_redirects=False)
    assert resp.status_code == 303 and count(session, Ticket) == 1


@pytest.mark.parametrize("form, message", [
    ({"customer": "tidak@ada.example", "title": "x"},
     "No customer matches this email, phone number or name. Add the customer first."),
    ({"customer": "", "title": "x"}, "Enter the customer's email, phone number or name."),
    ({"customer": "budi@pelanggan.example", "title": ""}, "This field is required."),
    ({"customer": "budi@pelanggan.example", "title": "x", "priority": "kritis"},
     "Choose a priority: low, normal, high or urgent."),
])
def test_a_refused_new_ticket_shows_why_and_keeps_what_was_typed(client, session, desk, form, message):  # noqa: ANN001
    resp = post_form(client, "/tickets", {"priority": "normal", "channel": "manual", **form}, form_page="/tickets/new")
    assert resp.status_code == 422 and escape(ID(message)) in resp.text
    if form["customer"]:
        assert form["customer"] in resp.text  # typed back into the form, not put in a URL
    assert count(session, Ticket) == 0


def test_replying_then_resolving_from_the_ticket_page(client, session, desk):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    url = f"/tickets/{ticket.id}"
    page = client.get(url)
    assert ID("First response") in page.text and ID("Due {time}", time="") in page.text and "WIB" in page.text
    resp = post_form(client, f"{url}/comments", {"kind": "reply", "body": "Paket dikirim ulang besok."},
                     form_page=url)
    assert resp.status_code == 303
    page = client.get(url)
    assert "Paket dikirim ulang besok." in page.text and ID("Answered {time}", time="") in page.text
    assert 'data-testid="clock-response"><span class="sd-badge sd-met">' in page.text
    resp = post_form(client, url, {"status": "resolved"}, form_page=url)
    assert resp.status_code == 303
    session.expire_all()
    stored = session.get(Ticket, (ticket.tenant_id, ticket.id))
    assert stored.status == "resolved" and stored.first_responded_at is not None
    assert f'data-testid="set-open">{ID("Reopen")}' in client.get(url).text


def test_a_note_does_not_count_as_a_response(client, session, desk):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    url = f"/tickets/{ticket.id}"
    post_form(client, f"{url}/comments", {"kind": "note", "body": "Cek stok dulu", "then_status": ""}, form_page=url)
    session.expire_all()
    assert session.get(Ticket, (ticket.tenant_id, ticket.id)).first_responded_at is None
    assert ID("Internal note") in client.get(url).text


def test_reply_and_wait_on_the_customer_in_one_go(client, session, desk):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    url = f"/tickets/{ticket.id}"
    post_form(client, f"{url}/comments", {"kind": "reply", "body": "Mohon kirim foto.", "then_status": "pending"},
              form_page=url)
    session.expire_all()
    stored = session.get(Ticket, (ticket.tenant_id, ticket.id))
    assert stored.status == "pending" and stored.resolution_running_since is None
    assert ID("Paused") in client.get(url).text


def test_refused_changes_on_the_ticket_page(client, session, desk):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    url = f"/tickets/{ticket.id}"
    service.update_ticket(session, owner, ticket, {"status": "closed"})
    session.commit()
    resp = post_form(client, url, {"status": "new"}, form_page=url)
    assert resp.status_code == 422 and ID("A closed ticket cannot change. Open a new ticket instead.") in resp.text
    resp = post_form(client, f"{url}/comments", {"kind": "reply", "body": "Halo?"}, form_page=url)
    assert resp.status_code == 409 and count(session, TicketComment) == 0
    open_one = open_ticket(session, owner, contact)
    other_url = f"/tickets/{open_one.id}"
    resp = post_form(client, other_url, {"assignee_id": "00000000-0000-7000-8000-000000000000"}, form_page=other_url)
    assert resp.status_code == 422
    resp = post_form(client, f"{other_url}/comments", {"kind": "reply", "body": " "}, form_page=other_url)
    assert resp.status_code == 422 and count(session, TicketComment) == 0


def test_forms_without_the_csrf_token_are_refused(client, session, desk):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    resp = client.post(f"/tickets/{ticket.id}", data={"status": "closed"}, follow_redirects=False)
    assert resp.status_code == 403
    session.expire_all()
    assert session.get(Ticket, (ticket.tenant_id, ticket.id)).status == "new"


def test_the_list_filters_and_marks_sla_state(client, session, desk, tenant_a):  # noqa: ANN001
    owner, contact = desk
    first = open_ticket(session, owner, contact, priority="urgent")
    open_ticket(session, owner, contact)
    session.execute(Ticket.__table__.update().where(Ticket.id == first.id).values(response_breached=True))
    session.commit()
    page = client.get("/tickets")
    assert page.text.count('data-testid="ticket-row"') == 2 and ID("Breached") in page.text
    breached = client.get("/tickets?sla=breached")
    assert breached.text.count('data-testid="ticket-row"') == 1
    assert client.get("/tickets?priority=low").text.count('data-testid="ticket-row"') == 0
    assert client.get("/tickets?status=all&assignee=none").text.count('data-testid="ticket-row"') == 0
    assert client.get("/tickets?sla=nanti").status_code == 422


def test_an_agent_sees_only_their_tickets_and_cannot_open_others(client, session, desk, tenant_a, settings):  # noqa: ANN001
    owner, contact = desk
    hidden = open_ticket(session, owner, contact)
    agent = tenant_a.add_staff(session, Role.AGENT, name="Agen Satu")
    mine = open_ticket(session, owner, make_contact(session, tenant_a, "Wati Susanti", owner=agent),
                       assignee_id=str(agent.id))
    browser_login(client, session, agent, settings)
    page = client.get("/tickets")
    assert f"/tickets/{mine.id}" in page.text and f"/tickets/{hidden.id}" not in page.text
    assert client.get(f"/tickets/{hidden.id}").status_code == 404
    assert client.get("/settings/sla").status_code == 403


def test_an_erased_customers_ticket_shows_the_erased_marker(client, session, desk, tenant_a):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    erase_subject(session, tenant_a.id, contact.subject_id, Actor.system(), "subject-request")
    session.commit()
    page = client.get(f"/tickets/{ticket.id}")
    assert page.status_code == 200 and '<span class="erased">' in page.text and "Pesanan belum sampai" not in page.text
    assert "Budi Hartono" not in client.get("/tickets").text


def test_my_tasks_marks_overdue_ones(client, session, desk, tenant_a):  # noqa: ANN001
    owner, contact = desk
    activities.create_activity(session, owner, {"contact_id": str(contact.id), "kind": "task",
                                                "body": "Kirim katalog", "due_at": "2020-01-02T10:00"})
    activities.create_activity(session, owner, {"contact_id": str(contact.id), "kind": "task",
                                                "body": "Telepon balik", "due_at": "2999-01-02T10:00"})
    session.commit()
    page = client.get("/tasks")
    assert page.text.count('data-testid="task"') == 2 and page.text.count('data-overdue="true"') == 1
    assert ID("{count} overdue", count=1) in page.text and ID("Overdue") in page.text
    assert page.text.index("Kirim katalog") < page.text.index("Telepon balik")  # soonest due first
    task_id = session.scalar(select(Activity.id).where(Activity.due_at.is_not(None)).order_by(Activity.due_at))
    resp = post_form(client, f"/activities/{task_id}/done", {"done": "1", "next": "/tasks"}, form_page="/tasks")
    assert resp.status_code == 303 and resp.headers["location"] == "/tasks?saved=1"
    page = client.get("/tasks")
    assert page.text.count('data-testid="task"') == 1 and ID("Recently done") in page.text


def test_logging_an_activity_from_a_ticket(client, session, desk):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    form_page = f"/activities/new?ticket_id={ticket.id}&next=/tickets/{ticket.id}"
    page = client.get(form_page)
    assert "#1001" in page.text and "Budi Hartono" in page.text
    resp = post_form(client, "/activities", {"contact_id": str(contact.id), "ticket_id": str(ticket.id),
                                             "kind": "call", "body": "Sudah ditelepon, aman.", "duration_minutes": "5",
                                             "owner_id": str(owner.user_id), "next": f"/tickets/{ticket.id}"},
                     form_page=form_page)
    assert resp.status_code == 303 and resp.headers["location"] == f"/tickets/{ticket.id}?saved=1"
    assert "Sudah ditelepon, aman." in client.get(f"/tickets/{ticket.id}").text
    refused = post_form(client, "/activities", {"customer": "budi@pelanggan.example", "kind": "task", "body": "x",
                                                "due_at": "kapan-kapan", "next": "https://jahat.example/"},
                        form_page="/activities/new")
    assert refused.status_code == 422 and ID("Enter a date and time such as 2026-11-23 14:30.") in refused.text
    resp = post_form(client, "/activities", {"customer": "budi@pelanggan.example", "kind": "note", "body": "ok",
                                             "next": "https://jahat.example/"}, form_page="/activities/new")
    assert resp.headers["location"] == "/tasks?saved=1"  # never an outside address
    assert count(session, Activity) == 2


def test_sla_settings_save_and_refuse(client, session, desk):  # noqa: ANN001
    page = client.get("/settings/sla")
    assert page.status_code == 200 and ID("Opening hours") in page.text and "WIB" in page.text
    hours = {f"open_{d}": "on" for d in range(5)} | {f"opens_{d}": "09:00" for d in range(5)} | \
        {f"closes_{d}": "18:00" for d in range(5)}
    assert post_form(client, "/settings/sla/hours", hours, form_page="/settings/sla").status_code == 303
    assert count(session, BusinessHours) == 5
    bad = dict(hours, closes_0="07:00")
    resp = post_form(client, "/settings/sla/hours", bad, form_page="/settings/sla")
    assert resp.status_code == 422 and ID("Closing time must be after opening time.") in resp.text
    assert 'value="07:00"' in resp.text
    session.expire_all()
    assert session.scalar(select(BusinessHours.closes_minute).where(BusinessHours.weekday == 0)) == 18 * 60
    resp = post_form(client, "/settings/sla/policies", {"urgent_first_response": "0:30", "urgent_resolution": "4:00"},
                     form_page="/settings/sla")
    assert resp.status_code == 303
    assert session.scalar(select(SlaPolicy.first_response_minutes).where(SlaPolicy.priority == "urgent")) == 30
    resp = post_form(client, "/settings/sla/policies", {"urgent_first_response": "sebentar"}, form_page="/settings/sla")
    assert resp.status_code == 422 and 'value="sebentar"' in resp.text
    resp = post_form(client, "/settings/sla/holidays", {"day": "2026-12-25", "name": "Natal"}, form_page="/settings/sla")
    assert resp.status_code == 303 and "Natal" in client.get("/settings/sla").text
    resp = post_form(client, "/settings/sla/holidays", {"day": "2026-12-25", "name": "Lagi"}, form_page="/settings/sla")
    assert resp.status_code == 422 and count(session, Holiday) == 1
    resp = post_form(client, "/settings/sla/contact-policies", {"customer": "budi@pelanggan.example",
                                                                "priority": "normal", "first_response": "15"},
                     form_page="/settings/sla")
    assert resp.status_code == 303 and "Budi Hartono" in client.get("/settings/sla").text
    resp = post_form(client, "/settings/sla/contact-policies", {"customer": "siapa@ya.example", "priority": "normal",
                                                                "first_response": "15"}, form_page="/settings/sla")
    assert resp.status_code == 422
    assert escape(ID("No customer matches this email, phone number or name. Add the customer first.")) in resp.text


def test_the_report_page(client, session, desk, tenant_a):  # noqa: ANN001
    owner, contact = desk
    ticket = open_ticket(session, owner, contact)
    service.add_comment(session, owner, ticket, {"body": "Siap"})
    session.commit()
    page = client.get("/sla/report")
    assert page.status_code == 200 and ID("Per priority") in page.text and "Rina Kusuma" in page.text
    assert client.get("/sla/report?since=2026-13-01").status_code == 422

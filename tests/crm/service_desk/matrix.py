"""Tenant A's service-desk records for the route matrix (tests/test_route_matrix.py), and the bodies that
would change them if authorization or tenancy failed."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.crm.service_desk import activities, service, sla_settings
from niaga.crm.service_desk.models import Activity, BusinessHours, Holiday, SlaPolicy, Ticket, TicketComment
from tests.crm.service_desk.helpers import make_contact

TICKET_TITLE = "Keluhan Rahasia Sinar"
API_BODIES = {
    ("PATCH", "/api/v1/tickets/{ticket_id}"): {"status": "closed", "title": "Diambil alih"},
    ("POST", "/api/v1/tickets/{ticket_id}/comments"): {"body": "Balasan penyusup"},
    ("PATCH", "/api/v1/activities/{activity_id}"): {"done": True, "body": "Diubah penyusup"},
    ("PUT", "/api/v1/sla/business-hours"): {"hours": [{"weekday": 0, "opens": "00:00", "closes": "01:00"}]},
    ("POST", "/api/v1/sla/holidays"): {"day": "2026-12-31", "name": "Penyusup"},
    ("PUT", "/api/v1/sla/policies"): {"policies": {"normal": {"first_response_minutes": 1}}},
}
PAGE_FORMS = {
    "/tickets/{ticket_id}": {"status": "closed"},
    "/tickets/{ticket_id}/comments": {"body": "Balasan penyusup"},
    "/tickets": {"title": "Tiket penyusup", "customer": "Orang Asing"},
    "/activities": {"kind": "note", "body": "Catatan penyusup"},
    "/activities/{activity_id}/done": {"done": "1"},
    "/settings/sla/hours": {"open_0": "on", "opens_0": "00:00", "closes_0": "01:00"},
    "/settings/sla/policies": {"normal_first_response": "1"},
    "/settings/sla/holidays": {"day": "2026-12-31", "name": "Penyusup"},
    # The typed text is shown back in the refused form, so it must not be one of tenant A's secrets.
    "/settings/sla/contact-policies": {"customer": "pelanggan@sinarabadi.example", "priority": "low",
                                       "first_response": "1"},
}


def records(session: Session, tenant) -> tuple[dict[str, str], list[str]]:  # noqa: ANN001
    """Create one record of each kind for tenant A; returns (path parameters, texts that must not leak)."""
    owner = tenant.principal()
    contact = make_contact(session, tenant, "Pelanggan Rahasia Sinar", email="pelanggan@sinarabadi.example")
    ticket = service.create_ticket(session, owner, {"contact_id": str(contact.id), "title": TICKET_TITLE,
                                                    "description": "Isi rahasia"})
    task = activities.create_activity(session, owner, {"contact_id": str(contact.id), "kind": "task",
                                                       "body": "Tugas Rahasia Sinar"})
    holiday = sla_settings.add_holiday(session, owner, "2026-12-25", "Natal")
    policy = sla_settings.save_contact_policy(session, owner, contact, "urgent", "10", "60")
    session.commit()
    params = {"ticket_id": str(ticket.id), "activity_id": str(task.id), "holiday_id": str(holiday.id),
              "policy_id": str(policy.id)}
    return params, ["Pelanggan Rahasia Sinar", TICKET_TITLE, "Tugas Rahasia Sinar"]


def fingerprint(session: Session, tenant_id: uuid.UUID) -> tuple:
    """What tenant A's service desk looks like."""
    def rows(model) -> int:  # noqa: ANN001
        return session.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id))

    tickets = [(t.number, t.status, str(t.title), t.priority, t.owner_id)
               for t in session.scalars(select(Ticket).where(Ticket.tenant_id == tenant_id))]
    tasks = [(str(a.body), a.done_at) for a in session.scalars(select(Activity).where(Activity.tenant_id == tenant_id))]
    return (tuple(tickets), tuple(tasks), rows(TicketComment), rows(Holiday), rows(SlaPolicy), rows(BusinessHours))

"""The demo business gets a working service desk: targets, hours, holidays, tickets in each state, tasks."""

from __future__ import annotations

from sqlalchemy import select

from niaga.crm.service_desk import activities, clocks, demo, sla_settings
from niaga.crm.service_desk.models import Activity, Holiday, SlaPolicy, Ticket
from niaga.db.base import utcnow
from niaga.demo import seed_demo
from niaga.identity.permissions import Role
from tests.crm.service_desk.helpers import count, make_contact


def test_the_seeder_adds_tickets_in_every_state_and_tasks(session, tenant_a, settings):  # noqa: ANN001
    agent = tenant_a.add_staff(session, Role.AGENT, name="Budi Santoso")
    for name in ("Andi Wijaya", "Sri Lestari", "Yohanes Manurung"):
        make_contact(session, tenant_a, name)
    demo.seed(session, settings, tenant_a.principal())
    tickets = list(session.scalars(select(Ticket).where(Ticket.tenant_id == tenant_a.id).order_by(Ticket.number)))
    assert {t.status for t in tickets} == {"new", "pending", "resolved", "closed"}
    assert [t.number for t in tickets] == [1001, 1002, 1003, 1004, 1005]
    assert any(t.owner_id == agent.id for t in tickets)
    cal = sla_settings.tenant_calendar(session, tenant_a.id)
    urgent = tickets[0]
    assert urgent.priority == "urgent" and clocks.view(cal, urgent, "response", utcnow()).state == "breached"
    assert count(session, SlaPolicy) == 4 and count(session, Holiday) == 6
    open_tasks, _ = activities.my_tasks(session, tenant_a.principal(agent))
    assert len(open_tasks) == 2 and any(activities.is_overdue(t) for t in open_tasks)
    assert count(session, Activity) == 5


def test_the_whole_demo_seeds_without_errors(session, settings):  # noqa: ANN001
    result = seed_demo(session, settings, force=True)
    assert result is not None
    session.flush()
    assert count(session, SlaPolicy) >= 4

"""The demo business gets realistic customers: encrypted, searchable, split between the owner and the agent."""

from __future__ import annotations

from sqlalchemy import func, select

from niaga.crm.contacts import demo, service
from niaga.crm.contacts.repository import ContactFilter
from niaga.crm.models import Company, Contact
from niaga.identity.permissions import Role


def test_the_seeder_adds_thirty_customers_and_five_companies(session, tenant_a, settings):  # noqa: ANN001
    agent = tenant_a.add_staff(session, Role.AGENT, name="Budi Santoso")
    demo.seed(session, settings, tenant_a.principal())
    session.flush()
    assert session.scalar(select(func.count()).select_from(Contact)) == len(demo.DEMO_CONTACTS) == 30
    assert session.scalar(select(func.count()).select_from(Company)) == 5
    everyone = service.list_contacts(session, tenant_a.principal(), ContactFilter(limit=50)).contacts
    assert len(everyone) == 30 and all(c.emails and c.phones for c in everyone)
    seen_by_agent = service.list_contacts(session, tenant_a.principal(agent), ContactFilter(limit=50)).contacts
    own = [c for c in seen_by_agent if c.owner_id == agent.id]
    assert len(own) == sum(1 for row in demo.DEMO_CONTACTS if row[-1])
    assert 0 < len(own) < len(seen_by_agent) < 30  # own ones plus the team's, not everyone's
    [siti] = service.list_contacts(session, tenant_a.principal(), ContactFilter(query="0812 2701 4455")).contacts
    assert siti.full_name == "Siti Aminah" and siti.company_id is not None
    raw = session.execute(select(Contact.__table__.c.full_name).where(Contact.id == siti.id)).scalar()
    assert b"Siti" not in raw

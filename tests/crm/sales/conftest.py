"""A business with sales staff, a team, contacts and companies, for the sales tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from niaga.crm.models import Company, Contact
from niaga.crm.sales import service
from niaga.identity.models import Team, TeamMember, User
from niaga.identity.permissions import Role
from niaga.identity.principal import Principal
from niaga.privacy.vault import get_vault
from tests.conftest import TenantWorld


def make_contact(session: Session, tenant_id, name: str, owner: User | None = None,  # noqa: ANN001
                 team: Team | None = None) -> Contact:
    """A contact with its own key, the way the contacts service stores one."""
    subject = get_vault().new_subject(session, tenant_id, "contact")
    contact = Contact(tenant_id=tenant_id, subject=subject, full_name=name, owner_id=owner.id if owner else None,
                      team_id=team.id if team else None)
    session.add(contact)
    session.flush()
    return contact


def make_company(session: Session, tenant_id, name: str, owner: User | None = None) -> Company:  # noqa: ANN001
    """A company with its own key."""
    subject = get_vault().new_subject(session, tenant_id, "company")
    company = Company(tenant_id=tenant_id, subject=subject, name=name, owner_id=owner.id if owner else None)
    session.add(company)
    session.flush()
    return company


@dataclass
class SalesWorld:
    """Tenant A's owner, a manager, an auditor, two agents in team "Sales Jogja" and one outside it."""

    a: TenantWorld
    owner: User
    manager: User
    auditor: User
    agent: User  # Budi, in the team
    teammate: User  # Sari, in the team
    loner: User  # Joko, in no team
    team: Team
    contact: Contact  # owned by Budi, in the team
    other_contact: Contact  # owned by Joko
    company: Company

    def p(self, user: User) -> Principal:
        """The principal of a staff member."""
        return self.a.principal(user)


@pytest.fixture
def world(session: Session, tenant_a: TenantWorld) -> SalesWorld:
    manager = tenant_a.add_staff(session, Role.MANAGER, name="Maya Manajer")
    auditor = tenant_a.add_staff(session, Role.AUDITOR, name="Agus Auditor")
    agent = tenant_a.add_staff(session, Role.AGENT, name="Budi Santoso")
    teammate = tenant_a.add_staff(session, Role.AGENT, name="Sari Wulan")
    loner = tenant_a.add_staff(session, Role.AGENT, name="Joko Susilo")
    team = Team(tenant_id=tenant_a.id, name="Sales Jogja")
    session.add(team)
    session.flush()
    session.add_all([TeamMember(tenant_id=tenant_a.id, team_id=team.id, user_id=agent.id),
                     TeamMember(tenant_id=tenant_a.id, team_id=team.id, user_id=teammate.id)])
    contact = make_contact(session, tenant_a.id, "Ibu Ratna Sari", owner=agent, team=team)
    other = make_contact(session, tenant_a.id, "Pak Hendra Gunawan", owner=loner)
    company = make_company(session, tenant_a.id, "CV Maju Bersama")
    session.commit()
    return SalesWorld(tenant_a, tenant_a.owner, manager, auditor, agent, teammate, loner, team, contact, other,
                      company)


def new_deal(session: Session, world: SalesWorld, user: User | None = None, **fields) -> service.Deal:  # noqa: ANN003
    """A deal for the team's contact, owned by `user` (Budi by default), committed."""
    user = user or world.agent
    fields.setdefault("title", "Renovasi dapur")
    fields.setdefault("value", 15_000_000)
    if "company_id" not in fields:
        fields.setdefault("contact_id", world.contact.id)
    deal = service.create_deal(session, world.p(user), **fields)
    session.commit()
    return deal

"""Fixtures for contact tests: a tenant with staff in each role, teams, and a few Indonesian customers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from niaga.crm.contacts import service
from niaga.crm.models import Contact
from niaga.identity.models import Team, TeamMember, User
from niaga.identity.permissions import Role
from niaga.identity.principal import Principal
from tests.conftest import TenantWorld


@dataclass
class Shop:
    """Tenant A with one staff member per role, two agents in one team and one outside it."""

    world: TenantWorld
    staff: dict[str, User] = field(default_factory=dict)
    team: Team | None = None

    def p(self, name: str = "owner") -> Principal:
        """The principal of a staff member by name ('owner', 'manager', 'agent', 'teammate', 'loner', …)."""
        return self.world.principal(self.staff[name])

    def contact(self, session: Session, by: str = "owner", **values: object) -> Contact:
        """A contact created through the service (committed, so the app's sessions see it)."""
        contact = service.create_contact(session, self.p(by), dict(values))
        session.commit()
        return contact


def add_team(session: Session, tenant_id, name: str, members: list[User]) -> Team:  # noqa: ANN001
    """A team with members, created directly (the lead's identity tables)."""
    team = Team(tenant_id=tenant_id, name=name)
    session.add(team)
    session.flush()
    for user in members:
        session.add(TeamMember(tenant_id=tenant_id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


@pytest.fixture
def shop(session: Session, tenant_a: TenantWorld) -> Shop:
    staff = {"owner": tenant_a.owner}
    for name, role in (("admin", Role.ADMIN), ("manager", Role.MANAGER), ("agent", Role.AGENT),
                       ("teammate", Role.AGENT), ("loner", Role.AGENT), ("cashier", Role.CASHIER),
                       ("auditor", Role.AUDITOR)):
        staff[name] = tenant_a.add_staff(session, role, name=f"Staf {name.title()}")
    team = add_team(session, tenant_a.id, "Sales Jogja", [staff["agent"], staff["teammate"]])
    session.commit()
    return Shop(tenant_a, staff, team)

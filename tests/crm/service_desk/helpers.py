"""Helpers for service-desk tests: contacts made the way the CRM stores them, local times, counting rows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact, ContactEmail, ContactPhone
from niaga.identity.models import Team, TeamMember, User
from niaga.privacy.vault import get_vault

WIB = ZoneInfo("Asia/Jakarta")


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A WIB wall time in 2026 (23 November 2026 is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def make_contact(session: Session, tenant, name: str = "Budi Hartono", *, email: str | None = None,  # noqa: ANN001
                 phone: str | None = None, owner: User | None = None, team: Team | None = None) -> Contact:
    """A contact (a data subject with its own key), with an email and a phone when given."""
    subject = get_vault().new_subject(session, tenant.id, "contact")
    contact = Contact(tenant_id=tenant.id, subject=subject, full_name=name,
                      owner_id=(owner or tenant.owner).id, team_id=team.id if team else None)
    if email:
        contact.emails.append(ContactEmail(tenant_id=tenant.id, subject=subject, email=email))
    if phone:
        contact.phones.append(ContactPhone(tenant_id=tenant.id, subject=subject, phone=phone))
    session.add(contact)
    session.flush()
    return contact


def make_team(session: Session, tenant, name: str, *members: User) -> Team:  # noqa: ANN001
    """A team of the tenant with members."""
    team = Team(tenant_id=tenant.id, name=name)
    session.add(team)
    session.flush()
    for user in members:
        session.add(TeamMember(tenant_id=tenant.id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


def count(session: Session, model, **where) -> int:  # noqa: ANN001
    """Rows of a model matching column values."""
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return session.scalar(query)

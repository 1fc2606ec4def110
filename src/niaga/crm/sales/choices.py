"""What deal forms and lists need around a deal: the contacts, companies, staff and teams to choose from,
finding a contact by email or phone, and the names shown next to a page of deals (loaded in batches)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Company, Contact, ContactEmail, ContactPhone
from niaga.crm.sales.models import Deal, Stage
from niaga.crm.visibility import can_see, visible
from niaga.identity.models import Team, User
from niaga.identity.principal import Principal
from niaga.privacy.blind_index import find_rows
from niaga.privacy.fields import registered_fields

CHOICE_LIMIT = 100


def _with(rows: list, session: Session, model: type, p: Principal, include: uuid.UUID | None, current: bool) -> list:
    """The list with one more row in front when it is missing: the record the deal already points at
    (`current`: listed even if the editor may not open it, so saving the form keeps it), or the one asked
    for in the query string (only when visible)."""
    if include is None or any(row.id == include for row in rows):
        return rows
    row = session.get(model, (p.tenant_id, include))
    return [row, *rows] if row is not None and (current or can_see(session, p, row)) else rows


def contact_choices(session: Session, p: Principal, limit: int = CHOICE_LIMIT,
                    include: uuid.UUID | None = None, current: bool = False) -> list[Contact]:
    """The newest visible active contacts, for the deal form's list (others are found by email or phone)."""
    rows = list(session.scalars(select(Contact).where(visible(p, Contact), Contact.status == "active")
                                .order_by(Contact.created_at.desc()).limit(limit)))
    return _with(rows, session, Contact, p, include, current)


def company_choices(session: Session, p: Principal, limit: int = CHOICE_LIMIT * 2,
                    include: uuid.UUID | None = None, current: bool = False) -> list[Company]:
    """Visible companies by name."""
    rows = list(session.scalars(select(Company).where(visible(p, Company)).order_by(Company.name).limit(limit)))
    return _with(rows, session, Company, p, include, current)


def contact_name(session: Session, p: Principal, contact_id: uuid.UUID) -> object:
    """A visible contact's name (a personal value: render with pv), else None."""
    contact = session.get(Contact, (p.tenant_id, contact_id))
    return contact.full_name if contact is not None and can_see(session, p, contact) else None


def staff_choices(session: Session, p: Principal) -> list[User]:
    """Active staff who can own a deal."""
    return list(session.scalars(select(User).where(User.tenant_id == p.tenant_id, User.status == "active")
                                .order_by(User.created_at)))


def team_choices(session: Session, p: Principal) -> list[Team]:
    """The business's teams."""
    return list(session.scalars(select(Team).where(Team.tenant_id == p.tenant_id).order_by(Team.name)))


def find_contact(session: Session, p: Principal, email_or_phone: str) -> Contact | None:
    """The visible active contact with this exact email or phone (blind index, nothing decrypted)."""
    text = email_or_phone.strip()
    if not text:
        return None
    model = ContactEmail if "@" in text else ContactPhone
    spec = registered_fields(model)[0]
    for row_id in find_rows(session, p.tenant_id, spec, text):
        row = session.get(model, (p.tenant_id, row_id))
        contact = session.get(Contact, (p.tenant_id, row.contact_id)) if row is not None else None
        if contact is not None and contact.status == "active" and can_see(session, p, contact):
            return contact
    return None


@dataclass
class Related:
    """Contacts, companies, owners and stages of a set of deals, by id."""

    contacts: dict[uuid.UUID, Contact] = field(default_factory=dict)
    companies: dict[uuid.UUID, Company] = field(default_factory=dict)
    owners: dict[uuid.UUID, User] = field(default_factory=dict)
    stages: dict[uuid.UUID, Stage] = field(default_factory=dict)

    def customer(self, deal: Deal) -> object:
        """The contact's name, else the company's name (a personal value: render with pv)."""
        if deal.contact_id in self.contacts:
            return self.contacts[deal.contact_id].full_name
        if deal.company_id in self.companies:
            return self.companies[deal.company_id].name
        return None

    def company_name(self, deal: Deal) -> str:
        """The deal's company name, if any."""
        company = self.companies.get(deal.company_id) if deal.company_id else None
        return company.name if company else ""

    def owner_name(self, deal: Deal) -> object:
        """The owner's name (a personal value: render with pv)."""
        owner = self.owners.get(deal.owner_id) if deal.owner_id else None
        return owner.full_name if owner else None

    def stage_name(self, deal: Deal) -> str:
        """The name of the deal's stage."""
        stage = self.stages.get(deal.stage_id)
        return stage.name if stage else ""


def _by_id(session: Session, model: type, tenant_id: uuid.UUID, ids: set) -> dict:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.tenant_id == tenant_id,
                                                                        model.id.in_(ids)))}


def related(session: Session, p: Principal, deals: list[Deal]) -> Related:
    """Load what a page of deals shows next to each deal, in four queries."""
    return Related(
        contacts=_by_id(session, Contact, p.tenant_id, {d.contact_id for d in deals}),
        companies=_by_id(session, Company, p.tenant_id, {d.company_id for d in deals}),
        owners=_by_id(session, User, p.tenant_id, {d.owner_id for d in deals}),
        stages=_by_id(session, Stage, p.tenant_id, {d.stage_id for d in deals}),
    )

"""Finding the records a service-desk input names: a visible contact, a staff member, a team.

A person is found by exact email, phone or name words through the blind indexes (never by scanning
decrypted values), and only among the contacts the principal may see.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.crm.models import Contact, ContactEmail, ContactPhone
from niaga.crm.visibility import can_see, visible
from niaga.identity.models import Team, User
from niaga.identity.permissions import Perm, has_permission
from niaga.identity.principal import Principal
from niaga.kit.messages import Msg
from niaga.kit.phone import normalize_phone
from niaga.privacy.blind_index import find_rows
from niaga.privacy.fields import registered_fields

MAX_QUERY = 200
NO_SUCH_CONTACT = Msg("No such customer.")


def parse_id(value: object) -> uuid.UUID | None:
    """A UUID from user input, or None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _spec(model: type, column: str):  # noqa: ANN202
    return next(s for s in registered_fields(model) if s.column == column)


def visible_contact(session: Session, principal: Principal, contact_id: uuid.UUID | None) -> Contact | None:
    """The contact with this id if the principal may see it; a merged contact leads to the one it became."""
    if contact_id is None:
        return None
    contact = session.get(Contact, (principal.tenant_id, contact_id))
    if contact is not None and contact.status == "merged" and contact.merged_into_id is not None:
        contact = session.get(Contact, (principal.tenant_id, contact.merged_into_id))
    return contact if contact is not None and can_see(session, principal, contact) else None


def find_contacts(session: Session, principal: Principal, text: str) -> list[Contact]:
    """Visible contacts matching an exact email, a phone number or every word of a name."""
    text = " ".join(text.split())[:MAX_QUERY]
    if not text:
        return []
    if "@" in text:
        rows = find_rows(session, principal.tenant_id, _spec(ContactEmail, "email"), text)
        ids = select(ContactEmail.contact_id).where(ContactEmail.tenant_id == principal.tenant_id,
                                                     ContactEmail.id.in_(rows))
    elif (e164 := normalize_phone(text)) is not None:
        rows = find_rows(session, principal.tenant_id, _spec(ContactPhone, "phone"), e164)
        ids = select(ContactPhone.contact_id).where(ContactPhone.tenant_id == principal.tenant_id,
                                                     ContactPhone.id.in_(rows))
    else:
        ids = find_rows(session, principal.tenant_id, _spec(Contact, "full_name"), text)
    query = (select(Contact).where(visible(principal, Contact), Contact.id.in_(ids), Contact.status != "merged")
             .order_by(Contact.created_at.desc()).limit(20))
    return list(session.scalars(query))


def resolve_contact(session: Session, principal: Principal, contact_id: object, text: str,
                    errors: dict[str, str], key: str = "contact") -> Contact | None:
    """The contact a form names, by id (a link from the contact's page) or by email, phone or name."""
    if contact_id:
        contact = visible_contact(session, principal, parse_id(contact_id))
        if contact is None:
            errors[key] = NO_SUCH_CONTACT
        return contact
    if not text or not text.strip():
        errors[key] = Msg("Enter the customer's email, phone number or name.")
        return None
    found = find_contacts(session, principal, text)
    if not found:
        errors[key] = Msg("No customer matches this email, phone number or name. Add the customer first.")
        return None
    if len(found) > 1:
        errors[key] = Msg("Several customers match. Enter their email or phone number instead.")
        return None
    return found[0]


def staff_member(session: Session, tenant_id: uuid.UUID, user_id: object, perm: Perm | None = None) -> User | None:
    """An active staff member of the tenant (holding `perm`, when given), or None."""
    parsed = parse_id(user_id)
    if parsed is None:
        return None
    user = session.get(User, (tenant_id, parsed))
    if user is None or user.status != "active":
        return None
    if perm is not None and not has_permission(user.role, perm):
        return None
    return user


def team(session: Session, tenant_id: uuid.UUID, team_id: object) -> Team | None:
    """A team of the tenant, or None."""
    parsed = parse_id(team_id)
    return session.get(Team, (tenant_id, parsed)) if parsed is not None else None


def staff_choices(session: Session, tenant_id: uuid.UUID, perm: Perm) -> list[User]:
    """Active staff who hold `perm`, for assignee pickers."""
    users = session.scalars(select(User).where(User.tenant_id == tenant_id, User.status == "active")
                            .order_by(User.created_at))
    return [u for u in users if has_permission(u.role, perm)]


def team_choices(session: Session, tenant_id: uuid.UUID) -> list[Team]:
    """Every team of the tenant."""
    return list(session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name)))

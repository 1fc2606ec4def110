"""Every query of contacts and companies. Each one is limited by `crm.visibility.visible` for the principal.

Searching personal values never decrypts: the query is normalised and hashed with the tenant's blind-index
key, and the database matches digests (DESIGN "Blind indexes"). Only the rows of the page being shown are
then loaded and decrypted.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, false, func, or_, select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from niaga.crm.models import Company, Contact, ContactAddress, ContactEmail, ContactPhone
from niaga.crm.visibility import visible
from niaga.identity.models import Team, TeamMember, User
from niaga.identity.principal import Principal
from niaga.kit.phone import normalize_phone
from niaga.privacy import blind_index
from niaga.privacy.fields import FieldSpec, registered_fields
from niaga.privacy.models import BlindIndexEntry

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_QUERY = 200
_PHONE_LIKE = re.compile(r"^[\d\s()+.\-]+$")


def field_spec(model: type, column: str) -> FieldSpec:
    """The declared personal field `column` of `model` (for blind-index lookups)."""
    return next(spec for spec in registered_fields(model) if spec.column == column)


def _matching_rows(session: Session, tenant_id: uuid.UUID, spec: FieldSpec, value: str) -> Select | None:
    """Row ids whose indexed field matches `value` exactly (every word, for word indexes); None if it cannot."""
    wanted = blind_index.digests(session, tenant_id, spec, value)
    if not wanted:
        return None
    query = select(BlindIndexEntry.row_id).where(
        BlindIndexEntry.tenant_id == tenant_id, BlindIndexEntry.field == spec.key, BlindIndexEntry.digest.in_(wanted)
    )
    if len(wanted) > 1:
        query = query.group_by(BlindIndexEntry.row_id).having(
            func.count(func.distinct(BlindIndexEntry.digest)) == len(set(wanted)))
    return query


def contacts_with_email(session: Session, tenant_id: uuid.UUID, email: str) -> Select | None:
    """Contact ids having this email (any case)."""
    rows = _matching_rows(session, tenant_id, field_spec(ContactEmail, "email"), email)
    if rows is None:
        return None
    return select(ContactEmail.contact_id).where(ContactEmail.tenant_id == tenant_id, ContactEmail.id.in_(rows))


def contacts_with_phone(session: Session, tenant_id: uuid.UUID, phone: str) -> Select | None:
    """Contact ids having this phone number, however it is written (0812…, 62812…, +62 812-…)."""
    rows = _matching_rows(session, tenant_id, field_spec(ContactPhone, "phone"), phone)
    if rows is None:
        return None
    return select(ContactPhone.contact_id).where(ContactPhone.tenant_id == tenant_id, ContactPhone.id.in_(rows))


def contacts_named(session: Session, tenant_id: uuid.UUID, words: str) -> Select | None:
    """Contact ids whose name contains every word given (whole words, any case)."""
    return _matching_rows(session, tenant_id, field_spec(Contact, "full_name"), words)


def contacts_with_card(session: Session, tenant_id: uuid.UUID, card: str) -> Select | None:
    """Contact ids with this loyalty card number."""
    return _matching_rows(session, tenant_id, field_spec(Contact, "loyalty_card_number"), card.strip().upper())


def contacts_by_value(session: Session, tenant_id: uuid.UUID, kind: str, values: list[str]
                      ) -> dict[str, set[uuid.UUID]]:
    """For many normalised emails, phones or card numbers at once: value → ids of the contacts holding it."""
    model, column = {"email": (ContactEmail, "email"), "phone": (ContactPhone, "phone"),
                     "card": (Contact, "loyalty_card_number")}[kind]
    spec = field_spec(model, column)
    by_digest: dict[bytes, str] = {}
    for value in values:
        for digest in blind_index.digests(session, tenant_id, spec, value):
            by_digest[digest] = value
    found: dict[str, set[uuid.UUID]] = {}
    if not by_digest:
        return found
    entry = select(BlindIndexEntry.digest, BlindIndexEntry.row_id).where(
        BlindIndexEntry.tenant_id == tenant_id, BlindIndexEntry.field == spec.key,
        BlindIndexEntry.digest.in_(list(by_digest)))
    if model is Contact:
        rows = session.execute(entry)
    else:
        sub = entry.subquery()
        rows = session.execute(select(sub.c.digest, model.contact_id).join(
            model, (model.tenant_id == tenant_id) & (model.id == sub.c.row_id)))
    for digest, contact_id in rows:
        found.setdefault(by_digest[digest], set()).add(contact_id)
    return found


def search_clause(session: Session, tenant_id: uuid.UUID, text: str) -> ColumnElement[bool]:
    """WHERE clause for a search box: an email, a phone number in any format, a card number or name words."""
    text = " ".join(text.split())[:MAX_QUERY]
    clauses: list[Select | None] = []
    if "@" in text:
        clauses.append(contacts_with_email(session, tenant_id, text))
    elif _PHONE_LIKE.match(text) and sum(ch.isdigit() for ch in text) >= 6:
        if normalize_phone(text):
            clauses.append(contacts_with_phone(session, tenant_id, text))
        clauses.append(contacts_with_card(session, tenant_id, re.sub(r"\s", "", text)))
    else:
        clauses.append(contacts_named(session, tenant_id, text))
        if " " not in text:
            clauses.append(contacts_with_card(session, tenant_id, text))
    found = [Contact.id.in_(clause) for clause in clauses if clause is not None]
    return or_(*found) if found else false()


def tag_clause(tag: str) -> ColumnElement[bool]:
    """Contacts carrying a tag. Tags are stored as a JSON list; the tag's JSON form is matched in its text."""
    needle = json.dumps(tag).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(Contact.tags, String).like(f"%{needle}%", escape="\\")


@dataclass(frozen=True)
class ContactFilter:
    """What the list shows: a search text, a tag, an owner, and where the page starts."""

    query: str = ""
    tag: str = ""
    owner_id: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    after: uuid.UUID | None = None
    limit: int = PAGE_SIZE


# The contact model loads its emails, phones and addresses "selectin" on (tenant_id, contact_id) pairs, which
# SQLite cannot answer from an index (a row-value IN): every load scans the whole table. Contact queries here
# load those lists themselves, by `tenant_id = ? AND contact_id IN (…)`, which uses the contact index.
LISTS_BY_INDEX = (lazyload(Contact.emails), lazyload(Contact.phones), lazyload(Contact.addresses))


def with_lists(session: Session, tenant_id: uuid.UUID, contacts: list[Contact], addresses: bool = True
               ) -> list[Contact]:
    """Load the emails, phones (and addresses) of many contacts in one indexed query each."""
    ids = [c.id for c in contacts]
    if not ids:
        return contacts
    kinds = [("emails", ContactEmail, ContactEmail.position), ("phones", ContactPhone, ContactPhone.position)]
    if addresses:
        kinds.append(("addresses", ContactAddress, ContactAddress.id))
    for attribute, model, order in kinds:
        grouped: dict[uuid.UUID, list] = defaultdict(list)
        for row in session.scalars(select(model).where(model.tenant_id == tenant_id, model.contact_id.in_(ids))
                                   .order_by(order)):
            grouped[row.contact_id].append(row)
        for contact in contacts:
            set_committed_value(contact, attribute, grouped.get(contact.id, []))
    return contacts


def load_contacts(session: Session, tenant_id: uuid.UUID, ids: set[uuid.UUID] | list[uuid.UUID]) -> list[Contact]:
    """The tenant's contacts with these ids (whatever their owner), lists included."""
    if not ids:
        return []
    rows = list(session.scalars(select(Contact).options(*LISTS_BY_INDEX)
                                .where(Contact.tenant_id == tenant_id, Contact.id.in_(list(ids)))))
    return with_lists(session, tenant_id, rows)


def list_contacts(session: Session, principal: Principal, flt: ContactFilter) -> tuple[list[Contact], bool]:
    """One page of visible, active contacts, newest first (keyset on the time-ordered id); and whether more follow."""
    query = select(Contact).options(*LISTS_BY_INDEX).where(visible(principal, Contact), Contact.status == "active")
    if flt.query.strip():
        query = query.where(search_clause(session, principal.tenant_id, flt.query))
    if flt.tag:
        query = query.where(tag_clause(flt.tag))
    if flt.owner_id is not None:
        query = query.where(Contact.owner_id == flt.owner_id)
    if flt.company_id is not None:
        query = query.where(Contact.company_id == flt.company_id)
    if flt.after is not None:
        query = query.where(Contact.id < flt.after)
    limit = max(1, min(flt.limit, MAX_PAGE_SIZE))
    rows = list(session.scalars(query.order_by(Contact.id.desc()).limit(limit + 1)))
    return with_lists(session, principal.tenant_id, rows[:limit], addresses=False), len(rows) > limit


def visible_contacts_query(principal: Principal) -> Select:
    """Every visible, active contact (for exports), oldest first."""
    return (select(Contact).options(*LISTS_BY_INDEX).where(visible(principal, Contact), Contact.status == "active")
            .order_by(Contact.id))


def get_contact(session: Session, principal: Principal, contact_id: uuid.UUID) -> Contact | None:
    """A contact the principal may see (merged ones included), or None."""
    return session.scalar(select(Contact).options(*LISTS_BY_INDEX)
                          .where(visible(principal, Contact), Contact.id == contact_id))


def contact_in_tenant(session: Session, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> Contact | None:
    """A contact of the tenant whatever its owner (for duplicate checks that must not leak it)."""
    return session.get(Contact, (tenant_id, contact_id), options=LISTS_BY_INDEX)


def owners_of(session: Session, tenant_id: uuid.UUID, contacts: list[Any]) -> dict[uuid.UUID, User]:
    """The staff members owning the given records, by id."""
    ids = {c.owner_id for c in contacts if c.owner_id is not None}
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.tenant_id == tenant_id, User.id.in_(ids)))}


def companies_of(session: Session, tenant_id: uuid.UUID, contacts: list[Contact]) -> dict[uuid.UUID, Company]:
    """The companies of the given contacts, by id."""
    ids = {c.company_id for c in contacts if c.company_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(Company).where(Company.tenant_id == tenant_id,
                                                                     Company.id.in_(ids)))}


def list_companies(session: Session, principal: Principal, name: str = "", after: uuid.UUID | None = None,
                   limit: int = PAGE_SIZE) -> tuple[list[Company], bool]:
    """One page of visible companies by name (company names are business data, not personal, so LIKE works)."""
    query = select(Company).where(visible(principal, Company))
    if name.strip():
        needle = " ".join(name.split())[:MAX_QUERY].lower().replace("\\", "\\\\").replace("%", "\\%").replace(
            "_", "\\_")
        query = query.where(func.lower(Company.name).like(f"%{needle}%", escape="\\"))
    if after is not None:
        query = query.where(Company.id < after)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    rows = list(session.scalars(query.order_by(Company.id.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def company_choices(session: Session, principal: Principal, limit: int = 500) -> list[Company]:
    """Companies for a form's company list, by name."""
    return list(session.scalars(select(Company).where(visible(principal, Company)).order_by(Company.name)
                                .limit(limit)))


def get_company(session: Session, principal: Principal, company_id: uuid.UUID) -> Company | None:
    """A company the principal may see, or None."""
    return session.scalar(select(Company).where(visible(principal, Company), Company.id == company_id))


def company_named(session: Session, principal: Principal, name: str) -> Company | None:
    """A visible company with exactly this name (any case), for imports that name companies."""
    return session.scalar(select(Company).where(visible(principal, Company),
                                                func.lower(Company.name) == name.lower()).limit(1))


def companies_with_npwp(session: Session, tenant_id: uuid.UUID, npwp: str) -> list[uuid.UUID]:
    """Ids of the tenant's companies with this NPWP (any formatting)."""
    return blind_index.find_rows(session, tenant_id, field_spec(Company, "npwp"), npwp)


def active_staff(session: Session, tenant_id: uuid.UUID) -> list[User]:
    """Active staff members of the tenant, oldest account first."""
    return list(session.scalars(select(User).where(User.tenant_id == tenant_id, User.status == "active")
                                .order_by(User.created_at)))


def staff_member(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """An active staff member of the tenant, or None (another tenant's user is None too)."""
    user = session.get(User, (tenant_id, user_id))
    return user if user is not None and user.status == "active" else None


def teams(session: Session, tenant_id: uuid.UUID) -> list[Team]:
    """The tenant's teams by name."""
    return list(session.scalars(select(Team).where(Team.tenant_id == tenant_id).order_by(Team.name)))


def teams_of_user(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[Team]:
    """The teams a staff member belongs to."""
    member_of = select(TeamMember.team_id).where(TeamMember.tenant_id == tenant_id, TeamMember.user_id == user_id)
    return list(session.scalars(select(Team).where(Team.tenant_id == tenant_id, Team.id.in_(member_of))
                                .order_by(Team.name)))


def team(session: Session, tenant_id: uuid.UUID, team_id: uuid.UUID) -> Team | None:
    """A team of the tenant, or None."""
    return session.get(Team, (tenant_id, team_id))


def is_member(session: Session, tenant_id: uuid.UUID, team_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """True when the staff member belongs to the team."""
    return session.get(TeamMember, (tenant_id, team_id, user_id)) is not None


def tags_in_use(session: Session, principal: Principal, limit: int = 2000) -> list[str]:
    """Tags on the visible contacts (for the filter list), sampled from the newest contacts."""
    found: set[str] = set()
    rows = session.scalars(select(Contact.tags).where(visible(principal, Contact), Contact.status == "active")
                           .order_by(Contact.id.desc()).limit(limit))
    for tags in rows:
        found.update(t for t in (tags or []) if isinstance(t, str))
    return sorted(found)


def team_member_ids(session: Session, tenant_id: uuid.UUID, team_id: uuid.UUID) -> list[uuid.UUID]:
    """The staff ids in a team."""
    return list(session.scalars(select(TeamMember.user_id).where(TeamMember.tenant_id == tenant_id,
                                                                 TeamMember.team_id == team_id)))

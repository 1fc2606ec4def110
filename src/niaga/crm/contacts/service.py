"""Contacts: create, change, find and read them, with the record-level rules in one place.

Every contact is a data subject with its own key; its emails, phones and addresses are sealed under that
key. Creating a contact whose email, phone or loyalty card number already exists offers the existing
contact (`DuplicateContact`, a 409) instead of failing on the unique blind index.
Services never commit; they flush inside a savepoint so a refused change leaves nothing behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.crm.contacts import repository as repo
from niaga.crm.contacts.validation import CONTACT_KEYS, ContactFields, check_contact
from niaga.crm.models import (
    Company,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
)
from niaga.crm.visibility import can_see, sees_everything
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.fields import is_readable
from niaga.privacy.vault import get_vault

SUBJECT_KIND = "contact"


class DuplicateContact(Conflict):
    """An email, phone or card number of the input already belongs to a contact of the tenant.

    `existing_id` names that contact when the principal may see it; otherwise it stays hidden (None), so the
    refusal does not reveal a colleague's customer.
    """

    code = "duplicate-contact"

    def __init__(self, message: str, *, field: str, existing_id: uuid.UUID | None) -> None:
        super().__init__(message, field=field)
        self.existing_id = existing_id


def _duplicate_message(field: str, visible_to_caller: bool) -> Msg:
    if not visible_to_caller:
        return Msg("This email, phone or card number already belongs to a contact of a colleague. "
                   "Ask a manager to share it with you.")
    return {
        "emails": Msg("A contact with this email already exists."),
        "phones": Msg("A contact with this phone number already exists."),
        "loyalty_card_number": Msg("A contact with this loyalty card number already exists."),
    }[field]


def find_existing(session: Session, tenant_id: uuid.UUID, *, emails: list[str] = (), phones: list[str] = (),
                  card: str | None = None, exclude: uuid.UUID | None = None) -> tuple[str, uuid.UUID] | None:
    """The first (field, contact id) already holding one of these values in the tenant, or None."""
    lookups = [("emails", repo.contacts_with_email, e) for e in emails]
    lookups += [("phones", repo.contacts_with_phone, p) for p in phones]
    if card:
        lookups.append(("loyalty_card_number", repo.contacts_with_card, card))
    for field, lookup, value in lookups:
        query = lookup(session, tenant_id, value)
        if query is None:
            continue
        for contact_id in session.scalars(query):
            if contact_id != exclude:
                return field, contact_id
    return None


def _refuse_duplicates(session: Session, principal: Principal, values: ContactFields,
                       exclude: uuid.UUID | None = None) -> None:
    found = find_existing(session, principal.tenant_id, emails=values.emails if "emails" in values.given else [],
                          phones=values.phones if "phones" in values.given else [],
                          card=values.loyalty_card_number if "loyalty_card_number" in values.given else None,
                          exclude=exclude)
    if found is None:
        return
    field, contact_id = found
    existing = repo.contact_in_tenant(session, principal.tenant_id, contact_id)
    shown = existing is not None and can_see(session, principal, existing)
    raise DuplicateContact(_duplicate_message(field, shown), field=field, existing_id=contact_id if shown else None)


def check_references(session: Session, principal: Principal, values: Any, errors: dict[str, str],
                     record: Any = None) -> None:
    """Company, owner and team must be of the principal's tenant; agents may only assign themselves and
    their own teams (else they would hand records to colleagues they cannot see)."""
    tenant_id = principal.tenant_id
    if "company_id" in values.given and values.company_id is not None:
        company = session.get(Company, (tenant_id, values.company_id))
        if company is None or not can_see(session, principal, company):
            errors["company_id"] = Msg("Choose a company from the list.")
    if "owner_id" in values.given and values.owner_id is not None:
        unchanged = record is not None and record.owner_id == values.owner_id
        if not unchanged:
            if repo.staff_member(session, tenant_id, values.owner_id) is None:
                errors["owner_id"] = Msg("Choose an owner from your staff.")
            elif not sees_everything(principal) and values.owner_id != principal.user_id:
                errors["owner_id"] = Msg("Only a manager can give a record to someone else.")
    if "team_id" in values.given and values.team_id is not None:
        unchanged = record is not None and record.team_id == values.team_id
        if not unchanged:
            if repo.team(session, tenant_id, values.team_id) is None:
                errors["team_id"] = Msg("Choose a team from the list.")
            elif not sees_everything(principal) and not repo.is_member(session, tenant_id, values.team_id,
                                                                       principal.user_id):
                errors["team_id"] = Msg("You can only choose a team you belong to.")


def _set_list(contact: Contact, collection: str, model: type, field: str, values: list[str]) -> None:
    """Keep rows whose value is unchanged (their ids and index entries stay), drop the others, add new ones."""
    rows = getattr(contact, collection)
    existing = {str(getattr(row, field)): row for row in rows if is_readable(getattr(row, field))}
    keep = []
    for position, value in enumerate(values):
        row = existing.pop(value, None)
        if row is None:
            row = model(tenant_id=contact.tenant_id, subject=contact.subject, **{field: value})
        row.position = position
        keep.append(row)
    rows[:] = keep


def _set_emails(contact: Contact, emails: list[str]) -> None:
    """Replace the contact's email list."""
    _set_list(contact, "emails", ContactEmail, "email", emails)


def _set_phones(contact: Contact, phones: list[str]) -> None:
    """Replace the contact's phone list."""
    _set_list(contact, "phones", ContactPhone, "phone", phones)


def _set_addresses(contact: Contact, addresses: dict[str, dict[str, str]]) -> None:
    """Set the first address of each kind. Further addresses of a kind (brought by a merge) stay as they are."""
    first: dict[str, ContactAddress] = {}
    extra: list[ContactAddress] = []
    for row in contact.addresses:
        if row.kind in first:
            extra.append(row)
        else:
            first[row.kind] = row
    keep = []
    for kind, address in addresses.items():
        row = first.get(kind)
        if row is None:
            row = ContactAddress(tenant_id=contact.tenant_id, subject=contact.subject, kind=kind, address=address)
        elif row.address != address:
            row.address = address
        keep.append(row)
    contact.addresses[:] = keep + extra


def first_addresses(contact: Contact) -> dict[str, Any]:
    """The first address of each kind (what the edit form shows and changes)."""
    found: dict[str, Any] = {}
    for row in contact.addresses:
        found.setdefault(row.kind, row.address)
    return found


SIMPLE_FIELDS = ("full_name", "birth_date", "gender", "company_id", "position", "notes", "tags", "owner_id",
                 "team_id", "source", "loyalty_card_number")


def differences(contact: Contact, values: ContactFields) -> list[str]:
    """The names of the given fields whose values differ from the contact's (nothing is written)."""
    changed = [name for name in SIMPLE_FIELDS if name in values.given and getattr(contact, name) != getattr(values, name)]
    if "emails" in values.given and [str(r.email) for r in contact.emails] != values.emails:
        changed.append("emails")
    if "phones" in values.given and [str(r.phone) for r in contact.phones] != values.phones:
        changed.append("phones")
    if "addresses" in values.given and first_addresses(contact) != values.addresses:
        changed.append("addresses")
    return changed


def _apply(contact: Contact, values: ContactFields) -> list[str]:
    """Write the given values onto the contact; returns the names of the fields that changed."""
    changed = differences(contact, values)
    for name in changed:
        if name == "emails":
            _set_emails(contact, values.emails)
        elif name == "phones":
            _set_phones(contact, values.phones)
        elif name == "addresses":
            _set_addresses(contact, values.addresses)
        else:
            new = getattr(values, name)
            setattr(contact, name, list(new) if name == "tags" else new)
    return changed


def _flush_or_duplicate(session: Session, principal: Principal, values: ContactFields,
                        exclude: uuid.UUID | None) -> None:
    """Flush in a savepoint; a unique-index clash (a concurrent insert) becomes the same DuplicateContact."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        with session.no_autoflush:
            _refuse_duplicates(session, principal, values, exclude)
        raise Conflict(Msg("This contact was changed by someone else at the same time. Try again.")) from None


def create_contact(session: Session, principal: Principal, data: dict[str, Any], *, source: str | None = None,
                   audit_event: bool = True, day_first_dates: bool = False, looked_up: bool = False) -> Contact:
    """Create a contact (a new data subject); refuses bad input and duplicates, writing nothing.

    `looked_up`: the caller already searched for these values (the importer does, to update instead); the
    unique blind index still refuses a duplicate at flush, which becomes the same DuplicateContact.
    """
    values, errors = check_contact(data, day_first_dates=day_first_dates)
    if source is not None:
        values.source = source
    if values.owner_id is None:
        values.owner_id = principal.user_id
    check_references(session, principal, values, errors)
    if errors:
        raise ValidationFailed(errors)
    if not looked_up:
        _refuse_duplicates(session, principal, values)
    return _insert(session, principal, values, audit_event=audit_event)


def stage_contact(session: Session, principal: Principal, values: ContactFields) -> Contact:
    """Add a contact from values already checked (references included) without flushing: bulk imports flush
    many at once, and the unique blind index still refuses a duplicate at that flush."""
    subject = get_vault().new_subject(session, principal.tenant_id, SUBJECT_KIND)
    contact = Contact(tenant_id=principal.tenant_id, subject=subject, tags=[], status="active")
    session.add(contact)
    _apply(contact, values)
    return contact


def _insert(session: Session, principal: Principal, values: ContactFields, *, audit_event: bool) -> Contact:
    with session.begin_nested():
        contact = stage_contact(session, principal, values)
        subject = contact.subject
        _flush_or_duplicate(session, principal, values, None)
    if audit_event:
        audit.record(session, principal.tenant_id, "crm.contact_created", principal.actor, target_type="contact",
                     target_id=contact.id, subject_id=subject.id, purpose="U1", details={"source": contact.source})
    return contact


def get_contact(session: Session, principal: Principal, contact_id: uuid.UUID) -> Contact:
    """A contact the principal may see; 404 otherwise (another tenant's or a colleague's: the same answer)."""
    contact = repo.get_contact(session, principal, contact_id)
    if contact is None:
        raise NotFound(Msg("No such contact."))
    return contact


def read_contact(session: Session, principal: Principal, contact_id: uuid.UUID) -> Contact:
    """A contact for its full view; the read of the person's record is audited (who read whose data)."""
    contact = get_contact(session, principal, contact_id)
    audit.record(session, principal.tenant_id, "crm.contact_viewed", principal.actor, target_type="contact",
                 target_id=contact.id, subject_id=contact.subject_id, purpose="U1")
    return contact


def update_contact(session: Session, principal: Principal, contact_id: uuid.UUID, data: dict[str, Any],
                   *, partial: bool = True) -> Contact:
    """Change a visible, active contact; only the fields given change. Refuses bad input, writing nothing."""
    contact, _ = change_contact(session, principal, contact_id, data, partial=partial)
    return contact


def change_contact(session: Session, principal: Principal, contact_id: uuid.UUID, data: dict[str, Any],
                   *, partial: bool = True, audit_event: bool = True,
                   day_first_dates: bool = False, loaded: Contact | None = None) -> tuple[Contact, list[str]]:
    """`update_contact`, also returning the names of the fields that changed (imports count them).

    `loaded`: the contact, already loaded and checked visible by the caller (imports load a chunk at once).
    """
    contact = loaded if loaded is not None and loaded.id == contact_id else get_contact(session, principal,
                                                                                        contact_id)
    if contact.status != "active":
        raise Conflict(Msg("This contact was merged into another one; change that one instead."))
    if contact.subject is None or contact.subject.is_erased:
        raise Conflict(Msg("This person's data has been erased; the contact cannot be changed."))
    values, errors = check_contact({k: v for k, v in data.items() if k in CONTACT_KEYS}, partial=partial,
                                   day_first_dates=day_first_dates)
    check_references(session, principal, values, errors, record=contact)
    if errors:
        raise ValidationFailed(errors)
    if not differences(contact, values):
        return contact, []  # nothing to write (a re-imported row, a form saved unchanged)
    _refuse_duplicates(session, principal, values, exclude=contact.id)
    with session.begin_nested():
        changed = _apply(contact, values)
        _flush_or_duplicate(session, principal, values, contact.id)
    if changed and audit_event:
        audit.record(session, principal.tenant_id, "crm.contact_updated", principal.actor, target_type="contact",
                     target_id=contact.id, subject_id=contact.subject_id, purpose="U1",
                     details={"fields": sorted(changed)})
    return contact, changed


@dataclass
class ContactPage:
    """One page of a contact list with what the rows need to show (owners, companies)."""

    contacts: list[Contact]
    has_more: bool
    owners: dict
    companies: dict

    @property
    def next_after(self) -> uuid.UUID | None:
        """The cursor of the next page, when there is one."""
        return self.contacts[-1].id if self.has_more and self.contacts else None


def list_contacts(session: Session, principal: Principal, flt: repo.ContactFilter) -> ContactPage:
    """A page of the contacts the principal may see, searched and filtered."""
    contacts, more = repo.list_contacts(session, principal, flt)
    return ContactPage(contacts, more, repo.owners_of(session, principal.tenant_id, contacts),
                       repo.companies_of(session, principal.tenant_id, contacts))


def contact_summary(contact: Contact) -> dict[str, Any]:
    """The first email and phone of a contact, for list rows."""
    return {
        "email": contact.emails[0].email if contact.emails else None,
        "phone": contact.phones[0].phone if contact.phones else None,
    }


def contact_for_channel_sender(session: Session, tenant_id: uuid.UUID, *, phone: str | None = None,
                               email: str | None = None) -> Contact | None:
    """The contact holding this phone or email (the one it was merged into, when merged), or None."""
    found = find_existing(session, tenant_id, emails=[email] if email else [], phones=[phone] if phone else [])
    if found is None:
        return None
    contact = repo.contact_in_tenant(session, tenant_id, found[1])
    while contact is not None and contact.status == "merged" and contact.merged_into_id is not None:
        contact = repo.contact_in_tenant(session, tenant_id, contact.merged_into_id)
    return contact


def create_channel_contact(session: Session, tenant_id: uuid.UUID, *, name: str, source: str,
                           phone: str | None = None, email: str | None = None) -> Contact:
    """A new contact for an unknown sender on a channel (no owner yet); flushed, so the unique blind
    indexes decide a race between two deliveries from the same new sender (IntegrityError for the loser)."""
    data: dict[str, Any] = {"full_name": name[:120] or "?", "phones": phone or "", "emails": email or ""}
    values, errors = check_contact(data)
    if errors:  # a sender's profile name we cannot use as is: keep the contact, named by its channel id
        values, errors = check_contact({**data, "full_name": "?"})
        if errors:
            raise ValidationFailed(errors)
    values.source = source
    subject = get_vault().new_subject(session, tenant_id, SUBJECT_KIND)
    contact = Contact(tenant_id=tenant_id, subject=subject, tags=[], status="active")
    session.add(contact)
    _apply(contact, values)
    session.flush()
    audit.record(session, tenant_id, "crm.contact_created", audit.Actor.system(), target_type="contact",
                 target_id=contact.id, subject_id=subject.id, purpose="U1", details={"source": source})
    return contact

"""Merging two contacts that are one person: everything of the duplicate moves to the kept contact.

In one transaction:
1. the duplicate's own values fill the kept contact's blanks (notes are joined, tags united), and the
   duplicate row is emptied;
2. every registered reference (`contact_id` columns of emails, phones, addresses, and of deals, tickets,
   messages… registered by their domains with `register_contact_reference`) is pointed at the kept contact,
   and so is any other foreign key to contacts found in the schema;
3. every row sealed under the duplicate's key is re-sealed under the kept contact's key
   (`privacy.rekey.rekey_subject_rows`), blind-index entries included, so the moved email is found under the
   kept contact and erasing the kept contact later reaches it;
4. the duplicate is marked `merged` (with `merged_into_id`) and its now empty subject is erased;
5. the merge is audited (ids and counts only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from niaga.crm.contacts import service
from niaga.crm.models import Contact, ContactAddress, ContactEmail, ContactPhone
from niaga.identity.principal import Principal
from niaga.kit.errors import Conflict, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import is_readable, registered_fields
from niaga.privacy.rekey import rekey_subject_rows

# (model, column) pairs holding a contact id that must follow the person when contacts merge.
CONTACT_REFERENCES: list[tuple[type, str]] = []
MERGE_REASON = "contact-merged"
# fn(session, tenant_id, keep, duplicate) run before references move: a domain whose rows are unique per contact
# (one conversation per channel) folds the duplicate's rows into the kept contact's twins first.
BEFORE_REPOINT: list = []


def register_contact_reference(model: type, column_name: str = "contact_id") -> None:
    """Declare that `model.column_name` holds a contact id (in the same tenant) to repoint on merge."""
    if not hasattr(model, column_name) or not hasattr(model, "tenant_id"):
        raise TypeError(f"{model.__name__}.{column_name} is not a tenant-owned column")
    if (model, column_name) not in CONTACT_REFERENCES:
        CONTACT_REFERENCES.append((model, column_name))


for _model in (ContactEmail, ContactPhone, ContactAddress):
    register_contact_reference(_model)
# A contact merged earlier into the duplicate now leads to the kept contact.
register_contact_reference(Contact, "merged_into_id")


@dataclass
class MergeResult:
    """What a merge did."""

    kept: Contact
    duplicate_id: uuid.UUID
    references: dict[str, int] = field(default_factory=dict)
    resealed: dict[str, int] = field(default_factory=dict)


FILL_BLANKS = ("birth_date", "gender", "position", "company_id", "team_id", "loyalty_card_number")


def _fold_values(keep: Contact, duplicate: Contact) -> None:
    """Fill the kept contact's blanks from the duplicate, then empty the duplicate's personal fields."""
    taken = {name: getattr(duplicate, name) for name in FILL_BLANKS}
    notes = [n for n in (keep.notes, duplicate.notes) if n and is_readable(n)]
    for spec in registered_fields(Contact):
        setattr(duplicate, spec.column, None)
    for name, value in taken.items():
        if value is not None and is_readable(value) and getattr(keep, name) is None:
            setattr(keep, name, value)
    joined = "\n\n".join(notes)
    if joined != (keep.notes or ""):
        keep.notes = joined
    tags = list(keep.tags or [])
    tags += [t for t in (duplicate.tags or []) if t not in tags]
    if tags != list(keep.tags or []):
        keep.tags = tags
    duplicate.tags = []


def _repoint(session: Session, tenant_id: uuid.UUID, keep: Contact, duplicate: Contact) -> dict[str, int]:
    """Point every registered contact reference at the kept contact; returns rows changed per table."""
    counts: dict[str, int] = {}
    next_position = {ContactEmail: len(keep.emails), ContactPhone: len(keep.phones)}
    for model, column in CONTACT_REFERENCES:
        rows = list(session.scalars(select(model).where(model.tenant_id == tenant_id,
                                                        getattr(model, column) == duplicate.id)))
        for row in rows:
            setattr(row, column, keep.id)
            if model in next_position:
                row.position = next_position[model]
                next_position[model] += 1
        if rows:
            counts[model.__tablename__] = counts.get(model.__tablename__, 0) + len(rows)
    return counts


def _repoint_foreign_keys(session: Session, tenant_id: uuid.UUID, keep: Contact, duplicate: Contact) -> dict[str, int]:
    """Any other column holding a foreign key to contacts follows too, registered or not (a domain whose
    module was not imported in this process has not registered yet; its rows must still move)."""
    from niaga.db import registry

    registered = {(model.__tablename__, column) for model, column in CONTACT_REFERENCES}
    contacts = Contact.__table__
    counts: dict[str, int] = {}
    for table in registry.metadata.tables.values():
        for fk in table.foreign_key_constraints:
            if fk.referred_table is not contacts:
                continue
            pairs = {element.parent.name: element.column.name for element in fk.elements}
            columns = [local for local, remote in pairs.items() if remote == "id"]
            if "tenant_id" not in table.c or len(columns) != 1 or (table.name, columns[0]) in registered:
                continue
            column = table.c[columns[0]]
            result = session.execute(update(table).where(table.c.tenant_id == tenant_id, column == duplicate.id)
                                     .values({column.name: keep.id}), execution_options={"synchronize_session": False})
            if result.rowcount:
                counts[table.name] = counts.get(table.name, 0) + result.rowcount
    return counts


def merge_contacts(session: Session, principal: Principal, keep_id: uuid.UUID, duplicate_id: uuid.UUID) -> MergeResult:
    """Merge the duplicate into the kept contact: every linked record moves, in the caller's transaction."""
    if keep_id == duplicate_id:
        raise ValidationFailed({"duplicate_id": Msg("Choose another contact: a contact cannot be merged with itself.")})
    keep = service.get_contact(session, principal, keep_id)
    duplicate = service.get_contact(session, principal, duplicate_id)
    for contact in (keep, duplicate):
        if contact.status != "active":
            raise Conflict(Msg("This contact was already merged into another one."))
        if contact.subject is None or contact.subject.is_erased:
            raise Conflict(Msg("This person's data has been erased; the contact cannot be merged."))
    tenant_id = principal.tenant_id
    old_subject_id = duplicate.subject_id
    with session.begin_nested():
        # Emptied first and flushed: a unique value (the loyalty card) then moves without a clash.
        _fold_values(keep, duplicate)
        session.flush()
        for fold in BEFORE_REPOINT:
            fold(session, tenant_id, keep, duplicate)
        references = _repoint(session, tenant_id, keep, duplicate)
        session.flush()
        swept = _repoint_foreign_keys(session, tenant_id, keep, duplicate)
        if swept:
            session.expire_all()  # those rows changed behind the ORM's back: reload them when next read
        for table, moved in swept.items():
            references[table] = references.get(table, 0) + moved
        resealed = rekey_subject_rows(session, tenant_id, old_subject_id, keep.subject_id)
        duplicate.status = "merged"
        duplicate.merged_into_id = keep.id
        session.flush()
        erase_subject(session, tenant_id, old_subject_id, principal.actor, MERGE_REASON)
    session.expire(keep, ["emails", "phones", "addresses"])
    session.expire(duplicate, ["emails", "phones", "addresses"])
    audit.record(session, tenant_id, "crm.contacts_merged", principal.actor, target_type="contact",
                 target_id=keep.id, subject_id=keep.subject_id, purpose="U1",
                 details={"duplicate": duplicate.id, "erased_subject": old_subject_id,
                          "rows_moved": sum(resealed.values()), "tables": sorted(resealed),
                          "references": sum(references.values())})
    return MergeResult(keep, duplicate.id, references, resealed)

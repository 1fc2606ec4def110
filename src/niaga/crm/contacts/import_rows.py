"""Turning parsed CSV rows into contacts: match, create in bulk, update one by one, report every refusal.

Rows go in chunks. Each row is checked first, like a form; a bad row becomes a problem and touches nothing.
The chunk's emails, phones and card numbers are then looked up in one query per kind: rows whose values
already belong to a contact update it (one at a time, in a savepoint each: lists are added to, fields given
overwrite), and the new people of the chunk are created together and flushed once, so the database sees a
few multi-row inserts instead of thousands of single ones. Should that flush fail (someone else added the
same email meanwhile), the chunk is rolled back to its savepoint and its new rows are done one at a time,
each becoming its own problem or contact. Two rows of one file sharing an email or phone never share a
chunk, so the second finds the first and updates it.

Flushed rows leave the session's identity map after each chunk: every flush compares the objects it holds,
and keeping a whole large file's rows would make the import quadratic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.crm.contacts import companies, service
from niaga.crm.contacts import repository as repo
from niaga.crm.contacts.validation import CONTACT_KEYS, ContactFields, check_contact, clean_email
from niaga.crm.models import Contact
from niaga.crm.visibility import can_see
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError, ValidationFailed
from niaga.kit.messages import Msg
from niaga.kit.phone import normalize_phone

CHUNK_ROWS = 200


@dataclass
class RowProblem:
    """Why one row was not taken: its spreadsheet row number (the header is row 1), field and message."""

    row: int
    field: str
    message: Msg


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    encoding: str = "utf-8"
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    contact_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Rows that were not taken."""
        return len({p.row for p in self.problems})


@dataclass
class Row:
    """One data row: its number, the contact input, the company named in it, and its checked values."""

    number: int
    data: dict[str, Any]
    company: str | None
    values: ContactFields


def _keys(values: ContactFields) -> set[str]:
    keys = {f"e:{e}" for e in values.emails} | {f"p:{p}" for p in values.phones}
    if values.loyalty_card_number:
        keys.add(f"c:{values.loyalty_card_number}")
    return keys


def _matches(session: Session, tenant_id: uuid.UUID, chunk: list[Row]) -> list[set[uuid.UUID]]:
    """For each row, the contacts already holding one of its emails, phones or its card number."""
    found = {
        "e": repo.contacts_by_value(session, tenant_id, "email", [e for r in chunk for e in r.values.emails]),
        "p": repo.contacts_by_value(session, tenant_id, "phone", [p for r in chunk for p in r.values.phones]),
        "c": repo.contacts_by_value(session, tenant_id, "card", [r.values.loyalty_card_number for r in chunk
                                                                 if r.values.loyalty_card_number]),
    }
    result = []
    for row in chunk:
        ids: set[uuid.UUID] = set()
        for key in _keys(row.values):
            kind, value = key.split(":", 1)
            ids |= found[kind].get(value, set())
        result.append(ids)
    return result


def _merge_into(contact: Contact, data: dict[str, Any]) -> dict[str, Any]:
    """The row's values as changes to an existing contact: lists are added to, addresses set per kind."""
    changes = {k: v for k, v in data.items() if k not in ("emails", "phones", "tags", "addresses")}
    if "emails" in data:
        current = [str(r.email) for r in contact.emails]
        new = [e for e in (clean_email(v) or v for v in data["emails"]) if e not in current]
        if new:
            changes["emails"] = current + new
    if "phones" in data:
        current = [str(r.phone) for r in contact.phones]
        new = [p for p in (normalize_phone(v) or v for v in data["phones"]) if p not in current]
        if new:
            changes["phones"] = current + new
    if "tags" in data:
        changes["tags"] = list(contact.tags or []) + list(data["tags"])
    if "addresses" in data:
        changes["addresses"] = {**service.first_addresses(contact), **data["addresses"]}
    if "notes" in changes and contact.notes:
        if changes["notes"] in str(contact.notes):
            changes.pop("notes")
        else:
            changes["notes"] = f"{contact.notes}\n\n{changes['notes']}"
    if not changes.get("full_name"):
        changes.pop("full_name", None)
    return changes


class _Companies:
    """Companies named in the file, found or created once per name."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session, self.principal, self.ids = session, principal, {}

    def id_of(self, name: str) -> uuid.UUID:
        key = name.casefold()
        if key not in self.ids:
            self.ids[key] = companies.find_or_create_by_name(self.session, self.principal, name).id
        return self.ids[key]


def _update(session: Session, principal: Principal, row: Row, contact_ids: set[uuid.UUID],
            loaded: dict[uuid.UUID, Contact], names: _Companies, report: ImportReport) -> None:
    """Merge one row into the contact it matches."""
    if len(contact_ids) > 1:
        raise ValidationFailed({"row": Msg("This row matches two different contacts. Merge them first.")})
    contact_id = next(iter(contact_ids))
    existing = loaded.get(contact_id) or repo.contact_in_tenant(session, principal.tenant_id, contact_id)
    if existing is None or not can_see(session, principal, existing):
        raise ValidationFailed({"row": Msg("This row matches a contact of a colleague that you cannot see.")})
    data = dict(row.data)
    if row.company:
        data["company_id"] = names.id_of(row.company)
    _, changed = service.change_contact(session, principal, contact_id, _merge_into(existing, data),
                                        audit_event=False, day_first_dates=True, loaded=existing)
    report.contact_ids.append(contact_id)
    if changed:
        report.updated += 1
    else:
        report.unchanged += 1


def _stage(session: Session, principal: Principal, row: Row, names: _Companies) -> Contact:
    """Add one new row's contact to the session (not flushed)."""
    # The row was checked already; the fields it left out take their empty values.
    values = replace(row.values, given=set(CONTACT_KEYS))
    values.company_id = names.id_of(row.company) if row.company else None
    values.source, values.owner_id = "import", principal.user_id
    errors: dict[str, str] = {}
    service.check_references(session, principal, values, errors)
    if errors:
        raise ValidationFailed(errors)
    return service.stage_contact(session, principal, values)


def _guarded(report: ImportReport, row: Row, session: Session, work: Callable[[], None]) -> None:
    """Run one row's work in its own savepoint; a refusal becomes the row's problem and leaves nothing."""
    try:
        with session.begin_nested():
            work()
    except ValidationFailed as exc:
        name, message = next(iter(exc.errors.items()))
        report.problems.append(RowProblem(row.number, name, message))
    except DomainError as exc:
        report.problems.append(RowProblem(row.number, exc.field or "row", exc.message))


def _create_one(session: Session, principal: Principal, row: Row, names: _Companies, report: ImportReport) -> None:
    contact = _stage(session, principal, row, names)
    with session.no_autoflush:
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise ValidationFailed({"row": Msg("Another contact got this email, phone or card number while the "
                                               "file was being imported. Import the file again.")}) from None
    report.created += 1
    report.contact_ids.append(contact.id)


def _run_chunk(session: Session, principal: Principal, chunk: list[Row], report: ImportReport,
               names: _Companies) -> None:
    matches = _matches(session, principal.tenant_id, chunk)
    new = [row for row, found in zip(chunk, matches) if not found]
    staged: list[Contact] = []
    try:
        with session.begin_nested():
            staged = [_stage(session, principal, row, names) for row in new]
            session.flush()
    except (IntegrityError, DomainError):
        # Rare (a concurrent insert, or a row refused only when staged): one row at a time, to say which.
        names.ids.clear()
        staged = []
        for row in new:
            _guarded(report, row, session, lambda row=row: _create_one(session, principal, row, names, report))
    report.created += len(staged)
    report.contact_ids += [contact.id for contact in staged]
    # The matched contacts in one query (their emails, phones and addresses in one more each).
    # (Held here: the session's identity map keeps objects only while something refers to them.)
    matched = {i for found in matches for i in found}
    loaded = {c.id: c for c in repo.load_contacts(session, principal.tenant_id, matched)}
    for row, found in zip(chunk, matches):
        if found:
            _guarded(report, row, session, lambda row=row, found=found: _update(session, principal, row, found,
                                                                                loaded, names, report))


def _forget(session: Session, keep: set) -> None:
    """Detach the flushed objects loaded or created since `keep` was taken."""
    for key in [k for k in session.identity_map.keys() if k not in keep]:
        obj = session.identity_map.get(key)
        if obj is not None and obj not in session.dirty:
            session.expunge(obj)


def import_rows(session: Session, principal: Principal, rows: list[tuple[int, dict[str, Any], str | None]],
                report: ImportReport, progress: Callable[[int, int], None] | None = None) -> None:
    """Create or update a contact for each (row number, contact input, company name), filling the report."""
    keep = set(session.identity_map.keys())
    names = _Companies(session, principal)
    chunk: list[Row] = []
    seen: set[str] = set()
    done = 0

    def run() -> None:
        nonlocal done
        if chunk:
            _run_chunk(session, principal, chunk, report, names)
            _forget(session, keep)
            done += len(chunk)
            chunk.clear()
            seen.clear()
        if progress is not None:
            progress(done, len(rows))

    for number, data, company in rows:
        values, errors = check_contact(data, partial=True, day_first_dates=True)
        if errors:
            name, message = next(iter(errors.items()))
            report.problems.append(RowProblem(number, name, message))
            done += 1
            continue
        keys = _keys(values)
        if keys & seen or len(chunk) >= CHUNK_ROWS:
            run()
        chunk.append(Row(number, data, company, values))
        seen |= keys
    run()

"""CSV export of the contacts a staff member may see: audited, and safe to open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula by Excel or
LibreOffice ("CSV injection"), so it is written with a leading `'`; the importer removes that quote again, so
an export can be re-imported. Phones are written the way Indonesians dial them (0812-…), which also keeps
them from starting with `+`. The file starts with a UTF-8 byte-order mark so that Excel reads the names
right. Contacts whose data was erased are left out: they have nothing to export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from niaga.crm.contacts import repository as repo
from niaga.crm.models import Contact
from niaga.identity.models import Tenant
from niaga.identity.principal import Principal
from niaga.kit.phone import display_phone
from niaga.privacy import audit
from niaga.privacy.fields import is_readable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("id", "name", "email", "phone", "company", "position", "birth_date", "gender", "tags", "notes",
           "loyalty_card_number", "address", "city", "province", "postal_code", "owner", "source", "created_at")
BATCH = 500


def neutralise(value: Any) -> str:
    """A cell's text, with a leading `'` when a spreadsheet would take it for a formula."""
    text = "" if value is None or not is_readable(value) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@dataclass
class Export:
    """An export's bytes and how many contacts it holds."""

    content: bytes
    count: int
    filename: str


def _address(contact: Contact) -> dict[str, str]:
    chosen = None
    for row in contact.addresses:
        if row.kind == "shipping" or chosen is None:
            chosen = row
    value = chosen.address if chosen is not None else None
    return value if isinstance(value, dict) else {}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _row(contact: Contact, companies: dict, owners: dict, zone: ZoneInfo) -> list[str]:
    address = _address(contact)
    company = companies.get(contact.company_id)
    owner = owners.get(contact.owner_id)
    values = [
        str(contact.id), contact.full_name, "; ".join(str(r.email) for r in contact.emails),
        "; ".join(display_phone(str(r.phone)) for r in contact.phones), company.name if company else "",
        contact.position, _iso(contact.birth_date), contact.gender, ", ".join(contact.tags or []), contact.notes,
        contact.loyalty_card_number, address.get("street"), address.get("city"), address.get("province"),
        address.get("postal_code"), owner.full_name if owner is not None else "", contact.source,
        contact.created_at.astimezone(zone).isoformat(timespec="minutes"),
    ]
    return [neutralise(v) for v in values]


def export_contacts(session: Session, principal: Principal,
                    progress: Callable[[int], None] | None = None) -> Export:
    """Every visible, active contact as CSV; one audit event with the count (`crm.contacts_exported`)."""
    tenant = session.get(Tenant, principal.tenant_id)
    zone = ZoneInfo(tenant.timezone if tenant is not None else "Asia/Jakarta")
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    batch: list[Contact] = []

    def flush_batch() -> None:
        nonlocal count
        repo.with_lists(session, principal.tenant_id, batch)
        companies = repo.companies_of(session, principal.tenant_id, batch)
        owners = repo.owners_of(session, principal.tenant_id, batch)
        for contact in batch:
            writer.writerow(_row(contact, companies, owners, zone))
        count += len(batch)
        batch.clear()
        if progress is not None:
            progress(count)

    query = repo.visible_contacts_query(principal).execution_options(yield_per=BATCH)
    for contact in session.scalars(query):
        if contact.subject is None or contact.subject.is_erased:
            continue
        batch.append(contact)
        if len(batch) >= BATCH:
            flush_batch()
    if batch:
        flush_batch()
    audit.record(session, principal.tenant_id, "crm.contacts_exported", principal.actor, target_type="contact",
                 purpose="U1", details={"count": count, "format": "csv"})
    stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
    return Export(buffer.getvalue().encode("utf-8"), count, f"kontak-{stamp}.csv")

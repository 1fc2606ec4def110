"""The record of processing (UU PDP Pasal 31), built from the `personal()` declarations and file kinds.

Nothing here is written by hand per field: the inventory is `REGISTRY` plus the registered file kinds,
so it cannot drift from what the code stores. `schema_findings` is the other half of the promise: it
walks the mapped schema and reports columns whose names suggest personal data but that are not declared
(or that are declared but not stored as ciphertext). A column reviewed and found not to hold personal
data says so where it is declared, `mapped_column(..., info={"not_personal": "the reason"})`;
`NOT_PERSONAL` below holds the same for the foundation's tables.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Boolean, LargeBinary, MetaData

from niaga.privacy.fields import REGISTRY, Category, FieldSpec, Purpose, Retention
from niaga.web.i18n import N_

CATEGORY_LABELS = {
    Category.IDENTITY: N_("Identity"),
    Category.CONTACT: N_("Contact details"),
    Category.IDENTIFICATION: N_("Identification"),
    Category.FINANCIAL: N_("Financial"),
    Category.TRANSACTION: N_("Transactions"),
    Category.COMMUNICATION: N_("Communication content"),
    Category.LOCATION: N_("Location"),
    Category.DEVICE: N_("Device and usage"),
    Category.SPECIFIC: N_("Specific (sensitive) data"),
}

PURPOSE_LABELS = {
    Purpose.U1: N_("Provide and operate the service"),
    Purpose.U2: N_("Technical support"),
    Purpose.U3: N_("Monitoring, maintenance and security testing"),
    Purpose.U4: N_("Billing and payments"),
    Purpose.U5: N_("Service communications"),
    Purpose.U6: N_("Marketing, with consent"),
    Purpose.U7: N_("Research on de-identified data"),
    Purpose.U8: N_("Aggregate statistics"),
    Purpose.U9: N_("Security, fraud prevention and identity checks"),
    Purpose.U10: N_("Legal obligations"),
}

RETENTION_LABELS = {
    Retention.ACCOUNT: N_("While the staff account exists"),
    Retention.RELATIONSHIP: N_("While the customer relationship lasts, or until erasure is requested"),
    Retention.SESSION: N_("Until the session ends"),
    Retention.TAX_10Y: N_("10 years (tax law); identity removed on erasure"),
    Retention.SHORT_90D: N_("90 days"),
}

INTERNAL_ONLY = N_("Authorised staff")

# Columns whose names look personal but are not, each with the reason (reviewed; keep the reasons true).
NOT_PERSONAL: dict[str, str] = {
    "tenants.name": N_("The business's trading name, printed on receipts and the privacy policy"),
    "tenants.address": N_("The business's address, printed on receipts and invoices (policies D4)"),
    "tenants.privacy_contact_email": N_("The business's published privacy contact (policies D4), a role address"),
    "tenants.dpo_name": N_("The published privacy contact person of the business (UU PDP Pasal 53, policies D4)"),
    "api_tokens.label": N_("A name for an integration or device chosen by its owner ('Kasir 1'), shown to them"),
    "teams.name": N_("The name of a group of staff ('Sales Jogja'), part of the business's organisation"),
    "platform_keys.name": N_("The name of a platform-wide key ('index', 'csrf'), chosen by niaga"),
    "stored_files.content_type": N_("The detected format of a stored file (image/png), not its content"),
}

# Whole words of a column name that suggest personal data; "account_number"-style pairs below.
_PERSONAL_WORDS = frozenset({
    "name", "names", "filename", "email", "emails", "phone", "mobile", "whatsapp", "telegram", "msisdn",
    "address", "street", "postcode", "postal", "zip", "nik", "npwp", "ktp", "kk", "passport", "sim",
    "birth", "birthday", "dob", "age", "gender", "sex", "religion", "health", "bank", "iban", "card", "pan",
    "ip", "device", "cookie", "fingerprint", "location", "latitude", "longitude", "lat", "lng", "geo",
    "body", "text", "message", "messages", "note", "notes", "comment", "comments", "content", "caption",
    "transcript", "username", "handle", "contact", "signature", "photo", "avatar", "selfie", "salary",
    "income", "label",
})
_PERSONAL_PAIRS = ("account_number", "account_holder", "user_agent", "tax_id", "id_number", "card_number")
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class InventoryRow:
    """One line of the record of processing."""

    table: str
    column: str
    category: str
    category_label: str
    purposes: tuple[str, ...]
    purpose_labels: tuple[str, ...]
    retention: str
    retention_label: str
    recipients: tuple[str, ...]
    description: str
    lookup: str | None  # blind-index kind, when exact lookup is possible
    unique: bool
    source: str  # "field" (a database column) or "file" (the encrypted file store)


def _load_models() -> None:
    from niaga.db import registry  # noqa: F401 - importing it maps every model, filling REGISTRY
    from niaga.privacy import files  # noqa: F401 - registers the built-in file kinds


def niaga_fields(metadata: MetaData | None = None) -> list[FieldSpec]:
    """Declared fields of niaga's own schema (benchmarks and tests may declare fields on other metadata)."""
    _load_models()
    from niaga.db.base import Base

    metadata = metadata or Base.metadata
    return [spec for spec in REGISTRY if getattr(spec.model, "metadata", None) is metadata]


def _row(spec: FieldSpec) -> InventoryRow:
    return InventoryRow(
        table=spec.table, column=spec.column, category=spec.category.value,
        category_label=CATEGORY_LABELS[spec.category], purposes=tuple(p.value for p in spec.purposes),
        purpose_labels=tuple(PURPOSE_LABELS[p] for p in spec.purposes), retention=spec.retention.value,
        retention_label=RETENTION_LABELS[spec.retention], recipients=spec.recipients or (INTERNAL_ONLY,),
        description=spec.description, lookup=spec.index, unique=spec.unique, source="field",
    )


def build_inventory() -> list[InventoryRow]:
    """Every declared personal field and file kind, sorted by table and column."""
    _load_models()
    from niaga.privacy.files import FILE_KINDS

    rows = [_row(spec) for spec in niaga_fields()]
    for kind in FILE_KINDS.values():
        rows.append(InventoryRow(
            table="stored_files", column=f"content:{kind.name}", category=kind.category.value,
            category_label=CATEGORY_LABELS[kind.category], purposes=tuple(p.value for p in kind.purposes),
            purpose_labels=tuple(PURPOSE_LABELS[p] for p in kind.purposes), retention=kind.retention.value,
            retention_label=RETENTION_LABELS[kind.retention], recipients=(INTERNAL_ONLY,),
            description=kind.description, lookup=None, unique=False, source="file",
        ))
    rows.extend(_transient_rows())
    return sorted(rows, key=lambda r: (r.table, r.column))


TRANSIENT_RETENTION = N_("Until processed (seconds); a delivery that cannot be processed at most 7 days")


def _transient_rows() -> list[InventoryRow]:
    """Columns that hold personal data only in transit, sealed under the business's key: a provider's raw
    delivery before its messages are stored under each person's key (`info={"transient_personal": ...}`)."""
    from niaga.db.base import Base

    rows = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            description = column.info.get("transient_personal")
            if description:
                rows.append(InventoryRow(
                    table=table.name, column=column.name, category=Category.COMMUNICATION.value,
                    category_label=CATEGORY_LABELS[Category.COMMUNICATION], purposes=(Purpose.U1.value,),
                    purpose_labels=(PURPOSE_LABELS[Purpose.U1],), retention="transient",
                    retention_label=TRANSIENT_RETENTION, recipients=(INTERNAL_ONLY,), description=description,
                    lookup=None, unique=False, source="transient",
                ))
    return rows


def inventory_document() -> dict[str, Any]:
    """The inventory as a JSON-ready document (for `niaga privacy inventory --json` and exports)."""
    return {
        "fields": [asdict(row) for row in build_inventory()],
        "purposes": {p.value: PURPOSE_LABELS[p] for p in Purpose},
        "categories": {c.value: CATEGORY_LABELS[c] for c in Category},
        "not_personal": not_personal_reasons(),
    }


def looks_personal(column: str) -> bool:
    """True when a column name suggests personal data (whole words, so 'description' is not 'ip')."""
    name = column.lower()
    if any(pair in name for pair in _PERSONAL_PAIRS):
        return True
    words = _WORD_SPLIT.split(name)
    if words[-1] in ("id", "ids"):  # a reference to a row ("contact_id"), not a value
        return False
    return bool(set(words) & _PERSONAL_WORDS)


def not_personal_reasons(metadata: MetaData | None = None) -> dict[str, str]:
    """Columns reviewed as not personal: NOT_PERSONAL plus `info={"not_personal": reason}` on columns."""
    _load_models()
    from niaga.db.base import Base

    reasons = dict(NOT_PERSONAL)
    for table in (metadata or Base.metadata).sorted_tables:
        for column in table.columns:
            if column.info.get("not_personal"):
                reasons[f"{table.name}.{column.name}"] = column.info["not_personal"]
    return dict(sorted(reasons.items()))


def schema_findings(
    metadata: MetaData, declared: list[FieldSpec] | None = None, allow: dict[str, str] | None = None
) -> list[str]:
    """Problems with the personal-data declarations of a schema; empty when everything is declared."""
    declared = niaga_fields(metadata) if declared is None else declared
    allow = NOT_PERSONAL if allow is None else allow
    declared_keys = {spec.key for spec in declared}
    findings = []
    seen: set[str] = set()
    for table in metadata.sorted_tables:
        for column in table.columns:
            key = f"{table.name}.{column.name}"
            seen.add(key)
            if key in declared_keys:
                if not isinstance(column.type, LargeBinary):
                    findings.append(f"{key} is declared personal but stored as {column.type!r}, not ciphertext")
            elif isinstance(column.type, Boolean) or key in allow or column.info.get("not_personal"):
                continue  # a yes/no flag cannot identify anyone; the others were reviewed
            elif looks_personal(column.name):
                findings.append(
                    f"{key} looks like personal data but is not declared with personal() "
                    "(or give the column info={'not_personal': 'the reason'})"
                )
    for key in sorted(declared_keys - seen):
        findings.append(f"{key} is declared personal but no mapped table has that column")
    for key in sorted(set(allow) - seen):
        findings.append(f"{key} is on the not-personal list but no longer exists; remove it")
    return findings

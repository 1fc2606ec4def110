"""A person's access package (UU PDP Pasal 7, 13 and 32; policies.md R1, R6).

Everything niaga holds about one data subject, derived from the declarations: every model whose rows
belong to the subject (`rekey.subject_models`) contributes its rows, with each declared personal field
decrypted and each other column that describes the record (status, amounts, dates) included as is. A
field added to a model later appears in the package with no change here. The package also carries the
consent history, the restrictions and objections in force or lifted, the recipients the declarations name
for the kinds of data held (policies T4), and the processing trail from the audit log (who did what with
the data, when, why).

The package is plain data (`build_package`) in a documented shape (`PACKAGE_SCHEMA_VERSION`); the
rights package (`niaga.privacy.rights.package`) turns it into JSON, CSV and an HTML report; the JSON
schema is documented in docs/access-package.md.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import LargeBinary, select
from sqlalchemy.orm import Session

from niaga.privacy.audit import AuditEvent
from niaga.privacy.consent import ProcessingRestriction, proof_of_consent
from niaga.privacy.fields import Unreadable
from niaga.privacy.models import DataSubject
from niaga.privacy.rekey import subject_models

PACKAGE_SCHEMA_VERSION = 1
# Columns that are plumbing, not information about the person.
_SKIP_COLUMNS = {"tenant_id", "subject_id"}
# Secrets that are the person's but would let whoever holds the copy act as them or open their other copies
# (Pasal 33: access that endangers the person is refused): listed as withheld, never copied out.
WITHHELD = {"users.totp_secret", "privacy_requests.download_link"}


def _plain(value: Any) -> Any:
    """A JSON-friendly rendering of one value."""
    if isinstance(value, Unreadable):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def _record(row: Any, personal: set[str]) -> dict[str, Any]:
    table = row.__table__
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name in _SKIP_COLUMNS or column.name in personal:
            continue
        if isinstance(column.type, LargeBinary):  # sealed bytes of something else (files, digests)
            continue
        out[column.name] = _plain(getattr(row, column.key, None))
    for name in sorted(personal):
        if f"{table.name}.{name}" in WITHHELD:
            out[name] = None if getattr(row, name) is None else "[withheld]"
            continue
        out[name] = _plain(getattr(row, name))
    return out


def build_package(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about one person in one tenant, as plain data."""
    subject = session.get(DataSubject, (tenant_id, subject_id))
    if subject is None:
        raise LookupError("no such data subject in this tenant")
    records: dict[str, list[dict[str, Any]]] = {}
    recipients: set[str] = set()
    # Rows are found by subject id alone, every subject-owned table has an index on it, and the tenant is
    # checked on each row: with both in the WHERE clause SQLite may pick an index led by tenant_id (the
    # primary key, a thread index) and walk the whole tenant — seconds at a million records.
    for model, specs in sorted(subject_models().items(), key=lambda item: item[0].__tablename__):
        personal = {spec.column for spec in specs}
        rows = [row for row in session.scalars(select(model).where(model.subject_id == subject_id))
                if row.tenant_id == tenant_id]
        if rows:
            records[model.__tablename__] = [_record(row, personal) for row in rows]
            recipients.update(r for spec in specs for r in spec.recipients)
    trail = [
        {"at": e.at.isoformat(), "action": e.action, "outcome": e.outcome, "actor": e.actor_type,
         "actor_id": str(e.actor_id) if e.actor_id else None, "purpose": e.purpose,
         "record": e.target_type, "record_id": e.target_id}
        for e in _trail(session, tenant_id, subject_id)
    ]
    return {
        "schema_version": PACKAGE_SCHEMA_VERSION,
        "subject": {"id": str(subject_id), "kind": subject.kind, "created_at": subject.created_at.isoformat(),
                    "erased": subject.is_erased},
        "records": records,
        "consents": proof_of_consent(session, tenant_id, subject_id),
        "restrictions": _restrictions(session, tenant_id, subject_id),
        "recipients": sorted(recipients),
        "processing_trail": trail,
    }


def _trail(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> list[AuditEvent]:
    """The person's audit events in chain order, sorted here: with ORDER BY seq in SQL, SQLite walks the
    tenant's whole chain in primary-key order instead of using the (tenant, subject) index."""
    rows = session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                    AuditEvent.subject_id == subject_id))
    return sorted(rows, key=lambda e: e.seq)


def _restrictions(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """Restrictions and objections the person asked for (UU PDP Pasal 10-11), in force or lifted."""
    rows = session.scalars(select(ProcessingRestriction).where(
        ProcessingRestriction.tenant_id == tenant_id, ProcessingRestriction.subject_id == subject_id,
    ).order_by(ProcessingRestriction.since, ProcessingRestriction.id))
    return [{"kind": r.kind, "since": r.since.isoformat(), "lifted_at": _plain(r.lifted_at), "reason": r.reason}
            for r in rows]

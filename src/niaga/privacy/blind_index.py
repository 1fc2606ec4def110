"""Blind indexes: keyed HMAC-SHA256 of normalised values, for exact lookup without decrypting.

Keys are derived per tenant and field (or per platform for staff login). Low-entropy fields (birth date,
gender) are never indexed: a dictionary of all their values would reverse the index.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from niaga.kit.phone import normalize_phone
from niaga.privacy.models import BlindIndexEntry
from niaga.privacy.vault import PLATFORM_SCOPE, get_vault

_WORD = re.compile(r"\w+", re.UNICODE)


def _email(value: str) -> list[str]:
    return [value.strip().casefold()]


_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _phone(value: str) -> list[str]:
    # Stored phones are already E.164 (services normalise them): skip the costly parser for those.
    if _E164.match(value):
        return [value]
    normalized = normalize_phone(value)
    return [normalized] if normalized else []


def _words(value: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", value).casefold()
    return sorted(set(_WORD.findall(folded)))


def _digits(value: str) -> list[str]:
    digits = re.sub(r"\D", "", value)
    return [digits] if digits else []


def _exact(value: str) -> list[str]:
    return [value.strip()] if value.strip() else []


NORMALIZERS = {"email": _email, "phone": _phone, "words": _words, "digits": _digits, "exact": _exact}


def scope_of(spec: Any, tenant_id: uuid.UUID) -> uuid.UUID:
    """The key scope: the tenant, or the platform for fields looked up across tenants (staff login)."""
    return PLATFORM_SCOPE if spec.scope == "platform" else tenant_id


def digests(session: Session, tenant_id: uuid.UUID, spec: Any, value: Any) -> list[bytes]:
    """All blind-index digests for one value of a field."""
    if value is None:
        return []
    key = get_vault().index_key(session, scope_of(spec, tenant_id), spec.key)
    return [hmac.new(key, term.encode(), hashlib.sha256).digest() for term in NORMALIZERS[spec.index](str(value))]


def replace_entries(
    session: Session, obj: Any, spec: Any, value: Any, fresh: bool = False, sink: list[dict] | None = None
) -> None:
    """Replace a row's index entries for one field (called when the field is sealed; `fresh`: a new row).

    With `sink`, the new entries are appended there as rows for one bulk insert by the caller (the flush
    inserts every entry of every sealed row in one statement instead of one ORM object each).
    """
    if not fresh:  # a row being inserted has no entries yet: skip one DELETE per indexed field
        session.execute(
            delete(BlindIndexEntry).where(
                BlindIndexEntry.tenant_id == obj.tenant_id,
                BlindIndexEntry.field == spec.key,
                BlindIndexEntry.row_id == obj.id,
            ),
            execution_options={"synchronize_session": False},
        )
    rows = [
        {"tenant_id": obj.tenant_id, "field": spec.key, "row_id": obj.id, "digest": digest,
         "subject_id": obj.subject_id, "is_unique": spec.unique}
        for digest in digests(session, obj.tenant_id, spec, value)
    ]
    if sink is not None:
        sink.extend(rows)
    elif rows:
        insert_entries(session, rows)


def insert_entries(session: Session, rows: list[dict]) -> None:
    """Insert index entries in one statement (executemany)."""
    session.execute(insert(BlindIndexEntry), rows, execution_options={"synchronize_session": False})


def drop_row_entries(session: Session, obj: Any) -> None:
    """Remove every index entry of a deleted row."""
    session.execute(
        delete(BlindIndexEntry).where(BlindIndexEntry.tenant_id == obj.tenant_id, BlindIndexEntry.row_id == obj.id),
        execution_options={"synchronize_session": False},
    )


def drop_subject_entries(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> int:
    """Remove every index entry of a subject (erasure)."""
    result = session.execute(
        delete(BlindIndexEntry).where(BlindIndexEntry.tenant_id == tenant_id, BlindIndexEntry.subject_id == subject_id),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


def find_rows(session: Session, tenant_id: uuid.UUID, spec: Any, value: str) -> list[uuid.UUID]:
    """Row ids whose field matches `value` exactly (every word must match for word indexes)."""
    wanted = digests(session, tenant_id, spec, value)
    if not wanted:
        return []
    query = select(BlindIndexEntry.row_id).where(
        BlindIndexEntry.field == spec.key, BlindIndexEntry.digest.in_(wanted)
    )
    if spec.scope != "platform":
        query = query.where(BlindIndexEntry.tenant_id == tenant_id)
    if len(wanted) == 1:
        return list(session.scalars(query.distinct()))
    rows: dict[uuid.UUID, int] = {}
    for row_id in session.scalars(query):
        rows[row_id] = rows.get(row_id, 0) + 1
    return [row_id for row_id, hits in rows.items() if hits >= len(wanted)]


def match_ids(session: Session, tenant_id: uuid.UUID, spec: Any, value: str) -> Select | None:
    """A subquery of matching row ids, for `Model.id.in_(...)` — one statement for lookup and load.

    None when the value normalises to nothing (no row can match). Word indexes need every word.
    """
    wanted = digests(session, tenant_id, spec, value)
    if not wanted:
        return None
    query = select(BlindIndexEntry.row_id).where(BlindIndexEntry.field == spec.key, BlindIndexEntry.digest.in_(wanted))
    if spec.scope != "platform":
        query = query.where(BlindIndexEntry.tenant_id == tenant_id)
    if len(wanted) > 1:
        query = query.group_by(BlindIndexEntry.row_id).having(func.count(func.distinct(BlindIndexEntry.digest))
                                                              >= len(wanted))
    return query


def find_platform_rows(session: Session, spec: Any, value: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, row_id) pairs for a platform-scoped field (e.g. staff email at login)."""
    wanted = digests(session, PLATFORM_SCOPE, spec, value)
    if not wanted:
        return []
    query = select(BlindIndexEntry.tenant_id, BlindIndexEntry.row_id).where(
        BlindIndexEntry.field == spec.key, BlindIndexEntry.digest.in_(wanted)
    )
    return [(t, r) for t, r in session.execute(query.distinct())]


def terms(spec: Any, values: Iterable[str]) -> list[str]:
    """Normalised terms of values (for tests and diagnostics; never logged)."""
    return [t for v in values for t in NORMALIZERS[spec.index](v)]

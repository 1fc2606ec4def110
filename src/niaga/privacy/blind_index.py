"""Blind indexes: keyed HMAC-SHA256 of normalised values, for exact lookup without decrypting.

Keys are derived per tenant and field (or per platform for staff login). Low-entropy fields (birth date,
gender) are never indexed: a dictionary of all their values would reverse the index.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter
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
    # hmac.digest is OpenSSL's one-shot HMAC: no Python HMAC object per term.
    return [hmac.digest(key, term.encode(), "sha256") for term in NORMALIZERS[spec.index](str(value))]


def replace_entries(
    session: Session, obj: Any, spec: Any, value: Any, fresh: bool = False, sink: list[tuple] | None = None
) -> None:
    """Replace a row's index entries for one field (called when the field is sealed; `fresh`: a new row).

    With `sink`, the new entries are appended there as tuples in ENTRY_COLUMNS order, for one bulk insert
    by the caller (the flush inserts every entry of every sealed row in one executemany).
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
    tenant_id, row_id, subject_id, field, unique = obj.tenant_id, obj.id, obj.subject_id, spec.key, spec.unique
    rows = [(tenant_id, field, row_id, digest, subject_id, unique) for digest in digests(session, tenant_id, spec, value)]
    if sink is not None:
        sink.extend(rows)
    else:
        insert_entry_tuples(session, rows)


ENTRY_COLUMNS = ("tenant_id", "field", "row_id", "digest", "subject_id", "is_unique")
_INSERT_PLANS: dict[tuple, tuple[str, tuple, bool, tuple]] = {}


def _insert_plan(dialect: Any) -> tuple[str, tuple, bool, tuple]:
    """(driver SQL, bind processors, positional?, parameter names) of the entry INSERT, made once per driver."""
    plan_key = (dialect.name, dialect.driver, dialect.paramstyle)
    plan = _INSERT_PLANS.get(plan_key)
    if plan is None:
        table = BlindIndexEntry.__table__
        compiled = insert(table).compile(dialect=dialect, column_keys=list(ENTRY_COLUMNS))
        names = tuple(compiled.positiontup) if compiled.positional else ENTRY_COLUMNS
        if set(names) != set(ENTRY_COLUMNS):
            raise RuntimeError(f"unexpected blind-index insert parameters: {names}")
        order = tuple(ENTRY_COLUMNS.index(name) for name in names)
        processors = tuple((i, table.c[ENTRY_COLUMNS[i]].type.bind_processor(dialect)) for i in order)
        plan = (compiled.string, processors, compiled.positional, names)
        _INSERT_PLANS[plan_key] = plan
    return plan


def insert_entry_tuples(session: Session, rows: list[tuple]) -> None:
    """Insert entries given as tuples in ENTRY_COLUMNS order, in one driver-level executemany.

    Every flush that seals indexed fields inserts its entries here: building SQLAlchemy parameter
    dictionaries per row cost several times more than the INSERT itself.
    """
    if not rows:
        return
    connection = session.connection()
    sql, processors, positional, names = _insert_plan(connection.dialect)
    # Column by column through C-level map/zip: a Python expression per value costs more than the INSERT.
    columns = []
    for i, proc in processors:
        values = [row[i] for row in rows]
        columns.append(values if proc is None else list(map(proc, values)))
    if positional:
        params: list = list(zip(*columns, strict=True))
    else:
        params = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    connection.exec_driver_sql(sql, params)


def insert_entries(session: Session, rows: list[dict]) -> None:
    """Insert index entries in one statement (executemany)."""
    insert_entry_tuples(session, [tuple(row[c] for c in ENTRY_COLUMNS) for row in rows])


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


_T = BlindIndexEntry.__table__


def _eq(column: Any, value: Any) -> BinaryExpression:
    """`column = :value`, built without the operator dispatch of `==` (half the cost of a lookup's statement)."""
    return BinaryExpression(column, BindParameter(None, value, type_=column.type, unique=True), operators.eq)


def _entry_filter(tenant_id: uuid.UUID, spec: Any, wanted: list[bytes]) -> list:
    """WHERE terms for entries of one field matching the digests: `=` for one digest (IN would be expanded
    again on every execution), the tenant unless the field is platform-scoped."""
    match = _eq(_T.c.digest, wanted[0]) if len(wanted) == 1 else _T.c.digest.in_(wanted)
    if spec.scope == "platform":
        return [_eq(_T.c.field, spec.key), match]
    return [_eq(_T.c.tenant_id, tenant_id), _eq(_T.c.field, spec.key), match]


def find_rows(session: Session, tenant_id: uuid.UUID, spec: Any, value: str) -> list[uuid.UUID]:
    """Row ids whose field matches `value` exactly (every word must match for word indexes)."""
    wanted = digests(session, tenant_id, spec, value)
    if not wanted:
        return []
    query = select(_T.c.row_id).where(*_entry_filter(tenant_id, spec, wanted))
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
    query = select(_T.c.row_id).where(*_entry_filter(tenant_id, spec, wanted))
    if len(wanted) > 1:
        query = query.group_by(_T.c.row_id).having(func.count(func.distinct(_T.c.digest)) >= len(wanted))
    return query


def find_platform_rows(session: Session, spec: Any, value: str) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, row_id) pairs for a platform-scoped field (e.g. staff email at login)."""
    wanted = digests(session, PLATFORM_SCOPE, spec, value)
    if not wanted:
        return []
    match = _eq(_T.c.digest, wanted[0]) if len(wanted) == 1 else _T.c.digest.in_(wanted)
    query = select(_T.c.tenant_id, _T.c.row_id).where(_eq(_T.c.field, spec.key), match)
    return [(t, r) for t, r in session.execute(query.distinct())]


def terms(spec: Any, values: Iterable[str]) -> list[str]:
    """Normalised terms of values (for tests and diagnostics; never logged)."""
    return [t for v in values for t in NORMALIZERS[spec.index](v)]

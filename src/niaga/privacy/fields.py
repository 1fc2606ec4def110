"""Personal fields: declared once on the model, encrypted at rest under the person's key.

    class Contact(TenantOwned, SubjectOwned, Base):
        email = personal(Category.CONTACT, [Purpose.U1], retention=Retention.RELATIONSHIP, index="email")

`personal()` adds a binary column with the field's name that holds ciphertext, and a descriptor that
decrypts on read and encrypts at flush. Every declaration lands in `REGISTRY`, from which the data
inventory, exports, erasure, retention and the published policy are derived (DESIGN.md rule 4).

Ciphertext layout: b"\x01" (format) || subject key version (4 bytes) || nonce (12) || ciphertext || tag.
Associated data binds tenant, subject, table, column and row, so a ciphertext moved anywhere else fails.
"""

from __future__ import annotations

import enum
import json
import os
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import ForeignKeyConstraint, LargeBinary, event
from sqlalchemy.orm.attributes import flag_modified, instance_state
from sqlalchemy.orm import Mapped, Session, declared_attr, foreign, mapped_column, object_session, relationship

from niaga.privacy.keys import NONCE_BYTES

FORMAT_V1 = b"\x01"
_MISSING = object()


class Category(str, enum.Enum):
    """Categories of personal data (UU PDP: general and specific data)."""

    IDENTITY = "identity"
    CONTACT = "contact"
    IDENTIFICATION = "identification"
    FINANCIAL = "financial"
    TRANSACTION = "transaction"
    COMMUNICATION = "communication"
    LOCATION = "location"
    DEVICE = "device"
    SPECIFIC = "specific"


class Purpose(str, enum.Enum):
    """Purposes of processing, policies.md U1-U10."""

    U1 = "U1"  # provide and operate the service
    U2 = "U2"  # technical support
    U3 = "U3"  # monitor, maintain, improve, security testing
    U4 = "U4"  # billing and payments
    U5 = "U5"  # service communications
    U6 = "U6"  # marketing, with consent
    U7 = "U7"  # research / analytics on de-identified data
    U8 = "U8"  # aggregate counts
    U9 = "U9"  # security, fraud, AML, KYC
    U10 = "U10"  # legal obligations


class Retention(str, enum.Enum):
    """How long a field is kept (policies.md T1-T2; tax records 10 years)."""

    ACCOUNT = "account"  # while the staff account exists
    RELATIONSHIP = "relationship"  # while the customer relationship lasts, then erased on request or tenant exit
    SESSION = "session"  # until the session ends
    TAX_10Y = "tax-10y"  # 10 years (Indonesian tax law); identity removed on erasure
    SHORT_90D = "90d"  # 90 days


class Unreadable:
    """What a personal field reads as when its key is gone ("erased") or the bytes are damaged."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __str__(self) -> str:
        return f"[{self.reason}]"

    __repr__ = __str__

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unreadable) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(("unreadable", self.reason))


ERASED = Unreadable("erased")
UNREADABLE = Unreadable("unreadable")


def is_readable(value: object) -> bool:
    """False for the erased / unreadable markers."""
    return not isinstance(value, Unreadable)


# -- codecs ---------------------------------------------------------------------------------------
_ENCODERS = {
    str: lambda v: str(v).encode(),
    date: lambda v: v.isoformat().encode(),
    int: lambda v: str(int(v)).encode(),
    dict: lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode(),
    list: lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode(),
}
_DECODERS = {
    str: lambda b: b.decode(),
    date: lambda b: date.fromisoformat(b.decode()),
    int: lambda b: int(b.decode()),
    dict: lambda b: json.loads(b),
    list: lambda b: json.loads(b),
}


@dataclass(frozen=True)
class FieldSpec:
    """What is declared about one personal column."""

    table: str
    column: str
    category: Category
    purposes: tuple[Purpose, ...]
    retention: Retention
    python_type: type
    index: str | None  # "email" | "phone" | "words" | "digits" | "exact"
    unique: bool
    scope: str  # "tenant" or "platform" (blind-index key scope)
    recipients: tuple[str, ...]
    description: str
    model: type = field(compare=False, repr=False, default=object)

    @cached_property
    def key(self) -> str:
        """'table.column', the name used in the blind index and the inventory."""
        return f"{self.table}.{self.column}"

    @cached_property
    def aad_part(self) -> bytes:
        """The field's part of the associated data, encoded once."""
        return self.key.encode()


REGISTRY: list[FieldSpec] = []


def registered_fields(model: type | None = None) -> list[FieldSpec]:
    """All declared personal fields (of one model, when given)."""
    return [f for f in REGISTRY if model is None or f.model is model]


class PersonalAttribute:
    """Descriptor for one personal field; the ciphertext lives in the mapped attribute `<name>_sealed`."""

    def __init__(self, **spec: Any) -> None:
        self._spec_args = spec
        self.name = ""
        self.sealed_attr = ""
        self.spec: FieldSpec | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        if name == "subject":  # SubjectOwned.subject is the link to the person's key; a field may not hide it
            raise TypeError(f"{owner.__name__}: a personal field cannot be called 'subject'; choose another name")
        self.name = name
        self.sealed_attr = f"{name}_sealed"
        table = owner.__dict__.get("__tablename__")
        if table is None:  # declared on a mixin: bound when the concrete class is created
            return
        self.spec = FieldSpec(table=table, column=name, model=owner, **self._spec_args)
        REGISTRY.append(self.spec)
        setattr(owner, self.sealed_attr, mapped_column(name, LargeBinary, nullable=True))

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        # Loaded attributes are read from the instance dict; only unloaded or expired ones go through
        # SQLAlchemy's instrumentation (which loads them).
        state = obj.__dict__
        pending = state.get("_niaga_plain")
        if pending and self.name in pending:
            return pending[self.name]
        sealed = state.get(self.sealed_attr, _MISSING)
        if sealed is _MISSING:
            sealed = getattr(obj, self.sealed_attr)
        if sealed is None:
            return None
        subject = state.get("subject", _MISSING)
        if subject is _MISSING:
            subject = obj.subject
        if subject is not None and _wrapped_key(subject) is None:
            # Checked before the per-object cache: a value read before an erasure in the same session
            # must not outlive the key.
            return ERASED
        cache = state.get("_niaga_open")
        if cache is None:
            cache = state["_niaga_open"] = {}
        hit = cache.get(self.name)
        if hit is not None and hit[0] is sealed:
            return hit[1]
        value = _open(obj, self, sealed, subject)
        cache[self.name] = (sealed, value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, Unreadable):
            raise ValueError(f"cannot store the {value} marker in {self.name}")
        plain = obj.__dict__.get("_niaga_plain")
        if plain is None:
            plain = obj.__dict__["_niaga_plain"] = {}
        plain[self.name] = value
        state = instance_state(obj)
        if state.persistent:
            # Mark the row changed so the unit of work flushes it; the value is sealed at flush.
            setattr(obj, self.sealed_attr, getattr(obj, self.sealed_attr))
            flag_modified(obj, self.sealed_attr)


def personal(
    category: Category,
    purposes: list[Purpose] | tuple[Purpose, ...],
    *,
    retention: Retention,
    python_type: type = str,
    index: str | None = None,
    unique: bool = False,
    scope: str = "tenant",
    recipients: tuple[str, ...] = (),
    description: str = "",
) -> Any:
    """Declare a personal field (category, purposes, retention) stored encrypted under the subject's key."""
    if python_type not in _ENCODERS:
        raise TypeError(f"personal fields cannot hold {python_type!r}")
    if unique and index is None:
        raise TypeError("a unique personal field needs a blind index")
    return PersonalAttribute(
        category=category,
        purposes=tuple(purposes),
        retention=retention,
        python_type=python_type,
        index=index,
        unique=unique,
        scope=scope,
        recipients=tuple(recipients),
        description=description,
    )


class SubjectOwned:
    """Rows holding personal fields name their data subject; the subject's key comes with the row."""

    subject_id: Mapped[uuid.UUID | None] = mapped_column(index=True, sort_order=-18)

    @declared_attr
    def subject(cls):  # noqa: ANN201, N805
        from niaga.privacy.models import DataSubject

        return relationship(
            DataSubject,
            primaryjoin=lambda: (cls.tenant_id == DataSubject.tenant_id) & (foreign(cls.subject_id) == DataSubject.id),
            lazy="joined",
        )


def subject_fk() -> ForeignKeyConstraint:
    """The tenant-inclusive foreign key from a SubjectOwned table to data_subjects."""
    return ForeignKeyConstraint(["tenant_id", "subject_id"], ["data_subjects.tenant_id", "data_subjects.id"])


def _wrapped_key(subject: Any) -> bytes | None:
    """The subject's wrapped key as loaded (through the instrumentation only when unloaded or expired)."""
    wrapped = subject.__dict__.get("key_wrapped", _MISSING)
    return subject.key_wrapped if wrapped is _MISSING else wrapped


def _aad(obj: Any, spec: FieldSpec) -> bytes:
    """tenant:subject:table.column:row — the hex forms are computed once per row, not per field."""
    state = obj.__dict__
    ids = (state.get("tenant_id"), state.get("subject_id"), state.get("id"))
    memo = state.get("_niaga_aad")
    if memo is None or memo[0] != ids:  # tuple comparison tries identity first: cheap on a hit
        if None in ids:  # expired or not yet set: go through the mapped attributes
            ids = (obj.tenant_id, obj.subject_id, obj.id)
        memo = (ids, f"{ids[0].hex}:{ids[1].hex}:".encode(), f":{ids[2].hex}".encode())
        state["_niaga_aad"] = memo
    return memo[1] + spec.aad_part + memo[2]


_get_vault: Any = None


def _vault() -> Any:
    global _get_vault
    if _get_vault is None:  # imported late: vault.py imports this package's models
        from niaga.privacy.vault import get_vault

        _get_vault = get_vault
    return _get_vault()


def _open(obj: Any, attr: PersonalAttribute, sealed: bytes, subject: Any = None) -> Any:
    subject = subject if subject is not None else obj.subject
    if subject is None:
        return ERASED
    wrapped = _wrapped_key(subject)
    if wrapped is None:
        return ERASED
    session = None
    try:
        # The cipher remembered on the loaded subject row (see Vault.subject_cipher), valid while the
        # row holds the very same wrapped-key bytes; otherwise ask the vault.
        memo = subject.__dict__.get("_niaga_cipher")
        if memo is not None and memo[0] is wrapped:
            cipher = memo[1]
        else:
            session = object_session(obj)
            cipher = _vault().subject_cipher(session, subject)
        if cipher is None:
            return ERASED
        if sealed[:1] != FORMAT_V1:
            raise ValueError("unknown ciphertext format")
        body = sealed[5:]
        plain = cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(obj, attr.spec))
        return _DECODERS[attr.spec.python_type](plain)
    except (InvalidTag, ValueError, UnicodeDecodeError):
        _note_unreadable(session or object_session(obj), obj, attr.spec)
        return UNREADABLE


def _note_unreadable(session: Session | None, obj: Any, spec: FieldSpec) -> None:
    note_unreadable(session, obj.tenant_id, spec.key, obj.id, obj.subject_id)


def note_unreadable(session: Session | None, tenant_id: uuid.UUID, what: str, row_id: uuid.UUID,
                    subject_id: uuid.UUID | None) -> None:
    """Queue an audit event for damaged personal data (a field or a file) found while reading."""
    if session is not None:
        incident = (tenant_id, what, row_id, subject_id)
        noted = session.info.setdefault("niaga_unreadable", [])
        if incident not in noted:
            noted.append(incident)


@event.listens_for(Session, "before_commit")
def _audit_unreadable(session: Session) -> None:
    """One `privacy.unreadable` audit event per damaged value read in this transaction.

    Reads do not flush, so the events are written when the request's transaction commits; a
    transaction that rolls back forgets them, and the next read of the damaged value notes it again.
    Only ids and the field name are recorded, never the bytes.
    """
    incidents = session.info.pop("niaga_unreadable", None)
    if not incidents:
        return
    from niaga.privacy import audit

    for tenant_id, what, row_id, subject_id in incidents:
        table = what.split(".", 1)[0]
        audit.record(
            session, tenant_id, "privacy.unreadable", audit.Actor.system(), outcome="failed",
            target_type=table, target_id=row_id, subject_id=subject_id, details={"field": what},
        )


@event.listens_for(Session, "after_soft_rollback")
def _forget_unreadable(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop("niaga_unreadable", None)


def _seal(session: Session, obj: Any, pending: dict[str, Any], entries: list[tuple]) -> None:
    cls = type(obj)
    state = obj.__dict__
    fresh = instance_state(obj).key is None  # not inserted yet (cheap; `session.new` builds a set per call)
    if state.get("id") is None and getattr(obj, "id", None) is None:
        from niaga.db.base import new_id

        obj.id = new_id()
    subject = state.get("subject", _MISSING)
    if subject is _MISSING:
        subject = obj.subject
    if subject is None and obj.subject_id is not None:
        from niaga.privacy.models import DataSubject

        subject = session.get(DataSubject, (obj.tenant_id, obj.subject_id))
    if subject is None:
        if any(v is not None for v in pending.values()):
            raise ValueError(f"{cls.__name__} has personal values but no data subject")
    elif obj.subject_id is None:
        obj.subject_id = subject.id
    cipher = _vault().subject_cipher(session, subject) if subject is not None else None
    opened = state.get("_niaga_open")
    if opened is None:
        opened = state["_niaga_open"] = {}
    header = None
    for name, value in pending.items():
        attr: PersonalAttribute = getattr(cls, name)
        spec = attr.spec
        if value is None:
            sealed = None
        elif cipher is None:
            raise ValueError(f"cannot write {spec.key}: the data subject has been erased")
        else:
            if header is None:
                header = FORMAT_V1 + subject.key_version.to_bytes(4, "big")
            nonce = os.urandom(NONCE_BYTES)
            sealed = header + nonce + cipher.encrypt(nonce, _ENCODERS[spec.python_type](value), _aad(obj, spec))
        if fresh:
            # A pending row's INSERT takes its values from the instance dict; the attribute event of a
            # mapped set (change history, for UPDATEs) is of no use here.
            state[attr.sealed_attr] = sealed
        else:
            setattr(obj, attr.sealed_attr, sealed)
        opened[name] = (sealed, value)
        if spec.index:
            _blind_index().replace_entries(session, obj, spec, value, fresh=fresh, sink=entries)
    pending.clear()


_blind_index_module: Any = None


def _blind_index() -> Any:
    global _blind_index_module
    if _blind_index_module is None:  # imported late: blind_index imports the vault, which imports models
        from niaga.privacy import blind_index

        _blind_index_module = blind_index
    return _blind_index_module


_HAS_FIELDS: dict[type, bool] = {}


def _has_personal_fields(cls: type) -> bool:
    known = _HAS_FIELDS.get(cls)
    if known is None:
        known = _HAS_FIELDS[cls] = bool(registered_fields(cls))
    return known


@event.listens_for(Session, "before_flush")
def _seal_pending_values(session: Session, _ctx: Any, _instances: Any) -> None:
    entries: list[tuple] = []
    for obj in list(session.new) + list(session.dirty):
        pending = obj.__dict__.get("_niaga_plain")
        if pending:
            _seal(session, obj, pending, entries)
    if entries:
        # Blind-index rows reference no other table, so they can go in before the rows they index.
        _blind_index().insert_entry_tuples(session, entries)
    for obj in list(session.deleted):
        if _has_personal_fields(type(obj)):
            _blind_index().drop_row_entries(session, obj)


__all__ = [
    "Category",
    "Purpose",
    "Retention",
    "ERASED",
    "UNREADABLE",
    "Unreadable",
    "FieldSpec",
    "REGISTRY",
    "SubjectOwned",
    "personal",
    "registered_fields",
    "subject_fk",
    "is_readable",
]

"""Moving a person's rows to another data subject (used when two CRM contacts turn out to be one person).

A ciphertext is bound to its subject: the subject's key encrypts it and the subject id is part of its
associated data. Moving a row therefore means reading its plaintext under the old subject, switching the
row's `subject_id`, and assigning the values again, so that the before-flush hook of `privacy.fields`
seals them under the new subject's key and rewrites the row's blind-index entries (which carry the
subject id too, so a later erasure of the new subject removes them).

The walk is generic: every model that declares personal fields (`fields.REGISTRY`), and every other
`SubjectOwned` model, is visited, so records
added later by other domains (deals, tickets, messages, sales) move without a change here. Models whose
rows hold sealed bytes outside their personal fields (the encrypted file store) register a mover with
`register_mover`; the file store's is registered below.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from niaga.kit.errors import Conflict, NotFound
from niaga.kit.messages import Msg
from niaga.privacy.fields import REGISTRY, FieldSpec, SubjectOwned, Unreadable
from niaga.privacy.models import DataSubject

# fn(session, row, from_subject, to_subject) -> None: moves one row of a model whose bytes live elsewhere.
Mover = Callable[[Session, Any, DataSubject, DataSubject], None]
MOVERS: dict[type, Mover] = {}


class RekeyRefused(Conflict):
    """The rows cannot be moved (an erased subject, or a damaged value that cannot be re-sealed)."""

    code = "rekey-refused"


def register_mover(model: type, mover: Mover) -> None:
    """Let a model whose rows hold sealed bytes outside personal fields move them itself."""
    MOVERS[model] = mover


def subject_models() -> dict[type, list[FieldSpec]]:
    """Every model whose rows belong to a subject, with its personal fields (empty for rows that only name
    the subject, such as a consent record: they move too, or they would stay behind with the erased key)."""
    from niaga.db.base import Base

    grouped: dict[type, list[FieldSpec]] = defaultdict(list)
    for spec in REGISTRY:
        grouped[spec.model].append(spec)
    for mapper in Base.registry.mappers:
        if issubclass(mapper.class_, SubjectOwned):
            grouped.setdefault(mapper.class_, [])
    return dict(grouped)


def _subject(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> DataSubject:
    subject = session.get(DataSubject, (tenant_id, subject_id))
    if subject is None:
        raise NotFound(Msg("No such person."))
    return subject


def move_row(row: Any, specs: list[FieldSpec], to_subject: DataSubject) -> None:
    """Re-seal one row's personal values under another subject (sealed at the next flush)."""
    values = {spec.column: getattr(row, spec.column) for spec in specs}
    if any(isinstance(value, Unreadable) for value in values.values()):
        raise RekeyRefused(Msg("Some of this person's data is damaged and cannot be moved. Nothing was changed."))
    row.subject_id = to_subject.id
    row.subject = to_subject
    for column, value in values.items():
        setattr(row, column, value)


def rekey_subject_rows(session: Session, tenant_id: uuid.UUID, from_subject_id: uuid.UUID,
                       to_subject_id: uuid.UUID) -> dict[str, int]:
    """Move every row of one subject to another within a tenant; returns rows moved per table.

    Runs in the caller's transaction and flushes; the old subject is left without rows (erase it next).
    """
    if from_subject_id == to_subject_id:
        raise RekeyRefused(Msg("A person cannot be moved onto themselves."))
    source = _subject(session, tenant_id, from_subject_id)
    target = _subject(session, tenant_id, to_subject_id)
    if source.is_erased or target.is_erased:
        raise RekeyRefused(Msg("This person's data has been erased; there is nothing to move."))
    moved: dict[str, int] = {}
    for model, specs in subject_models().items():
        # Relationships load lazily (only what a mover touches): eager collection loaders of some models
        # would otherwise run for every row found.
        rows = list(session.scalars(select(model).options(lazyload("*")).where(
            model.tenant_id == tenant_id, model.subject_id == from_subject_id)))
        mover = MOVERS.get(model)
        for row in rows:
            if mover is not None:
                mover(session, row, source, target)
            else:
                move_row(row, specs, target)
        if rows:
            moved[model.__tablename__] = len(rows)
    session.flush()
    return moved


def _move_stored_file(session: Session, row: Any, source: DataSubject, target: DataSubject) -> None:
    """A stored file is copied under the new subject and the old row deleted (its blob goes after commit).

    The blob is never rewritten in place: if the transaction rolls back, the old row and blob are intact
    and the new blob is an orphan that `files.sweep_orphans` removes.
    """
    from niaga.privacy import files
    from niaga.privacy.audit import Actor

    store = files._store(None)
    data = files._decrypt(session, row, store)
    if not isinstance(data, bytes):
        raise RekeyRefused(Msg("Some of this person's data is damaged and cannot be moved. Nothing was changed."))
    files.store_file(session, Actor.system(), target.id, data, str(row.filename), kind=row.kind,
                     tenant_id=row.tenant_id, store=store)
    files.delete_file(session, Actor.system(), row.id, tenant_id=row.tenant_id, store=store)


def _register_file_store() -> None:
    from niaga.privacy.file_models import StoredFile

    register_mover(StoredFile, _move_stored_file)


_register_file_store()

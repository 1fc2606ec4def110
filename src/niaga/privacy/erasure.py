"""Crypto-shredding: erasing a person is deleting their key (DESIGN.md "The privacy kernel", policies R3).

`erase_subject` removes the subject's wrapped key and their blind-index rows, appends to the erasure
log and audits, all in the caller's transaction. Every ciphertext of that person — in every table, in
the file store, in every backup — then reads as `ERASED`; rows that must be kept (tax records) survive
without identity, and lists keep working because the rows themselves are untouched.

What the storage engines keep after the transaction commits (decision)
----------------------------------------------------------------------
The only secret that erasure deletes is ~60 bytes of wrapped key in `data_subjects.key_wrapped`
(plus the HMAC digests in `blind_index`). A stale copy of those bytes is harmless without the tenant key,
which needs the master key — but a stale copy *plus* the master key is exactly a backup, so niaga treats
storage residue like a backup and bounds its lifetime:

* SQLite runs with `secure_delete=ON`, so the freed bytes of the updated row and of the deleted index
  rows are zeroed in the page. The WAL, however, still holds older page images (from the insert and
  from the erasure itself) until it is checkpointed and reset. `compact_storage` runs
  `wal_checkpoint(TRUNCATE)`, which copies the zeroed pages into the database file and truncates the
  WAL to zero bytes. It is not run inside `erase_subject` because a TRUNCATE checkpoint waits for every
  reader; `niaga privacy erase` and `niaga privacy compact` run it right after the commit, and jobs that
  erase in bulk (retention, tenant exit) should schedule it once at the end.
* PostgreSQL keeps the old row version as a dead tuple until VACUUM, and plain VACUUM does not zero the
  space it frees; full-page images also sit in the WAL until the segments are recycled. `compact_storage`
  runs `VACUUM FULL` on the two tables involved (both hold one short row per person or value, so the
  exclusive lock is brief), which writes them to new files and unlinks the old ones. WAL segments are
  recycled by the server after checkpoints (`max_wal_size`); WAL archives are backups and fall under the
  backup retention (policies T3).
* Backups hold the wrapped key as it was when they were taken. Restoring one replays the erasure log
  (`niaga.privacy.backup`), and backups are pruned after the retention period.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.kit.errors import NotFound
from niaga.kit.logging import scrub
from niaga.kit.messages import Msg
from niaga.privacy import audit, blind_index
from niaga.privacy.audit import Actor
from niaga.privacy.models import DataSubject, ErasureRecord
from niaga.privacy.vault import get_vault

# Reasons are short slugs ("subject-request", "retention", "tenant-exit", "operator", "underage"),
# references are request numbers: neither can carry a name or an address into the log.
_REASON = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,79}$")


@dataclass(frozen=True)
class ErasureResult:
    """What one erasure did."""

    tenant_id: uuid.UUID
    subject_id: uuid.UUID
    erased_at: datetime
    index_entries: int
    already_erased: bool


def _check_labels(reason: str, reference: str | None) -> None:
    if not _REASON.match(reason):
        raise ValueError("an erasure reason is a short slug such as 'subject-request' or 'retention'")
    if reference is not None and (not _REFERENCE.match(reference) or scrub(reference) != reference):
        raise ValueError("an erasure reference is a request number, never personal data")


def _shred(session: Session, subject: DataSubject, when: datetime) -> int:
    """Destroy the key and the index rows of one subject; returns the index rows removed."""
    subject.key_wrapped = None
    subject.erased_at = subject.erased_at or when
    removed = blind_index.drop_subject_entries(session, subject.tenant_id, subject.id)
    get_vault().forget_subject(subject.tenant_id, subject.id)
    return removed


def erase_subject(
    session: Session,
    tenant_id: uuid.UUID,
    subject_id: uuid.UUID,
    actor: Actor,
    reason: str,
    reference: str | None = None,
) -> ErasureResult:
    """Crypto-shred one person of a tenant in the caller's transaction; erasing twice is a no-op."""
    _check_labels(reason, reference)
    subject = session.scalar(
        select(DataSubject)
        .where(DataSubject.tenant_id == tenant_id, DataSubject.id == subject_id)
        .with_for_update()
    )
    if subject is None:
        raise NotFound(Msg("No such person."))
    existing = session.get(ErasureRecord, (tenant_id, subject_id))
    if subject.key_wrapped is None and existing is not None:
        return ErasureResult(tenant_id, subject_id, existing.erased_at, 0, True)
    now = utcnow()
    removed = _shred(session, subject, now)
    if existing is None:
        session.add(ErasureRecord(tenant_id=tenant_id, subject_id=subject_id, erased_at=now, reason=reason,
                                  reference=reference))
    session.flush()
    audit.record(
        session, tenant_id, "privacy.subject_erased", actor, target_type="data_subject", target_id=subject_id,
        subject_id=subject_id,
        details={"reason": reason, "reference": reference, "kind": subject.kind, "index_entries": removed},
    )
    return ErasureResult(tenant_id, subject_id, now, removed, False)


def replay_erasures(session: Session, records: list[ErasureRecord | dict]) -> int:
    """Re-apply erasure-log records (after a backup restore); returns how many people were erased again.

    A record names an id only. A subject that the restored data does not know is recorded in the log
    anyway, so a later restore of an even older backup still finds it.
    """
    replayed = 0
    for rec in records:
        values = rec if isinstance(rec, dict) else {
            "tenant_id": rec.tenant_id, "subject_id": rec.subject_id, "erased_at": rec.erased_at,
            "reason": rec.reason, "reference": rec.reference,
        }
        tenant_id, subject_id = values["tenant_id"], values["subject_id"]
        if session.get(ErasureRecord, (tenant_id, subject_id)) is None:
            session.add(ErasureRecord(**values))
        subject = session.get(DataSubject, (tenant_id, subject_id))
        if subject is None or subject.key_wrapped is None:
            continue
        removed = _shred(session, subject, values["erased_at"])
        session.flush()
        audit.record(
            session, tenant_id, "privacy.subject_erased", Actor.system(), target_type="data_subject",
            target_id=subject_id, subject_id=subject_id,
            details={"reason": values["reason"], "replayed": True, "index_entries": removed},
        )
        replayed += 1
    session.flush()
    return replayed


def erasure_log(session: Session) -> list[ErasureRecord]:
    """Every erasure the database knows, oldest first."""
    return list(session.scalars(select(ErasureRecord).order_by(ErasureRecord.erased_at)))


def is_erased(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> bool:
    """True when the person's key is gone (or the person is unknown to this tenant)."""
    subject = session.get(DataSubject, (tenant_id, subject_id))
    return subject is None or subject.key_wrapped is None


def compact_storage(engine: Engine) -> str:
    """Remove erased keys' residue from the engine's files (see the module docstring); run after commit."""
    if engine.dialect.name == "sqlite":
        # Outside any transaction (SQLAlchemy's connections always BEGIN first): the raw connection
        # runs in autocommit mode.
        raw = engine.raw_connection()
        try:
            busy, frames, moved = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        if busy:
            return f"sqlite: checkpoint incomplete ({moved}/{frames} pages), readers were active; run again"
        return f"sqlite: WAL checkpointed ({moved} pages) and truncated"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL data_subjects"))
        conn.execute(text("VACUUM FULL blind_index"))
    return "postgresql: data_subjects and blind_index rewritten (VACUUM FULL)"

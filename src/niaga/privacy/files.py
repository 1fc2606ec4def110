"""The encrypted file store (policies K3): attachments and documents, encrypted under the owner's key.

Bytes live in a local directory (`DATA_DIR/files` by default), one blob per file:

    b"NGF1" || subject key version (4 bytes) || nonce (12) || AES-256-GCM ciphertext || tag

with associated data binding tenant, subject and file id, so a blob renamed onto another file fails.
The SHA-256 of the plaintext is kept in the database (sealed, see `StoredFile.sha256`) and checked on
every read. Erasing the person destroys the key: their blobs become noise (`purge_erased_blobs` then
removes them from disk). A damaged or missing blob reads as `UNREADABLE` and is audited; never an error.

A blob is written before the row is committed; when the transaction rolls back the blob has no row and
no one can name it (`sweep_orphans` removes such leftovers). Another backend (S3-compatible storage)
only needs `FileStore`'s `write`, `read` and `delete`.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from niaga.config import Settings, get_settings
from niaga.db.base import new_id
from niaga.kit.errors import DomainError, Forbidden, NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit
from niaga.privacy.audit import Actor
from niaga.privacy.fields import ERASED, UNREADABLE, Category, Purpose, Retention, Unreadable, note_unreadable
from niaga.privacy.file_models import StoredFile
from niaga.privacy.keys import NONCE_BYTES
from niaga.privacy.models import DataSubject
from niaga.privacy.vault import get_vault

MAGIC = b"NGF1"
_HEADER = len(MAGIC) + 4


class FileTooLarge(DomainError):
    """The file is bigger than NIAGA_MAX_FILE_BYTES."""

    status = 413
    code = "file-too-large"


class UnsupportedFileType(DomainError):
    """The detected content type is not accepted for this kind of file."""

    status = 415
    code = "unsupported-file-type"


@dataclass(frozen=True)
class FileKind:
    """A kind of stored file and what the inventory says about it; domains register their own."""

    name: str
    category: Category
    purposes: tuple[Purpose, ...]
    retention: Retention
    description: str
    read_permission: Any = None  # a Perm the reader must hold; None: any staff member of the tenant
    allowed_types: frozenset[str] | None = None  # None: any type


FILE_KINDS: dict[str, FileKind] = {}


def register_kind(
    name: str, category: Category, purposes: list[Purpose], retention: Retention, description: str, *,
    read_permission: Any = None, allowed_types: set[str] | None = None,
) -> FileKind:
    """Declare a kind of file (KYC documents, chat attachments…); it appears in the data inventory."""
    kind = FileKind(name, category, tuple(purposes), retention, description, read_permission,
                    frozenset(allowed_types) if allowed_types is not None else None)
    FILE_KINDS[name] = kind
    return kind


register_kind("attachment", Category.COMMUNICATION, [Purpose.U1, Purpose.U2], Retention.RELATIONSHIP,
              "Files attached to a person's records and conversations")


@dataclass(frozen=True)
class FileContent:
    """A read file: `data` is the bytes, or the ERASED / UNREADABLE marker."""

    id: uuid.UUID
    filename: str | Unreadable
    content_type: str
    size: int
    data: bytes | Unreadable

    @property
    def readable(self) -> bool:
        """True when `data` holds the file's bytes."""
        return isinstance(self.data, bytes)


class FileStore:
    """A directory of encrypted blobs, sharded by tenant."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> "FileStore":
        """The store under DATA_DIR/files with the configured size limit."""
        return cls(settings.data_dir / "files", settings.max_file_bytes)

    def path(self, tenant_id: uuid.UUID, file_id: uuid.UUID) -> Path:
        """Where a file's blob lives (ids only: a path never names a person)."""
        return self.root / tenant_id.hex / file_id.hex[-2:] / f"{file_id.hex}.bin"

    def write(self, tenant_id: uuid.UUID, file_id: uuid.UUID, blob: bytes) -> None:
        """Write a blob atomically with owner-only permissions."""
        target = self.path(tenant_id, file_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def read(self, tenant_id: uuid.UUID, file_id: uuid.UUID) -> bytes | None:
        """A blob's bytes, or None when it is missing."""
        try:
            return self.path(tenant_id, file_id).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, tenant_id: uuid.UUID, file_id: uuid.UUID) -> bool:
        """Remove a blob; False when it was already gone."""
        try:
            self.path(tenant_id, file_id).unlink()
            return True
        except FileNotFoundError:
            return False

    def blobs(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(tenant_id, file_id) of every blob on disk."""
        found = []
        for path in self.root.glob("*/*/*.bin"):
            try:
                found.append((uuid.UUID(path.parent.parent.name), uuid.UUID(path.stem)))
            except ValueError:
                continue
        return found


def _store(store: FileStore | None) -> FileStore:
    return store or FileStore.from_settings(get_settings())


def _aad(tenant_id: uuid.UUID, subject_id: uuid.UUID, file_id: uuid.UUID) -> bytes:
    return f"niaga/file/{tenant_id.hex}/{subject_id.hex}/{file_id.hex}".encode()


def detect_type(data: bytes) -> str:
    """The content type from the bytes themselves (magic numbers), never from the name or the client."""
    guess = filetype.guess(data)
    if guess is not None:
        return guess.mime
    if b"\x00" not in data[:8192]:
        try:
            data[:8192].decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as exc:
            if exc.start > 8188:  # cut inside a multi-byte character at the sample's end
                return "text/plain"
    return "application/octet-stream"


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".")
    return (name or "file")[:200]


def _who(who: Any, tenant_id: uuid.UUID | None) -> tuple[Actor, uuid.UUID, Any]:
    """(actor, tenant, principal or None) from a Principal or an Actor plus a tenant id."""
    if isinstance(who, Actor):
        if tenant_id is None:
            raise ValueError("an Actor needs an explicit tenant_id")
        return who, tenant_id, None
    if tenant_id is not None and tenant_id != who.tenant_id:
        raise ValueError("a principal acts in its own tenant only")
    return who.actor, who.tenant_id, who


def store_file(
    session: Session, who: Any, subject_id: uuid.UUID, data: bytes, filename: str, *, kind: str = "attachment",
    tenant_id: uuid.UUID | None = None, store: FileStore | None = None,
) -> StoredFile:
    """Encrypt and keep a file of one person; refuses empty, oversized or unaccepted files."""
    store = _store(store)
    actor, tenant_id, principal = _who(who, tenant_id)
    spec = FILE_KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown file kind {kind!r}: register it with files.register_kind")
    if not data:
        raise ValidationFailed({"file": Msg("The file is empty.")})
    if len(data) > store.max_bytes:
        raise FileTooLarge(Msg("The file is too large: the limit is {mb} MB.", mb=max(1, store.max_bytes // 1_000_000)))
    content_type = detect_type(data)
    if spec.allowed_types is not None and content_type not in spec.allowed_types:
        raise UnsupportedFileType(Msg("This type of file is not accepted here."))
    subject = session.get(DataSubject, (tenant_id, subject_id))
    if subject is None:
        raise NotFound(Msg("No such person."))
    cipher = get_vault().subject_cipher(session, subject)
    if cipher is None:
        raise ValidationFailed({"file": Msg("This person's data has been erased.")})
    file_id = new_id()
    nonce = os.urandom(NONCE_BYTES)
    blob = MAGIC + subject.key_version.to_bytes(4, "big") + nonce + cipher.encrypt(
        nonce, data, _aad(tenant_id, subject_id, file_id))
    store.write(tenant_id, file_id, blob)
    row = StoredFile(
        tenant_id=tenant_id, id=file_id, subject=subject, kind=kind, content_type=content_type, size=len(data),
        filename=clean_filename(filename), sha256=hashlib.sha256(data).hexdigest(),
        created_by_type=actor.type, created_by=actor.id,
    )
    session.add(row)
    session.flush()
    audit.record(session, tenant_id, "file.stored", actor, target_type="file", target_id=file_id,
                 subject_id=subject_id, purpose=spec.purposes[0].value,
                 details={"kind": kind, "size": len(data), "content_type": content_type})
    return row


def _decrypt(session: Session, row: StoredFile, store: FileStore) -> bytes | Unreadable:
    subject = row.subject
    if subject is None or subject.key_wrapped is None:
        return ERASED
    blob = store.read(row.tenant_id, row.id)
    try:
        cipher = get_vault().subject_cipher(session, subject)
        if cipher is None:
            return ERASED
        if blob is None or blob[:4] != MAGIC or len(blob) < _HEADER + NONCE_BYTES + 16:
            raise ValueError("missing or malformed blob")
        body = blob[_HEADER:]
        data = cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(row.tenant_id, row.subject_id, row.id))
        if not isinstance(row.sha256, str) or hashlib.sha256(data).hexdigest() != row.sha256:
            raise ValueError("content hash mismatch")
        return data
    except Exception:  # noqa: BLE001 - any failure to produce the exact bytes is "unreadable", audited
        note_unreadable(session, row.tenant_id, "stored_files.content", row.id, row.subject_id)
        return UNREADABLE


def read_file(
    session: Session, who: Any, file_id: uuid.UUID, *, tenant_id: uuid.UUID | None = None,
    store: FileStore | None = None, purpose: str | None = None,
) -> FileContent:
    """A file's bytes for a download: checks the tenant and the kind's permission, audits every read."""
    store = _store(store)
    actor, tenant_id, principal = _who(who, tenant_id)
    row = session.get(StoredFile, (tenant_id, file_id))
    if row is None:
        raise NotFound(Msg("No such file."))
    spec = FILE_KINDS.get(row.kind)
    needed = spec.read_permission if spec else None
    if principal is not None and needed is not None and not principal.can(needed):
        audit.record(session, tenant_id, "file.downloaded", actor, outcome="denied", target_type="file",
                     target_id=row.id, subject_id=row.subject_id)
        raise Forbidden(Msg("Your role does not allow this."))
    data = _decrypt(session, row, store)
    audit.record(
        session, tenant_id, "file.downloaded", actor, outcome="ok" if isinstance(data, bytes) else "failed",
        target_type="file", target_id=row.id, subject_id=row.subject_id,
        purpose=purpose or (spec.purposes[0].value if spec else None),
        details={"kind": row.kind, "result": "ok" if isinstance(data, bytes) else str(data).strip("[]")},
    )
    return FileContent(row.id, row.filename, row.content_type, row.size, data)


def files_of_subject(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> list[StoredFile]:
    """A person's stored files (for access requests and exports)."""
    return list(session.scalars(select(StoredFile).where(StoredFile.tenant_id == tenant_id,
                                                         StoredFile.subject_id == subject_id)
                                .order_by(StoredFile.created_at)))


def delete_file(session: Session, who: Any, file_id: uuid.UUID, *, tenant_id: uuid.UUID | None = None,
                store: FileStore | None = None) -> None:
    """Delete a file's row now and its blob once the transaction commits."""
    store = _store(store)
    actor, tenant_id, _ = _who(who, tenant_id)
    row = session.get(StoredFile, (tenant_id, file_id))
    if row is None:
        raise NotFound(Msg("No such file."))
    session.delete(row)
    audit.record(session, tenant_id, "file.deleted", actor, target_type="file", target_id=file_id,
                 subject_id=row.subject_id)
    session.info.setdefault("niaga_unlink", []).append((store, tenant_id, file_id))


@event.listens_for(Session, "after_commit")
def _unlink_deleted_blobs(session: Session) -> None:
    for store, tenant_id, file_id in session.info.pop("niaga_unlink", []):
        store.delete(tenant_id, file_id)


@event.listens_for(Session, "after_soft_rollback")
def _keep_blobs_on_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop("niaga_unlink", None)


def purge_erased_blobs(session: Session, store: FileStore | None = None) -> int:
    """Remove from disk the blobs of erased people (already unreadable; this reclaims the space)."""
    store = _store(store)
    query = (select(StoredFile.tenant_id, StoredFile.id)
             .join(DataSubject, (DataSubject.tenant_id == StoredFile.tenant_id)
                   & (DataSubject.id == StoredFile.subject_id))
             .where(DataSubject.key_wrapped.is_(None)))
    return sum(1 for tenant_id, file_id in session.execute(query) if store.delete(tenant_id, file_id))


def sweep_orphans(session: Session, store: FileStore | None = None, older_than_seconds: int = 3600) -> int:
    """Remove blobs that no row names (left by rolled-back uploads), sparing recent in-flight uploads."""
    store = _store(store)
    cutoff = time.time() - older_than_seconds
    removed = 0
    for tenant_id, file_id in store.blobs():
        path = store.path(tenant_id, file_id)
        if path.stat().st_mtime > cutoff:
            continue
        if session.get(StoredFile, (tenant_id, file_id)) is None and store.delete(tenant_id, file_id):
            removed += 1
    return removed

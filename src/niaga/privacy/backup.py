"""Encrypted backups (policies T3): consistent snapshots, encrypted, pruned, and restored without
bringing erased people back.

Format of a backup file (`DATA_DIR/backups/niaga-<UTC time>-<id>.nbk`, mode 0600)::

    MAGIC || u32 header length || header (JSON, clear) || sealed chunks

The header names the engine, the schema revision, the master key version and its fingerprint, and
holds the backup's own random data key wrapped by that master key version (the key is bound to the
backup id). Wrapping a random key, rather than deriving one, is what a KMS provider can do too, and it
makes every backup's key independent. Chunks are AES-256-GCM with associated data binding the header
hash, the section, the chunk index and a final-chunk flag, so a reordered, truncated or edited file is
refused. Section 0 is the erasure log at backup time (ids only); section 1 is the snapshot: the SQLite
online-backup API copy, or `pg_dump --format=custom`.

Restore procedure (the app is stopped; `niaga backup restore FILE`):
1. the header is checked against the configured master key: another key is refused before anything
   is touched;
2. the erasure log is collected from the live database (when it still exists) and from every other
   backup in the directory — so a person erased after this backup was taken is known;
3. SQLite: the snapshot is decrypted to a temporary file, migrated to the current schema, the erasures
   are replayed and the WAL truncated *there*, and only then copied into the target with the online
   backup API — the target never holds the erased keys. PostgreSQL: `pg_restore --clean --if-exists
   --single-transaction` into the target, then migrations, the replay and `VACUUM FULL` of the key tables.
Destroying an old master key version (`niaga keys destroy-retired`) makes the backups made under it
unreadable, which is the hard end of their retention.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from niaga.config import Settings
from niaga.db import migrate
from niaga.db.base import utcnow
from niaga.db.engine import Database, make_engine
from niaga.privacy import erasure
from niaga.privacy.keys import KEY_BYTES, NONCE_BYTES
from niaga.privacy.models import ErasureRecord, PlatformKey, TenantKey
from niaga.privacy.vault import get_vault

MAGIC = b"NIAGA-BACKUP\n"
FORMAT = 1
CHUNK = 1 << 20
SUFFIX = ".nbk"


class BackupError(RuntimeError):
    """A backup cannot be made, read or restored; the message says why and what to do."""


class BackupKeyMismatch(BackupError):
    """The backup was made with a master key that is not configured here."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup's clear header says."""

    path: Path
    id: str
    created_at: datetime
    engine: str
    revision: str | None
    master_version: int
    master_fingerprint: str
    size: int

    @property
    def name(self) -> str:
        """The file name."""
        return self.path.name


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    backup: BackupInfo
    erasures_known: int
    replayed: int
    revision: str | None


def backup_dir(settings: Settings) -> Path:
    """Where backups live (created owner-only)."""
    path = settings.data_dir / "backups"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


# -- engines --------------------------------------------------------------------------------------
def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if not found:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client package")
    return found


def _pg_conn(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and an environment carrying it (never on the command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no message)"]
        raise BackupError(f"{what} failed: {detail[0]}")


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "").resolve()


def _snapshot(url: str, target: Path) -> None:
    if url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(url))
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)  # a consistent copy even while the app writes
        finally:
            dest.close()
            source.close()
        return
    conn, env = _pg_conn(url)
    _run([_pg_bin("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), conn],
         env, "pg_dump")


# -- file format ----------------------------------------------------------------------------------
def _chunk_aad(header_hash: bytes, section: int, index: int, final: bool) -> bytes:
    return header_hash + struct.pack(">BQ?", section, index, final)


def _write_section(out: BinaryIO, aead: AESGCM, header_hash: bytes, section: int, source: BinaryIO) -> None:
    index = 0
    block = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if block else b""
        final = not following
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + aead.encrypt(nonce, block, _chunk_aad(header_hash, section, index, final))
        out.write(struct.pack(">I", len(sealed)) + sealed)
        if final:
            return
        block, index = following, index + 1


def _read_sections(stream: BinaryIO, aead: AESGCM, header_hash: bytes) -> Iterator[tuple[int, bytes]]:
    """(section, plaintext chunk) in order; raises BackupError on any damage or truncation."""
    for section in (0, 1):
        index = 0
        while True:
            raw_len = stream.read(4)
            if len(raw_len) != 4:
                raise BackupError("the backup file is truncated")
            expected = struct.unpack(">I", raw_len)[0]
            sealed = stream.read(expected)
            if len(sealed) != expected:
                raise BackupError("the backup file is truncated")
            plain = None
            for final in (False, True):
                try:
                    plain = aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                         _chunk_aad(header_hash, section, index, final))
                    break
                except InvalidTag:
                    continue
            if plain is None:
                raise BackupError("the backup file is damaged (a chunk fails its integrity check)")
            yield section, plain
            index += 1
            if final:
                break


def read_header(path: Path) -> tuple[BackupInfo, dict[str, Any], bytes, int]:
    """(info, header, header hash, offset of the first chunk) of a backup file."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise BackupError(f"{path.name} is not a niaga backup")
            (length,) = struct.unpack(">I", fh.read(4))
            raw = fh.read(length)
        header = json.loads(raw)
        info = BackupInfo(
            path=path, id=header["id"], created_at=datetime.fromisoformat(header["created_at"]),
            engine=header["engine"], revision=header.get("revision"), master_version=int(header["master_version"]),
            master_fingerprint=header["master_fingerprint"], size=path.stat().st_size,
        )
    except BackupError:
        raise
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        raise BackupError(f"{path.name} is not a readable niaga backup (damaged header)") from None
    if header.get("format") != FORMAT:
        raise BackupError(f"{path.name} has backup format {header.get('format')}; this niaga reads format {FORMAT}")
    return info, header, hashlib.sha256(raw).digest(), len(MAGIC) + 4 + length


def _backup_key(info: BackupInfo, header: dict[str, Any], provider: Any) -> AESGCM:
    configured = provider.versions
    if info.master_version not in configured or provider.fingerprint(info.master_version) != info.master_fingerprint:
        current = provider.fingerprint()
        raise BackupKeyMismatch(
            f"{info.name} was made with another master key (version {info.master_version}, fingerprint "
            f"{info.master_fingerprint}); the configured master key has fingerprint {current}. Configure the "
            "master key this backup was made with, or choose another backup."
        )
    try:
        key = provider.unwrap(info.master_version, base64.b64decode(header["wrapped_key"]),
                              f"niaga/backup/{info.id}".encode())
    except (InvalidTag, ValueError, KeyError):
        raise BackupKeyMismatch(f"{info.name}: its key does not open with the configured master key") from None
    return AESGCM(key)


def _encode_erasures(records: list[ErasureRecord]) -> bytes:
    return json.dumps([
        {"tenant_id": r.tenant_id.hex, "subject_id": r.subject_id.hex, "erased_at": r.erased_at.isoformat(),
         "reason": r.reason, "reference": r.reference} for r in records
    ]).encode()


def _decode_erasures(raw: bytes) -> list[dict[str, Any]]:
    return [
        {"tenant_id": uuid.UUID(r["tenant_id"]), "subject_id": uuid.UUID(r["subject_id"]),
         "erased_at": datetime.fromisoformat(r["erased_at"]), "reason": r["reason"], "reference": r["reference"]}
        for r in json.loads(raw)
    ]


# -- create / list / prune ------------------------------------------------------------------------
def create_backup(settings: Settings, provider: Any = None, url: str | None = None) -> BackupInfo:
    """Snapshot the database, encrypt it under a fresh key wrapped by the master key, keep it 0600."""
    provider = provider or get_vault().provider
    url = url or settings.effective_database_url
    engine_name = "sqlite" if url.startswith("sqlite") else "postgresql"
    directory = backup_dir(settings)
    backup_id = uuid.uuid4().hex
    created = utcnow()
    final_path = directory / f"niaga-{created.strftime('%Y%m%dT%H%M%SZ')}-{backup_id[:8]}{SUFFIX}"
    key = os.urandom(KEY_BYTES)
    version, wrapped = provider.wrap(key, f"niaga/backup/{backup_id}".encode())
    with tempfile.TemporaryDirectory(dir=directory, prefix=".snapshot-") as work:
        snapshot = Path(work) / "snapshot"
        _snapshot(url, snapshot)
        database = Database(make_engine(url))
        try:
            revision = migrate.current_revision(database.engine)
            with database.transaction() as session:
                erasures = erasure.erasure_log(session)
                masters = sorted({v for (v,) in session.execute(select(TenantKey.master_version)
                                                                .where(TenantKey.wrapped.is_not(None)))}
                                 | {v for (v,) in session.execute(select(PlatformKey.master_version))})
        finally:
            database.dispose()
        header = {
            "format": FORMAT, "id": backup_id, "created_at": created.isoformat(), "engine": engine_name,
            "revision": revision, "master_version": version, "master_fingerprint": provider.fingerprint(version),
            "master_versions_used": masters, "wrapped_key": base64.b64encode(wrapped).decode(),
            "erasures": len(erasures),
        }
        raw = json.dumps(header, sort_keys=True).encode()
        header_hash = hashlib.sha256(raw).digest()
        aead = AESGCM(key)
        partial = final_path.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + struct.pack(">I", len(raw)) + raw)
            _write_section(out, aead, header_hash, 0, _BytesReader(_encode_erasures(erasures)))
            with snapshot.open("rb") as source:
                _write_section(out, aead, header_hash, 1, source)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final_path)
    return read_header(final_path)[0]


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        chunk = self._data[self._pos:self._pos + n]
        self._pos += len(chunk)
        return chunk


def list_backups(settings: Settings) -> list[BackupInfo | tuple[Path, str]]:
    """Backups in the directory, oldest first; unreadable files as (path, problem)."""
    found: list[Any] = []
    for path in sorted(backup_dir(settings).glob(f"*{SUFFIX}")):
        try:
            found.append(read_header(path)[0])
        except BackupError as exc:
            found.append((path, str(exc)))
    return sorted(found, key=lambda b: (b.created_at if isinstance(b, BackupInfo)
                                        else datetime.fromtimestamp(b[0].stat().st_mtime, timezone.utc)))


def prune_backups(settings: Settings, now: datetime | None = None) -> list[Path]:
    """Delete backups older than NIAGA_BACKUP_RETENTION_DAYS (and stale partial files); returns them."""
    now = now or utcnow()
    cutoff = now - timedelta(days=settings.backup_retention_days)
    removed = []
    for entry in list_backups(settings):
        if isinstance(entry, BackupInfo):
            path, created = entry.path, entry.created_at
        else:
            path, created = entry[0], datetime.fromtimestamp(entry[0].stat().st_mtime, timezone.utc)
        if created < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path)
    for partial in backup_dir(settings).glob("*.partial"):
        if datetime.fromtimestamp(partial.stat().st_mtime, timezone.utc) < now - timedelta(days=1):
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


# -- restore --------------------------------------------------------------------------------------
def _decrypt_to(path: Path, provider: Any, snapshot: Path | None) -> tuple[BackupInfo, list[dict[str, Any]]]:
    info, header, header_hash, offset = read_header(path)
    aead = _backup_key(info, header, provider)
    erasures = bytearray()
    with path.open("rb") as fh:
        fh.seek(offset)
        out = snapshot.open("wb") if snapshot is not None else None
        try:
            for section, plain in _read_sections(fh, aead, header_hash):
                if section == 0:
                    erasures += plain
                elif out is None:
                    break
                else:
                    out.write(plain)
        finally:
            if out is not None:
                out.close()
    return info, _decode_erasures(bytes(erasures))


def _live_erasures(url: str) -> list[dict[str, Any]]:
    if url.startswith("sqlite") and not _sqlite_path(url).exists():
        return []
    database = Database(make_engine(url))
    try:
        if not inspect(database.engine).has_table("erasure_log"):
            return []
        with database.transaction() as session:
            return [{"tenant_id": r.tenant_id, "subject_id": r.subject_id, "erased_at": r.erased_at,
                     "reason": r.reason, "reference": r.reference} for r in erasure.erasure_log(session)]
    except Exception as exc:  # noqa: BLE001 - a lost database is the reason to restore
        if url.startswith("sqlite"):
            raise BackupError(f"the current database cannot be read to collect its erasure log: {exc}") from None
        return []
    finally:
        database.dispose()


def _known_erasures(settings: Settings, url: str, provider: Any, skip: Path) -> list[dict[str, Any]]:
    merged: dict[tuple[uuid.UUID, uuid.UUID], dict[str, Any]] = {}
    sources = [_live_erasures(url)]
    for entry in list_backups(settings):
        if isinstance(entry, BackupInfo) and entry.path != skip:
            try:
                sources.append(_decrypt_to(entry.path, provider, None)[1])
            except BackupError:
                continue  # another key or damaged: it cannot resurrect anyone either
    for records in sources:
        for rec in records:
            key = (rec["tenant_id"], rec["subject_id"])
            if key not in merged or rec["erased_at"] < merged[key]["erased_at"]:
                merged[key] = rec
    return sorted(merged.values(), key=lambda r: r["erased_at"])


def _check_masters(header: dict[str, Any], provider: Any, name: str) -> None:
    missing = sorted(set(header.get("master_versions_used", [])) - set(provider.versions))
    if missing:
        raise BackupKeyMismatch(f"{name} needs master key version(s) {missing}, which are no longer configured")


def _replay(url: str, records: list[dict[str, Any]]) -> tuple[int, str | None]:
    database = Database(make_engine(url))
    try:
        migrate.upgrade(database.engine)
        with database.transaction() as session:
            replayed = erasure.replay_erasures(session, records)
        erasure.compact_storage(database.engine)
        return replayed, migrate.current_revision(database.engine)
    finally:
        database.dispose()


def restore_backup(settings: Settings, path: Path, provider: Any = None, url: str | None = None) -> RestoreReport:
    """Restore a backup into the configured database (app stopped) and replay every known erasure."""
    provider = provider or get_vault().provider
    url = url or settings.effective_database_url
    path = Path(path)
    info, header, _, _ = read_header(path)
    _backup_key(info, header, provider)  # refuse another key before touching anything
    _check_masters(header, provider, info.name)
    engine_name = "sqlite" if url.startswith("sqlite") else "postgresql"
    if info.engine != engine_name:
        raise BackupError(f"{info.name} is a {info.engine} backup; the configured database is {engine_name}")
    records = _known_erasures(settings, url, provider, path)
    with tempfile.TemporaryDirectory(dir=backup_dir(settings), prefix=".restore-") as work:
        snapshot = Path(work) / ("restore.db" if engine_name == "sqlite" else "restore.dump")
        _, own = _decrypt_to(path, provider, snapshot)
        records = sorted({(r["tenant_id"], r["subject_id"]): r for r in own + records}.values(),
                         key=lambda r: r["erased_at"])
        if engine_name == "sqlite":
            replayed, revision = _replay(f"sqlite:///{snapshot}", records)
            target = _sqlite_path(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            source, dest = sqlite3.connect(snapshot), sqlite3.connect(target)
            try:
                source.backup(dest)
                dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                dest.close()
                source.close()
        else:
            conn, env = _pg_conn(url)
            _run([_pg_bin("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                  "--single-transaction", "--dbname", conn, str(snapshot)], env, "pg_restore")
            replayed, revision = _replay(url, records)
    return RestoreReport(info, len(records), replayed, revision)


def verify_backup(settings: Settings, path: Path, provider: Any = None) -> BackupInfo:
    """Read a whole backup and check every chunk (without restoring it)."""
    provider = provider or get_vault().provider
    with tempfile.TemporaryDirectory(dir=backup_dir(settings), prefix=".verify-") as work:
        info, _ = _decrypt_to(Path(path), provider, Path(work) / "check")
    return info


__all__ = [
    "BackupError", "BackupKeyMismatch", "BackupInfo", "RestoreReport", "create_backup", "list_backups",
    "prune_backups", "restore_backup", "read_header", "verify_backup", "backup_dir",
]

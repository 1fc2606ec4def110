"""Encrypted backups: create, list, prune, restore — and a person erased after the backup stays erased."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.identity import accounts
from niaga.identity.models import User
from niaga.privacy import backup, erasure
from niaga.privacy.audit import Actor, verify
from niaga.privacy.fields import ERASED
from niaga.privacy.keys import LocalKeyProvider
from niaga.privacy.models import ErasureRecord
from niaga.privacy.vault import get_vault
from tests.conftest import make_settings
from tests.privacy.conftest import STAFF, staffed_tenant

SITI_EMAIL = STAFF[0][1]


@pytest.fixture
def world(fresh_db, tmp_path, passwords):
    """A committed tenant with three staff members in a fresh database, and settings pointing at it."""
    settings = make_settings(tmp_path / "data", database_url=fresh_db.url)
    with fresh_db.database.transaction() as s:
        staffed = staffed_tenant(s, settings, passwords)
    return settings, staffed


def _names(fresh_db, tenant_id) -> dict[str, object]:
    with fresh_db.database.transaction() as s:
        return {u.id: u.full_name for u in s.scalars(select(User).where(User.tenant_id == tenant_id))}


def test_backup_erase_restore_keeps_the_erased_person_erased(fresh_db, world, passwords):
    settings, staffed = world
    siti, bambang = staffed.people["Siti Nurhaliza"], staffed.people["Bambang Pamungkas"]
    info = backup.create_backup(settings)

    assert info.path.parent == settings.data_dir / "backups" and info.engine == fresh_db.engine_name
    assert oct(info.path.stat().st_mode & 0o777) == "0o600"
    assert info.master_fingerprint == get_vault().provider.fingerprint()
    raw = info.path.read_bytes()
    assert b"Nurhaliza" not in raw and b"CREATE TABLE" not in raw and b"SQLite format" not in raw

    with fresh_db.database.transaction() as s:
        erasure.erase_subject(s, staffed.tenant_id, siti.subject_id, Actor.system(), "subject-request")
    fresh_db.database.dispose()

    report = backup.restore_backup(settings, info.path)

    assert report.replayed == 1 and report.erasures_known == 1
    names = _names(fresh_db, staffed.tenant_id)
    assert names[siti.id] is ERASED
    assert names[bambang.id] == "Bambang Pamungkas" and names[staffed.owner.id] == "Ayu Lestari"
    with fresh_db.database.transaction() as s:
        assert not accounts.email_taken(s, SITI_EMAIL)  # her blind-index rows are gone again
        assert accounts.email_taken(s, STAFF[1][1])
        assert s.get(ErasureRecord, (staffed.tenant_id, siti.subject_id)) is not None
        assert verify(s)[1] == []  # the replay continued the audit chain


def test_a_restore_brings_back_the_state_of_the_backup(fresh_db, world, passwords):
    settings, staffed = world
    info = backup.create_backup(settings)
    with fresh_db.database.transaction() as s:  # changed after the backup: the restore undoes it
        user = s.get(User, (staffed.tenant_id, staffed.people["Wahyu Hidayat"].id))
        user.position = "Kepala Gudang"
    fresh_db.database.dispose()
    backup.restore_backup(settings, info.path)
    with fresh_db.database.transaction() as s:
        assert s.get(User, (staffed.tenant_id, staffed.people["Wahyu Hidayat"].id)).position == "Staf"


def test_a_lost_database_is_restored_with_erasures_from_newer_backups(fresh_db, world):
    settings, staffed = world
    siti = staffed.people["Siti Nurhaliza"]
    older = backup.create_backup(settings)
    with fresh_db.database.transaction() as s:
        erasure.erase_subject(s, staffed.tenant_id, siti.subject_id, Actor.system(), "subject-request")
    backup.create_backup(settings)  # the newer backup carries the erasure in its log
    fresh_db.database.dispose()
    if fresh_db.sqlite_path is not None:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{fresh_db.sqlite_path}{suffix}"):
                os.remove(f"{fresh_db.sqlite_path}{suffix}")
    else:  # the server was rebuilt: an empty database of the same name
        fresh_db.pg.create_database(fresh_db.pg_name)

    report = backup.restore_backup(settings, older.path)

    assert report.replayed == 1
    assert _names(fresh_db, staffed.tenant_id)[siti.id] is ERASED


def test_a_backup_made_with_another_master_key_is_refused_and_nothing_changes(fresh_db, world):
    settings, staffed = world
    info = backup.create_backup(settings)
    stranger = LocalKeyProvider({1: os.urandom(32)})
    with pytest.raises(backup.BackupKeyMismatch) as exc:
        backup.restore_backup(settings, info.path, provider=stranger)
    assert "another master key" in str(exc.value) and info.master_fingerprint in str(exc.value)
    assert stranger.fingerprint() in str(exc.value)
    assert _names(fresh_db, staffed.tenant_id)[staffed.owner.id] == "Ayu Lestari"


@pytest.mark.parametrize("damage, message", [
    ("flip", "damaged"), ("truncate", "truncated"), ("garbage", "not a niaga backup"), ("header", "damaged header"),
])
def test_a_damaged_backup_is_refused_with_a_clear_message(fresh_db, world, damage, message):
    settings, staffed = world
    info = backup.create_backup(settings)
    raw = bytearray(info.path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) - 100]
    elif damage == "garbage":
        raw = bytearray(os.urandom(len(raw)))
    else:
        raw[len(backup.MAGIC) + 6] ^= 0xFF  # inside the JSON header
    info.path.write_bytes(bytes(raw))
    with pytest.raises(backup.BackupError, match=message):
        backup.restore_backup(settings, info.path)
    assert _names(fresh_db, staffed.tenant_id)[staffed.owner.id] == "Ayu Lestari"


def test_list_verify_and_prune_after_the_retention_period(fresh_db, world):
    settings, _ = world
    first = backup.create_backup(settings)
    second = backup.create_backup(settings)
    (settings.data_dir / "backups" / "notes.nbk").write_bytes(b"not a backup")
    listed = backup.list_backups(settings)
    assert [b.path for b in listed if isinstance(b, backup.BackupInfo)] == [first.path, second.path]
    assert any(not isinstance(b, backup.BackupInfo) and "not a niaga backup" in b[1] for b in listed)
    assert backup.verify_backup(settings, second.path).id == second.id

    day_29 = first.created_at + timedelta(days=29)
    assert backup.prune_backups(settings, now=day_29) == []
    day_31 = first.created_at + timedelta(days=31)
    removed = backup.prune_backups(settings, now=day_31)
    assert set(removed) >= {first.path, second.path}
    assert not first.path.exists() and not second.path.exists()


def test_retention_follows_the_setting(fresh_db, tmp_path, world):
    settings, _ = world
    short = make_settings(settings.data_dir.parent / "data", database_url=fresh_db.url, backup_retention_days=1)
    made = backup.create_backup(short)
    assert backup.prune_backups(short, now=made.created_at + timedelta(hours=23)) == []
    assert backup.prune_backups(short, now=made.created_at + timedelta(hours=25)) == [made.path]


def test_the_test_key_is_what_the_backup_names():
    provider = get_vault().provider
    assert provider.fingerprint() == LocalKeyProvider({1: base64.b64decode(
        base64.b64encode(b"niaga-test-master-key-32-bytes!!"))}).fingerprint()

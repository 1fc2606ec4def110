"""Key hierarchy: rotation re-wraps keys and old data stays readable; bad key configuration stops start-up."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select

from niaga.app import bootstrap
from niaga.identity.models import User
from niaga.privacy import erasure
from niaga.privacy.audit import Actor
from niaga.privacy.keys import KeyConfigError, LocalKeyProvider, _write_key_file, provider_from_settings
from niaga.privacy.models import DataSubject, PlatformKey, TenantKey
from niaga.privacy.vault import Vault, configure_vault
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.privacy.conftest import staffed_tenant

TEST_KEY = base64.b64decode(TEST_MASTER_KEY)


def _read_all(session, vault: Vault, tenant_id) -> dict:
    """Every staff name read through a brand-new vault (nothing cached from before)."""
    from niaga.privacy import vault as vault_module

    vault_module._vault = vault
    session.expire_all()
    return {u.id: u.full_name for u in session.scalars(select(User).where(User.tenant_id == tenant_id))}


def test_master_rotation_with_a_key_file_keeps_old_data_readable(session, settings, passwords, tmp_path,
                                                                  keep_vault):
    key_file = tmp_path / "keys" / "master.key"
    _write_key_file(key_file, {1: TEST_KEY})
    provider = LocalKeyProvider({1: TEST_KEY}, key_file)
    vault = configure_vault(provider)
    world = staffed_tenant(session, settings, passwords)
    vault.platform_secret(session, "csrf")
    before = _read_all(session, Vault(provider), world.tenant_id)

    assert provider.add_version() == 2
    count = vault.rotate_master(session)
    session.flush()

    assert count >= 3  # the tenant's data and index keys and the platform key(s)
    assert session.scalars(select(TenantKey.master_version).where(TenantKey.tenant_id == world.tenant_id)).all() \
        == [2, 2]
    assert set(session.scalars(select(PlatformKey.master_version))) == {2}
    assert provider.drop_versions_below(2) == [1]
    reloaded = provider_from_settings("", key_file)
    assert reloaded.versions == (2,)
    after = _read_all(session, Vault(reloaded), world.tenant_id)
    assert after == before and "Siti Nurhaliza" in after.values()
    with pytest.raises(KeyConfigError, match="version 1 is not configured"):
        reloaded.unwrap(1, b"\x00" * 60, b"")


def test_environment_keys_rotate_to_the_highest_version(session, settings, passwords, keep_vault):
    new_key = os.urandom(32)
    both = LocalKeyProvider({1: TEST_KEY, 2: new_key})
    world = staffed_tenant(session, settings, passwords)
    before = _read_all(session, Vault(both), world.tenant_id)
    rotated = configure_vault(both).rotate_master(session)
    assert rotated >= 2
    with pytest.raises(KeyConfigError, match="NIAGA_MASTER_KEY"):
        both.add_version()
    only_new = LocalKeyProvider({2: new_key})
    assert _read_all(session, Vault(only_new), world.tenant_id) == before


def test_tenant_rotation_rewraps_people_and_the_retired_key_can_be_destroyed(session, settings, passwords,
                                                                             keep_vault):
    vault = configure_vault(LocalKeyProvider({1: TEST_KEY}))
    world = staffed_tenant(session, settings, passwords)
    gone = world.people["Wahyu Hidayat"]
    erasure.erase_subject(session, world.tenant_id, gone.subject_id, Actor.system(), "subject-request")
    before = _read_all(session, Vault(vault.provider), world.tenant_id)

    version, count = vault.rotate_tenant(session, world.tenant_id)

    assert version == 2 and count == 3  # owner and two staff; the erased one has no key; invitations share theirs
    subjects = session.scalars(select(DataSubject).where(DataSubject.tenant_id == world.tenant_id,
                                                         DataSubject.key_wrapped.is_not(None))).all()
    assert {s.tenant_key_version for s in subjects} == {2}
    assert _read_all(session, Vault(vault.provider), world.tenant_id) == before
    assert vault.destroy_retired(session, world.tenant_id) == 1
    old = session.get(TenantKey, (world.tenant_id, "data", 1))
    assert old.wrapped is None and old.retired_at is not None
    fresh = Vault(vault.provider)
    assert _read_all(session, fresh, world.tenant_id) == before
    newcomer = fresh.new_subject(session, world.tenant_id, "staff")
    assert newcomer.tenant_key_version == 2


def test_a_retired_key_still_in_use_is_not_destroyed(session, settings, passwords, keep_vault):
    vault = configure_vault(LocalKeyProvider({1: TEST_KEY}))
    world = staffed_tenant(session, settings, passwords)
    straggler = session.get(DataSubject, (world.tenant_id, world.people["Siti Nurhaliza"].subject_id))
    old_wrapped = straggler.key_wrapped
    vault.rotate_tenant(session, world.tenant_id)
    # A subject still wrapped under version 1 (as if written by a process that had not seen the rotation).
    straggler.key_wrapped, straggler.tenant_key_version = old_wrapped, 1
    session.flush()
    assert vault.destroy_retired(session, world.tenant_id) == 0
    assert _read_all(session, Vault(vault.provider), world.tenant_id)[world.people["Siti Nurhaliza"].id] \
        == "Siti Nurhaliza"


# -- start-up with bad key configuration -------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    ("bukan-kunci!!", "not valid base64"),
    (base64.b64encode(b"short key").decode(), r"must be 32 bytes \(got 9\)"),
    ("v1:" + TEST_MASTER_KEY + ",v1:" + TEST_MASTER_KEY, "version 1 given twice"),
    ("kunci:" + TEST_MASTER_KEY, "expected 'vN:KEY'"),
])
def test_a_malformed_master_key_stops_start_up_with_a_clear_message(tmp_path, keep_vault, value, message):
    with pytest.raises(KeyConfigError, match=message) as exc:
        bootstrap(make_settings(tmp_path, master_key=value))
    assert value not in str(exc.value)  # the key material itself is never echoed


def test_no_key_and_no_way_to_create_one_stops_start_up(tmp_path, keep_vault):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = make_settings(tmp_path, master_key="", master_key_file=blocker / "master.key")
    with pytest.raises(KeyConfigError, match="cannot create the master key file"):
        bootstrap(settings)


def test_first_run_creates_an_owner_only_key_file_and_says_where(tmp_path, keep_vault, capsys):
    settings = make_settings(tmp_path, master_key="")
    bootstrap(settings)
    key_file = tmp_path / "master.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    err = capsys.readouterr().err
    assert str(key_file) in err and "losing it loses all personal data" in err
    bootstrap(settings)  # the second start reads the same key
    assert provider_from_settings("", key_file).versions == (1,)


def test_a_key_file_readable_by_others_starts_with_a_warning(tmp_path, keep_vault, capsys):
    key_file = tmp_path / "master.key"
    _write_key_file(key_file, {1: TEST_KEY})
    key_file.chmod(0o644)
    bootstrap(make_settings(tmp_path, master_key=""))
    err = capsys.readouterr().err
    assert "readable by other users" in err and f"chmod 600 {key_file}" in err


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a niaga key file"),
    ('{"format": 1, "keys": {"1": "c2hvcnQ="}}', "must be 32 bytes"),
])
def test_a_damaged_key_file_stops_start_up(tmp_path, keep_vault, content, message):
    key_file = tmp_path / "master.key"
    key_file.write_text(content)
    key_file.chmod(0o600)
    with pytest.raises(KeyConfigError, match=message):
        bootstrap(make_settings(tmp_path, master_key=""))


def test_a_rolled_back_rotation_does_not_leave_a_stale_key_behind(session, settings, passwords, keep_vault):
    vault = configure_vault(LocalKeyProvider({1: TEST_KEY}))
    world = staffed_tenant(session, settings, passwords)
    session.commit()
    before = _read_all(session, Vault(vault.provider), world.tenant_id)
    vault.rotate_tenant(session, world.tenant_id)  # version 2 with one key, then abandoned
    session.rollback()
    other_process = Vault(vault.provider)
    assert other_process.rotate_tenant(session, world.tenant_id)[0] == 2  # version 2 again, another key
    session.commit()
    # This process must read the committed version 2, not the key it generated and rolled back.
    assert _read_all(session, vault, world.tenant_id) == before

"""The operator commands `niaga keys|privacy|backup …` against a real, committed database."""

from __future__ import annotations

import base64
import os
import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from niaga.cli import app as cli_app
from niaga.config import get_settings
from niaga.identity.models import Tenant, User
from niaga.privacy import vault as vault_module
from niaga.privacy.fields import ERASED
from niaga.privacy.keys import LocalKeyProvider, _write_key_file, provider_from_settings
from niaga.privacy.vault import Vault
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.privacy.conftest import staffed_tenant

TEST_KEY = base64.b64decode(TEST_MASTER_KEY)


@pytest.fixture
def cli(fresh_db, tmp_path, monkeypatch, keep_vault, passwords):
    """Environment for the CLI pointing at a fresh database seeded with 'Kopi Nusantara'."""
    data = tmp_path / "cli-data"
    for name, value in {"NIAGA_DATA_DIR": str(data), "NIAGA_DATABASE_URL": fresh_db.url,
                        "NIAGA_MASTER_KEY": TEST_MASTER_KEY, "NIAGA_LOG_JSON": "false", "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with fresh_db.database.transaction() as s:
        world = staffed_tenant(s, make_settings(data, database_url=fresh_db.url), passwords)
        slug = s.get(Tenant, world.tenant_id).slug
    fresh_db.database.dispose()
    yield _Cli(fresh_db, data, world, slug, monkeypatch)
    get_settings.cache_clear()


class _Cli:
    def __init__(self, fresh, data, world, slug, monkeypatch) -> None:
        self.fresh, self.data, self.world, self.slug, self.monkeypatch = fresh, data, world, slug, monkeypatch
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):  # noqa: A002
        get_settings.cache_clear()
        return self.runner.invoke(cli_app, list(args), input=input)

    def env(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def backup_path(self, result) -> str:
        """The backup file named in a `backup create` output."""
        return str(self.data / "backups" / re.search(r"niaga-\S+\.nbk", result.output).group(0))

    def names(self, provider) -> dict:
        """Staff names read through a brand-new vault of `provider` (no cached keys)."""
        vault_module._vault = Vault(provider)
        with self.fresh.database.transaction() as s:
            return {u.id: u.full_name for u in s.scalars(select(User).where(User.tenant_id == self.world.tenant_id))}


def test_rotate_master_with_the_key_file_then_destroy_the_old_version(cli):
    cli.env("NIAGA_MASTER_KEY", "")
    key_file = cli.data / "master.key"
    _write_key_file(key_file, {1: TEST_KEY})
    before = cli.names(LocalKeyProvider({1: TEST_KEY}))
    old_backup = cli("backup", "create")
    assert old_backup.exit_code == 0, old_backup.output

    rotated = cli("keys", "rotate-master")
    assert rotated.exit_code == 0, rotated.output
    assert "added master key version 2" in rotated.output and "data was not touched" in rotated.output
    status = cli("keys", "status")
    assert "active" in status.output and "retired" in status.output

    destroyed = cli("keys", "destroy-retired", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert "master key versions [1] removed" in destroyed.output
    remaining = provider_from_settings("", key_file)
    assert remaining.versions == (2,)
    assert cli.names(remaining) == before

    refused = cli("backup", "restore", cli.backup_path(old_backup), "--yes")
    assert refused.exit_code == 1 and "another master key" in refused.output
    fresh_backup = cli("backup", "create")
    restored = cli("backup", "restore", cli.backup_path(fresh_backup), "--yes")
    assert restored.exit_code == 0, restored.output
    assert cli.names(remaining) == before


def test_rotate_master_with_environment_keys(cli):
    new_key = os.urandom(32)
    before = cli.names(LocalKeyProvider({1: TEST_KEY}))
    cli.env("NIAGA_MASTER_KEY", f"v2:{base64.b64encode(new_key).decode()},v1:{TEST_MASTER_KEY}")
    rotated = cli("keys", "rotate-master")
    assert rotated.exit_code == 0 and "master key version 2" in rotated.output
    destroyed = cli("keys", "destroy-retired", "--yes")
    assert "remove them from NIAGA_MASTER_KEY" in destroyed.output and "[1]" in destroyed.output
    assert cli.names(LocalKeyProvider({2: new_key})) == before


def test_rotate_a_tenant_key_by_slug(cli):
    before = cli.names(LocalKeyProvider({1: TEST_KEY}))
    result = cli("keys", "rotate-tenant", cli.slug)
    assert result.exit_code == 0, result.output
    assert "data key version 2, 4 personal keys re-wrapped" in result.output
    assert "1 retired tenant key versions destroyed" in cli("keys", "destroy-retired", "--tenant", cli.slug,
                                                               "--yes").output
    assert cli.names(LocalKeyProvider({1: TEST_KEY})) == before
    unknown = cli("keys", "rotate-tenant", "toko-yang-tidak-ada")
    assert unknown.exit_code == 1 and "no tenant" in unknown.output


def test_destroying_needs_confirmation(cli):
    result = cli("keys", "destroy-retired", input="n\n")
    assert result.exit_code == 1 and "unreadable for good" in result.output


def test_erase_from_the_command_line(cli):
    siti = cli.world.people["Siti Nurhaliza"]
    result = cli("privacy", "erase", "--tenant", cli.slug, "--subject", str(siti.subject_id),
                 "--reason", "subject-request", "--reference", "DSR-7")
    assert result.exit_code == 0, result.output
    assert "erased: key destroyed" in result.output
    assert "WAL checkpointed" in result.output or "VACUUM FULL" in result.output
    names = cli.names(LocalKeyProvider({1: TEST_KEY}))
    assert names[siti.id] is ERASED and names[cli.world.owner.id] == "Ayu Lestari"
    again = cli("privacy", "erase", "--tenant", cli.slug, "--subject", str(siti.subject_id), "--reason", "operator")
    assert "already erased" in again.output
    bad = cli("privacy", "erase", "--tenant", cli.slug, "--subject", "siti@example.com", "--reason", "operator")
    assert bad.exit_code == 1 and "UUID" in bad.output
    personal = cli("privacy", "erase", "--tenant", cli.slug, "--subject", str(cli.world.owner.subject_id),
                   "--reason", "Ayu minta dihapus")
    assert personal.exit_code == 1 and "short slug" in personal.output
    assert cli("privacy", "compact").exit_code == 0


def test_backup_commands(cli):
    made = cli("backup", "create")
    assert made.exit_code == 0 and "backup niaga-" in made.output
    name = os.path.basename(cli.backup_path(made))
    listed = cli("backup", "list")
    assert name in listed.output and "retention: 30 days" in listed.output
    assert cli("backup", "verify", str(cli.data / "backups" / name)).output.strip().endswith("intact")
    declined = cli("backup", "restore", str(cli.data / "backups" / name), input="n\n")
    assert declined.exit_code == 1
    restored = cli("backup", "restore", str(cli.data / "backups" / name), "--yes")
    assert restored.exit_code == 0 and "restored" in restored.output
    pruned = cli("backup", "prune")
    assert pruned.exit_code == 0 and "0 backups pruned" in pruned.output
    missing = cli("backup", "restore", str(cli.data / "backups" / "nope.nbk"), "--yes")
    assert missing.exit_code == 1 and "not a readable niaga backup" in missing.output


def test_a_bad_master_key_stops_every_command_with_a_clear_message(cli):
    cli.env("NIAGA_MASTER_KEY", "dGVybGFsdS1wZW5kZWs=")
    for args in (("keys", "status"), ("backup", "create"), ("privacy", "compact")):
        result = cli(*args)
        assert result.exit_code == 2
        assert "niaga cannot start" in result.output and "must be 32 bytes" in result.output
        assert "dGVybGFsdS1wZW5kZWs=" not in result.output

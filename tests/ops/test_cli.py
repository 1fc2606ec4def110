"""The operator CLI end to end on a temporary SQLite database, each command in its own process."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from niaga.cli import app
from tests.ops.server import Niaga, random_master_key

PASSWORD = "kopi-susu-gula-aren-2026"


def _is_group(command: object) -> bool:
    """Typer vendors its own click; a group is whatever has sub-commands."""
    return isinstance(getattr(command, "commands", None), dict)


def _command_paths() -> list[list[str]]:
    """Every command and command group of the CLI, as argument lists (the root is [])."""
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        if _is_group(command):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def leaf_commands() -> list[str]:
    """'db upgrade', 'tenant create', … : every command that does something."""
    root = typer.main.get_command(app)
    leaves = []
    for path in _command_paths():
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if not _is_group(command):
            leaves.append(" ".join(path))
    return leaves


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "niaga")
def test_help_works_everywhere(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="niaga", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage: niaga" in result.output
    assert result.exception is None


def test_the_documented_commands_exist() -> None:
    assert {"serve", "demo", "db upgrade", "db status", "tenant create", "tenant list", "user invite",
            "user create", "audit verify"} <= set(leaf_commands())


def test_no_arguments_shows_the_help_instead_of_an_error() -> None:
    result = CliRunner().invoke(app, [], prog_name="niaga")
    assert "Usage: niaga" in result.output
    assert "Traceback" not in result.output


# -- a whole operator session on one database -----------------------------------------------------------
@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Niaga, uuid.UUID]]:
    """A migrated database with one tenant made by `niaga tenant create` (the password typed at the prompt)."""
    niaga = Niaga(tmp_path_factory.mktemp("cli") / "var", master_key=random_master_key(),
                  argon2_time_cost="1", argon2_memory_kib="8", base_url="https://niaga.example")
    upgrade = niaga.cli("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database at revision" in upgrade.stdout
    created = niaga.cli(
        "tenant", "create", "--name", "Toko Uji Coba", "--owner-email", "andi@ujicoba.example",
        "--owner-name", "Andi Pratama", "--owner-phone", "0812-1111-2222", "--owner-birth-date", "1990-02-03",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert created.returncode == 0, created.stderr
    found = re.search(r"tenant ([0-9a-f-]{36}) created", created.stdout)
    assert found, created.stdout
    # A third audit event, so that the tampering tests always have a middle and an end to break
    # (under pytest-xdist each worker builds its own shop and runs only some of the tests below).
    invited = niaga.cli("user", "invite", "--tenant", "toko-uji-coba", "--email", "admin@ujicoba.example",
                        "--role", "admin")
    assert invited.returncode == 0, invited.stderr
    yield niaga, uuid.UUID(found.group(1))


def test_db_status_says_the_database_is_current(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli("db", "status")
    assert result.returncode == 0
    current, newest = re.search(r"current: (\S+); newest: (\S+)", result.stdout).groups()
    assert current == newest != "empty"


def test_tenant_list_shows_the_new_business(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli("tenant", "list")
    assert result.returncode == 0
    assert "Toko Uji Coba" in result.stdout
    assert "toko-uji-coba" in result.stdout


def test_tenant_create_refuses_bad_input_and_creates_nothing(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli(
        "tenant", "create", "--name", "Toko Anak", "--owner-email", "not-an-email", "--owner-name", "Bayu",
        "--owner-phone", "12", "--owner-birth-date", "2015-01-01", "--password", "123",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for field in ("email", "phone", "birth_date", "password"):
        assert field in result.stderr
    assert "Toko Anak" not in niaga.cli("tenant", "list").stdout


def test_tenant_create_refuses_an_email_already_registered(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli(
        "tenant", "create", "--name", "Toko Kembar", "--owner-email", "ANDI@ujicoba.example",
        "--owner-name", "Andi Lain", "--owner-phone", "081233334444", "--owner-birth-date", "1991-01-01",
        "--password", PASSWORD,
    )
    assert result.returncode == 1
    assert "already registered" in result.stderr


def test_user_invite_prints_a_single_use_link_on_the_base_url(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, tenant_id = shop
    result = niaga.cli("user", "invite", "--tenant", "toko-uji-coba", "--email", "kasir@ujicoba.example",
                       "--role", "cashier")
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"https://niaga\.example/invite/[A-Za-z0-9_-]{20,}", link)
    by_id = niaga.cli("user", "invite", "--tenant", str(tenant_id), "--email", "agen@ujicoba.example")
    assert by_id.returncode == 0, by_id.stderr


def test_user_invite_to_an_unknown_tenant_fails_clearly(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli("user", "invite", "--tenant", "toko-tidak-ada", "--email", "x@ujicoba.example")
    assert result.returncode == 1
    assert "no tenant" in result.stderr
    assert "Traceback" not in result.stderr


def test_user_invite_refuses_an_unknown_role(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli("user", "invite", "--tenant", "toko-uji-coba", "--email", "y@ujicoba.example",
                       "--role", "emperor")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_user_create_makes_an_account_that_can_sign_in(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli(
        "user", "create", "--tenant", "toko-uji-coba", "--email", "manajer@ujicoba.example",
        "--full-name", "Maya Sari", "--phone", "081355556666", "--birth-date", "1993-03-03", "--role", "manager",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created as manager" in result.stdout
    niaga.start()
    try:
        import httpx

        with httpx.Client(base_url=niaga.base_url, follow_redirects=True) as client:
            form = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            page = client.post("/login", data={"csrf_token": token, "email": "manajer@ujicoba.example",
                                               "password": PASSWORD})
            assert page.url.path == "/dashboard"
            assert "Maya Sari" in page.text
    finally:
        niaga.stop()


def test_audit_verify_passes_on_an_intact_log(shop: tuple[Niaga, uuid.UUID]) -> None:
    niaga, _ = shop
    result = niaga.cli("audit", "verify")
    assert result.returncode == 0, result.stderr
    count = int(re.search(r"audit log intact: (\d+) events verified", result.stdout).group(1))
    assert count >= 3  # tenant created, owner signed up, staff invited …


# -- tampering --------------------------------------------------------------------------------------------
@pytest.fixture
def tampered_copy(shop: tuple[Niaga, uuid.UUID], tmp_path: Path) -> tuple[Niaga, uuid.UUID, sqlite3.Connection]:
    """A copy of the shop's database, opened directly as an attacker with file access would."""
    niaga, tenant_id = shop
    copy = Niaga(tmp_path / "var", master_key=niaga.env["NIAGA_MASTER_KEY"])
    source = sqlite3.connect(niaga.data_dir / "niaga.db")
    target = sqlite3.connect(copy.data_dir / "niaga.db")
    source.backup(target)
    source.close()
    return copy, tenant_id, target


def test_the_audit_log_refuses_updates_and_deletes(tampered_copy) -> None:  # noqa: ANN001
    _, tenant_id, conn = tampered_copy
    for statement in ("UPDATE audit_events SET action = 'nothing.happened' WHERE tenant_id = ? AND seq = 2",
                      "DELETE FROM audit_events WHERE tenant_id = ? AND seq = 2"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement, (tenant_id.hex,))
    conn.close()


def test_audit_verify_names_an_edited_event(tampered_copy) -> None:  # noqa: ANN001
    niaga, tenant_id, conn = tampered_copy
    conn.execute("DROP TRIGGER audit_events_no_update")
    changed = conn.execute("UPDATE audit_events SET outcome = 'denied' WHERE tenant_id = ? AND seq = 2",
                           (tenant_id.hex,))
    assert changed.rowcount == 1
    conn.commit()
    conn.close()
    result = niaga.cli("audit", "verify")
    assert result.returncode == 1
    assert f"tenant {tenant_id} at event 2" in result.stderr
    assert "changed after it was written" in result.stderr
    assert "Traceback" not in result.stderr
    only_tenant = niaga.cli("audit", "verify", "--tenant", str(tenant_id))
    assert only_tenant.returncode == 1


def test_audit_verify_notices_a_removed_event(tampered_copy) -> None:  # noqa: ANN001
    niaga, tenant_id, conn = tampered_copy
    conn.execute("DROP TRIGGER audit_events_no_delete")
    conn.execute("DELETE FROM audit_events WHERE tenant_id = ? AND seq = 2", (tenant_id.hex,))
    conn.commit()
    conn.close()
    result = niaga.cli("audit", "verify")
    assert result.returncode == 1
    assert f"tenant {tenant_id} at event 3" in result.stderr


def test_audit_verify_notices_events_cut_from_the_end(tampered_copy) -> None:  # noqa: ANN001
    niaga, tenant_id, conn = tampered_copy
    conn.execute("DROP TRIGGER audit_events_no_delete")
    last = conn.execute("SELECT max(seq) FROM audit_events WHERE tenant_id = ?", (tenant_id.hex,)).fetchone()[0]
    conn.execute("DELETE FROM audit_events WHERE tenant_id = ? AND seq = ?", (tenant_id.hex, last))
    conn.commit()
    conn.close()
    result = niaga.cli("audit", "verify")
    assert result.returncode == 1
    assert "removed" in result.stderr

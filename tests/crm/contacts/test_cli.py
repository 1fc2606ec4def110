"""`niaga crm import` and `niaga crm export` as an operator runs them, each in its own process."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.server import Niaga, random_master_key

PASSWORD = "kopi-susu-gula-aren-2026"
GOOD = ("nama;surel;no hp;kota;tag\n"
        "Siti Aminah;siti@contoh.example;0812-3456-7890;Sleman;vip\n"
        "Budi Santoso;budi@contoh.example;+62 813 2222 3333;Bantul;\n")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Niaga]:
    """A migrated database with one tenant, 'toko-cli'."""
    niaga = Niaga(tmp_path_factory.mktemp("crm-cli") / "var", master_key=random_master_key(),
                  argon2_time_cost="1", argon2_memory_kib="8")
    assert niaga.cli("db", "upgrade").returncode == 0
    created = niaga.cli("tenant", "create", "--name", "Toko CLI", "--owner-email", "pemilik@tokocli.example",
                        "--owner-name", "Rina Kusuma", "--owner-phone", "081298765432", "--owner-birth-date",
                        "1988-06-15", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    yield niaga


def _file(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def test_import_then_import_again_then_export(shop: Niaga, tmp_path: Path) -> None:
    first = shop.cli("crm", "import", _file(tmp_path, "kontak.csv", GOOD), "--tenant", "toko-cli")
    assert first.returncode == 0, first.stderr
    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 skipped" in first.stdout
    assert "nama → full_name" in first.stdout
    assert "importing" in first.stderr  # the progress bar
    again = shop.cli("crm", "import", _file(tmp_path, "kontak.csv", GOOD), "--tenant", "toko-cli")
    assert again.returncode == 0 and "0 created, 0 updated, 2 unchanged" in again.stdout
    out = tmp_path / "ekspor.csv"
    exported = shop.cli("crm", "export", "--tenant", "toko-cli", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text(encoding="utf-8-sig")
    assert "Siti Aminah" in text and "0813-2222-3333" in text
    to_stdout = shop.cli("crm", "export", "--tenant", "toko-cli")
    assert "budi@contoh.example" in to_stdout.stdout
    assert shop.cli("audit", "verify").returncode == 0


def test_bad_rows_are_listed_without_values_and_exit_3(shop: Niaga, tmp_path: Path) -> None:
    content = "nama,email\nAni Wijaya,ani@contoh.example\nSalah Email,ani-tanpa-at\n"
    result = shop.cli("crm", "import", _file(tmp_path, "campur.csv", content), "--tenant", "toko-cli")
    assert result.returncode == 3
    assert re.search(r"row 3 \(emails\): ", result.stderr)
    assert "ani-tanpa-at" not in result.stderr + result.stdout
    assert "1 created" in result.stdout


@pytest.mark.parametrize("content, args, message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", (), "not a CSV text file"),
    (b"email\na@b.example\n", (), "no name column"),
    (b"nama\nAni\nBudi\nCitra\n", ("--max-rows", "2"), "more than 2 rows"),
    (b"nama\n" + b"x" * (1024 * 1024 + 10), ("--max-mb", "1"), "larger than 1 MB"),
    (b"nama,hp\nAni,0812\n", ("--mapping", "nama=hobi"), "Unknown field"),
])
def test_refused_files_exit_1_with_a_message(shop: Niaga, tmp_path: Path, content: bytes, args: tuple,
                                             message: str) -> None:
    result = shop.cli("crm", "import", _file(tmp_path, "buruk.csv", content), "--tenant", "toko-cli", *args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_tenant_or_file_fails_clearly(shop: Niaga, tmp_path: Path) -> None:
    result = shop.cli("crm", "import", _file(tmp_path, "k.csv", GOOD), "--tenant", "tidak-ada")
    assert result.returncode == 1 and "no tenant" in result.stderr and "Traceback" not in result.stderr
    missing = shop.cli("crm", "import", str(tmp_path / "hilang.csv"), "--tenant", "toko-cli")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr

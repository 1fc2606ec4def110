"""CLI commands refuse a missing or unreachable database with a sentence, not a traceback."""

from __future__ import annotations

import pytest

from tests.ops.server import Niaga


@pytest.mark.parametrize("args", [["tenant", "list"], ["audit", "verify"],
                                  ["user", "invite", "--tenant", "x", "--email", "a@b.example"]])
def test_unmigrated_database_says_run_upgrade(tmp_path, args):
    result = Niaga(tmp_path).cli(*args)
    assert result.returncode == 2
    assert "niaga db upgrade" in result.stderr and "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("url,phrase", [
    ("postgresql+psycopg://niaga@127.0.0.1:1/nothing", "cannot reach the database"),
    ("postgresql+psycopg://niaga@127.0.0.1:notaport/x", "not a valid database URL"),
])
def test_bad_database_url_is_a_message(tmp_path, url, phrase):
    result = Niaga(tmp_path, database_url=url).cli("db", "upgrade")
    assert result.returncode == 2
    assert phrase in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_demo_twice_prints_the_logins_again(tmp_path):
    niaga = Niaga(tmp_path)
    assert niaga.cli("demo").returncode == 0
    again = niaga.cli("demo")
    assert again.returncode == 0 and "already present" in again.stdout
    assert "pemilik@tokomaju.example" in again.stdout

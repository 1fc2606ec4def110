"""Settings: bad values stop start-up with a message naming the variable, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from niaga.config import SettingsError, load_settings
from tests.ops.server import Niaga, random_master_key


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no NIAGA_ variable, and a working directory without a .env file."""
    import os

    for name in list(os.environ):
        if name.startswith("NIAGA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_need_no_configuration(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url == ""
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("/var/niaga.db")
    assert settings.effective_key_file == Path("var/master.key")
    assert settings.min_age == 18
    assert settings.default_locale == "id"


@pytest.mark.parametrize(
    ("variable", "value", "explanation"),
    [
        ("NIAGA_DATABASE_URL", "mysql://shop@localhost/niaga", "postgresql+psycopg://"),
        ("NIAGA_MIN_AGE", "5", "greater than or equal to 13"),
        ("NIAGA_MIN_AGE", "eighteen", "integer"),
        ("NIAGA_DEFAULT_LOCALE", "fr", "'id' or 'en'"),
        ("NIAGA_REQUIRE_HTTPS", "perhaps", "boolean"),
        ("NIAGA_MAX_BODY_BYTES", "10", "1024"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_rule(
    env: pytest.MonkeyPatch, variable: str, value: str, explanation: str
) -> None:
    env.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("Invalid configuration:")
    assert variable in message
    assert explanation in message


def test_every_bad_variable_is_reported_at_once(env: pytest.MonkeyPatch) -> None:
    env.setenv("NIAGA_MIN_AGE", "5")
    env.setenv("NIAGA_DEFAULT_LOCALE", "fr")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "NIAGA_MIN_AGE" in str(caught.value)
    assert "NIAGA_DEFAULT_LOCALE" in str(caught.value)


def test_a_dotenv_file_in_the_working_directory_is_read(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NIAGA_MIN_AGE=21\nNIAGA_DEFAULT_LOCALE=en\n")
    settings = load_settings()
    assert settings.min_age == 21
    assert settings.default_locale == "en"


def test_the_environment_wins_over_the_dotenv_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NIAGA_MIN_AGE=21\n")
    env.setenv("NIAGA_MIN_AGE", "30")
    assert load_settings().min_age == 30


BAD = [
    ("min_age", "5", "NIAGA_MIN_AGE"),
    ("database_url", "mysql://shop@localhost/niaga", "NIAGA_DATABASE_URL"),
    ("default_locale", "fr", "NIAGA_DEFAULT_LOCALE"),
    ("master_key", "not-a-key", "NIAGA_MASTER_KEY"),
]
CASES = [(["serve"], *bad) for bad in BAD] + [(["db", "upgrade"], *bad) for bad in BAD] + [
    (command, *BAD[0]) for command in (["db", "status"], ["demo"], ["audit", "verify"], ["tenant", "list"])
]


@pytest.mark.parametrize(("command", "setting", "value", "named"), CASES)
def test_commands_refuse_a_bad_configuration_with_exit_code_2(
    tmp_path: Path, command: list[str], setting: str, value: str, named: str
) -> None:
    niaga = Niaga(tmp_path / "var", **{setting: value})
    result = niaga.cli(*command, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr
    assert "niaga cannot start" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "var" / "niaga.db").exists(), "nothing may be created from a bad configuration"


def test_a_master_key_of_the_wrong_length_is_explained(tmp_path: Path) -> None:
    import base64

    niaga = Niaga(tmp_path / "var", master_key=base64.b64encode(b"too short").decode())
    result = niaga.cli("db", "upgrade")
    assert result.returncode == 2
    assert "32 bytes" in result.stderr


def test_a_good_environment_key_starts_without_writing_a_key_file(tmp_path: Path) -> None:
    niaga = Niaga(tmp_path / "var", master_key=random_master_key())
    result = niaga.cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "var" / "master.key").exists()

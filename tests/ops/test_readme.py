"""The README tells the truth: the two commands first, every setting, real CLI commands, real figures."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import typer.main

from niaga.cli import app
from niaga.config import Settings
from niaga.demo import DEMO_OWNER

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _settings_table():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("settings_table", ROOT / "scripts" / "settings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert [b.strip() for b in blocks[:2]] == ["make run", "make test"]
    first_sections = re.findall(r"^## (.+)$", README, flags=re.M)
    assert first_sections[0] == "Two commands"
    assert "http://127.0.0.1:8000" in README
    assert "make run PORT=8123" in README


def test_the_readme_gives_the_real_demo_login() -> None:
    assert f"`{DEMO_OWNER}`" in README
    assert f"`{Settings.model_fields['demo_password'].default}`" in README


def test_every_setting_is_in_the_configuration_table() -> None:
    table = _settings_table()
    block = table.current_block(README)
    assert block is not None, "the settings-table markers are missing from README.md"
    missing = [table.env_name(name) for name in Settings.model_fields if f"`{table.env_name(name)}`" not in block]
    assert not missing, f"README.md lacks {', '.join(missing)}: run `make settings-table`"
    assert block == table.block(), "README.md's configuration table is out of date: run `make settings-table`"


def test_the_configuration_table_lists_no_setting_that_does_not_exist() -> None:
    block = _settings_table().current_block(README) or ""
    known = {"NIAGA_" + name.upper() for name in Settings.model_fields}
    assert set(re.findall(r"`(NIAGA_[A-Z0-9_]+)`", block)) <= known


def _cli_paths() -> set[str]:
    paths: set[str] = set()

    def walk(command: object, path: list[str]) -> None:
        sub = getattr(command, "commands", None)
        if isinstance(sub, dict):
            for name, child in sub.items():
                walk(child, [*path, name])
        else:
            paths.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return paths


def test_every_command_the_readme_documents_exists() -> None:
    section = README.split("## Operator CLI", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    for cell in re.findall(r"^\| `niaga ([^`]+)`(?: / ([^|]+))? \|", section, flags=re.M):
        words = [w for w in cell[0].split() if re.fullmatch(r"[a-z][a-z-]*", w)]
        group_and_command = words[:2] if len(words) > 1 and words[0] not in _cli_paths() else words[:1]
        documented.add(" ".join(group_and_command))
        for alternative in re.findall(r"`([a-z-]+)`", cell[1] or ""):
            documented.add(f"{group_and_command[0]} {alternative}")
    assert len(documented) >= 10
    assert documented <= _cli_paths(), f"README documents commands that do not exist: {documented - _cli_paths()}"


def test_the_architecture_page_exists_and_is_linked() -> None:
    assert "(docs/architecture.md)" in README
    assert (ROOT / "docs" / "architecture.md").stat().st_size > 2000


@pytest.mark.parametrize("marker", ["bench-figures"])
def test_the_benchmark_figures_are_filled_in(marker: str) -> None:
    block = README.split(f"<!-- {marker}:start -->", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    assert "requests/s" in block
    assert re.search(r"\d+ cores?", block), "the figures must name the machine they came from"
    assert re.search(r"20\d\d-\d\d-\d\d", block), "the figures must be dated"

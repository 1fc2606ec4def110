"""scripts/run-tests (behind `make test` and `.ci/run`): pytest's verdict, and "no tests" is a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_TESTS = ROOT / "scripts" / "run-tests"

pytestmark = pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(),
                                reason="run-tests uses the checkout's .venv, which `make test` creates")


def _run(tests_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NIAGA_"))}
    env.update(WORKERS="0", PYTEST_ARGS=f"{tests_dir} -q -o addopts=")
    return subprocess.run([str(RUN_TESTS)], env=env, capture_output=True, text=True, timeout=120)


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_a_passing_suite_exits_0_with_pytests_summary_last(tmp_path: Path) -> None:
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in _last_line(result.stdout)


def test_a_failing_test_fails_the_run_with_pytests_summary_last(tmp_path: Path) -> None:
    (tmp_path / "test_mixed.py").write_text("def test_ok():\n    pass\n\ndef test_broken():\n    assert False\n")
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "1 failed, 1 passed" in _last_line(result.stdout)


def test_no_tests_at_all_is_a_failure_not_a_success(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("# no tests here\n")
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "no tests ran" in _last_line(result.stdout)
    assert "collected no tests" in result.stderr


def test_ci_runs_the_same_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "exec ./scripts/run-tests" in ci
    assert "@./scripts/run-tests" in makefile
    assert os.access(ROOT / ".ci" / "run", os.X_OK) and os.access(RUN_TESTS, os.X_OK)

"""Run niaga the way an operator does: the `niaga` CLI and `niaga serve` in child processes.

Used by the tests of the two commands and by `bench/http.py`. Every child gets a clean environment
(no inherited `NIAGA_…` variables, working directory inside its data dir so no stray `.env` is read)
plus the settings given here. The server listens on loopback only.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def random_master_key() -> str:
    """A fresh base64 master key, as an operator would put in NIAGA_MASTER_KEY."""
    return base64.b64encode(os.urandom(32)).decode()


def clean_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The process environment without any NIAGA_ variable, plus NIAGA_DATA_DIR and `settings`.

    `settings` take the field name (`min_age="21"` becomes NIAGA_MIN_AGE=21).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIAGA_")}
    env["NIAGA_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"  # Rich wraps at 80 columns when it is not on a terminal
    for name, value in settings.items():
        env["NIAGA_" + name.upper()] = value
    return env


NIAGA = [sys.executable, "-m", "niaga"]


class Niaga:
    """One niaga installation: a data dir, its settings, its CLI and (once started) its server."""

    def __init__(self, data_dir: Path, **settings: str) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.env = clean_env(self.data_dir, **settings)
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.log_path = self.data_dir / "server.log"

    # -- the CLI ------------------------------------------------------------------------------------
    def cli(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:  # noqa: A002
        """Run `niaga ARGS…`; returns the finished process (exit code, stdout, stderr as text)."""
        return subprocess.run(
            [*NIAGA, *args], env=self.env, cwd=self.data_dir, input=input, capture_output=True, text=True,
            timeout=timeout,
        )

    # -- the server ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self.port is not None, "the server is not started"
        return f"http://127.0.0.1:{self.port}"

    def start(self, workers: int = 1, timeout: float = 60, extra_args: tuple[str, ...] = ()) -> "Niaga":
        """Start `niaga serve` on a free loopback port and wait until /healthz answers 200."""
        for attempt in range(3):
            self.port = free_port()
            self._spawn(workers, extra_args)
            if self._wait_healthy(timeout):
                return self
            tail = self.log_tail()
            self.stop()
            if "address already in use" not in tail.lower() or attempt == 2:
                raise RuntimeError(f"niaga serve did not become healthy; its log ends with:\n{tail}")
        raise AssertionError("unreachable")

    def _spawn(self, workers: int, extra_args: tuple[str, ...]) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [*NIAGA, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
                 *extra_args],
                env=self.env, cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    def _wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def log_text(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> int | None:
        """Stop the server as Ctrl+C would (SIGINT to its process group); returns its exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        return process.returncode

    def __enter__(self) -> "Niaga":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

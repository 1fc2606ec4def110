"""Browser tests: the real app under uvicorn on a loopback port, driven through the OS Chromium.

One server and one browser per test module (each on its own on-disk SQLite database and free port, so
the tests also run in parallel under pytest-xdist). No browser is ever downloaded: Playwright drives
/usr/bin/chromium. Playwright itself gives every launch a fresh temporary profile (user data dir).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from niaga.config import Settings
from niaga.db import migrate
from niaga.db.engine import Database
from tests.conftest import make_settings

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    """The OS Chromium, if installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class LiveServer:
    """A running niaga server."""

    url: str
    settings: Settings
    database: Database


class _Server:
    """uvicorn in a background thread, on an already-bound socket (no race for the port)."""

    def __init__(self, app, sock: socket.socket) -> None:  # noqa: ANN001
        import uvicorn

        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self._run, name="niaga-live-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app as it runs in production, on a fresh migrated SQLite file."""
    from niaga.app import create_app

    data_dir = tmp_path_factory.mktemp("live")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(data_dir, base_url=url, database_url=f"sqlite:///{data_dir / 'niaga.db'}",
                             log_level="WARNING")
    database = Database.from_url(settings.effective_database_url)
    migrate.upgrade(database.engine)
    server = _Server(create_app(settings, database), sock)
    server.start()
    yield LiveServer(url, settings, database)
    server.stop()
    database.engine.dispose()


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    """One headless OS Chromium per module."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser, live_server):  # noqa: ANN001, ANN201
    """A fresh browser profile state (cookies, storage) for one test, like a new visitor."""
    ctx = browser.new_context(base_url=live_server.url, locale="id-ID", timezone_id="Asia/Jakarta")
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):  # noqa: ANN001, ANN201
    """A page in a fresh context."""
    return context.new_page()

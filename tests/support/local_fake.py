"""The part every local fake provider shares: a threaded HTTP server on loopback and scripted failures.

A fake subclasses `LocalFakeServer` and provides `_handle(handler, method)`, plus the fields `_failures`
(list of scripted answers) and `_release` (a threading.Event that ends 'hang' answers when the fake stops).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LocalFakeServer:
    """Start/stop, context manager, base URL and `fail_next` for a fake provider API."""

    _failures: list[str]
    _release: threading.Event

    def start(self) -> Self:
        """Serve on a free loopback port in a daemon thread."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging answers and shut the server down."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The fake's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int, mode: str) -> None:
        """The next `count` calls answer 429, 500, or hang until the client gives up."""
        assert mode in ("429", "500", "hang")
        self._failures.extend([mode] * count)

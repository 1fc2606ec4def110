"""A local LINE Messaging API for tests: a real HTTP server that checks requests the way LINE does.

Push (`POST /v2/bot/message/push`) needs the channel's Bearer token, JSON `{to, messages[1..5]}` of text
messages (1-5000 characters) and, when given, an `X-Line-Retry-Key` that is a UUID; a key seen before answers
409 with the messages accepted the first time. Content downloads (`GET /v2/bot/message/{id}/content`, the data
API, served by the same server) need the Bearer too. Every request is recorded; `fail_next(n, "429" | "500" |
"hang")` makes the next n API calls fail.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_fake import LocalFakeServer

PUSH_KEYS = {"to", "messages", "notificationDisabled", "customAggregationUnits"}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLine(LocalFakeServer):
    """The fake server; use as a context manager."""

    token: str = "line-channel-access-token-for-tests-0123456789"
    requests: list[Recorded] = field(default_factory=list)
    content: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # message id -> (content type, bytes)
    pushed: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)  # user id -> display name (users who added us)
    _accepted: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    _failures: list[str] = field(default_factory=list)
    _next_id: int = 700000000000
    _release: threading.Event = field(default_factory=threading.Event)

    # -- request handling ---------------------------------------------------------------------------------
    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any, *, raw: bytes | None = None,
               content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, message: str) -> None:
        self._reply(handler, status, {"message": message})

    def _handle(self, handler: BaseHTTPRequestHandler, verb: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        self.requests.append(Recorded(verb, path, headers, body))
        if headers.get("authorization") != f"Bearer {self.token}":
            return self._error(handler, 401, "Authentication failed. Confirm that the access token in the "
                                             "authorization header is valid.")
        if self._failures:
            mode = self._failures.pop(0)
            if mode == "hang":
                self._release.wait(10)
                return None
            if mode == "429":
                return self._error(handler, 429, "The API rate limit has been exceeded. Try again later.")
            return self._error(handler, 500, "An error occurred on the server.")
        content = re.match(r"^/v2/bot/message/(\d+)/content$", path)
        if verb == "GET" and content:
            if content.group(1) not in self.content:
                return self._error(handler, 404, "Not found")
            content_type, data = self.content[content.group(1)]
            return self._reply(handler, 200, None, raw=data, content_type=content_type)
        profile = re.match(r"^/v2/bot/profile/(U[0-9a-f]{32})$", path)
        if verb == "GET" and profile:
            if profile.group(1) not in self.profiles:
                return self._error(handler, 404, "Not found")
            return self._reply(handler, 200, {"displayName": self.profiles[profile.group(1)],
                                              "userId": profile.group(1), "language": "id"})
        if verb == "POST" and path == "/v2/bot/message/push":
            return self._push(handler, headers, body)
        return self._error(handler, 404, "Not found")

    def _push(self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: Any) -> None:
        if not headers.get("content-type", "").startswith("application/json") or not isinstance(body, dict):
            return self._error(handler, 400, "The request body has 1 error(s)")
        key = headers.get("x-line-retry-key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return self._error(handler, 400, "The retry key must be a UUID")
            if key in self._accepted:
                return self._reply(handler, 409, {"message": "The retry key is already accepted",
                                                  "sentMessages": self._accepted[key]},
                                   headers={"x-line-accepted-request-id": key})
        messages = body.get("messages")
        if set(body) - PUSH_KEYS or not isinstance(body.get("to"), str) or not body["to"]:
            return self._error(handler, 400, "The request body has 1 error(s): to")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return self._error(handler, 400, "The request body has 1 error(s): messages must be 1-5 items")
        for message in messages:
            if not isinstance(message, dict) or message.get("type") != "text" or not isinstance(message.get("text"), str) \
                    or not 1 <= len(message["text"]) <= 5000:
                return self._error(handler, 400, "The request body has 1 error(s): messages[0].text")
        sent = []
        for _ in messages:
            self._next_id += 1
            sent.append({"id": str(self._next_id), "quoteToken": uuid.uuid4().hex})
        if key is not None:
            self._accepted[key] = sent
        self.pushed.append(body)
        return self._reply(handler, 200, {"sentMessages": sent})

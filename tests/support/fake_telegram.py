"""A local Telegram Bot API for tests: a real HTTP server that checks requests the way Telegram does.

It knows one bot token (`/bot<token>/<method>`; any other token is 401 Unauthorized as Telegram answers),
checks each method's JSON strictly (sendMessage: chat_id, text of 1-4096 characters, reply_parameters with a
message_id; setWebhook: url, a secret_token of 1-256 of A-Z a-z 0-9 _ -, allowed_updates), serves files by
`getFile` + `/file/bot<token>/<path>`, and records every request. `fail_next(n, "429" | "500" | "hang")`
makes the next n API calls fail; `blocked` chats answer 403 as a user who blocked the bot.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.local_fake import LocalFakeServer

SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
SEND_KEYS = {"chat_id", "text", "parse_mode", "reply_parameters", "disable_notification"}
UPDATE_KINDS = {"message", "edited_message", "callback_query", "my_chat_member", "channel_post"}


@dataclass
class Recorded:
    """One request the fake received (the path without the token)."""

    method: str
    api_method: str
    body: Any


@dataclass
class FakeTelegram(LocalFakeServer):
    """The fake server; use as a context manager or call start()/stop()."""

    token: str = "7001234567:AAHfakeTokenForTestsOnly_abcdefghijk"
    requests: list[Recorded] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, bytes)
    blocked: set[int] = field(default_factory=set)
    pressed: set[str] = field(default_factory=set)  # callback query ids of button presses not yet answered
    answered: list[str] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    retry_after: int = 7
    _failures: list[str] = field(default_factory=list)
    _next_message_id: int = 500
    _release: threading.Event = field(default_factory=threading.Event)

    def add_file(self, file_id: str, path: str, data: bytes) -> None:
        self.files[file_id] = (path, data)

    def sent(self) -> list[dict[str, Any]]:
        """Bodies of the sendMessage calls that were accepted."""
        return [r.body for r in self.requests if r.api_method == "sendMessage" and r.body.get("_accepted")]

    # -- request handling ---------------------------------------------------------------------------------
    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler: BaseHTTPRequestHandler, code: int, description: str, **parameters: Any) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        self._reply(handler, code, body)

    def _handle(self, handler: BaseHTTPRequestHandler, verb: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if path.startswith("/file/bot"):
            token, _, file_path = path[len("/file/bot"):].partition("/")
            self.requests.append(Recorded(verb, "file", file_path))
            if token != self.token or verb != "GET":
                return self._error(handler, 401, "Unauthorized")
            for stored_path, data in self.files.values():
                if stored_path == file_path:
                    return self._reply(handler, 200, None, raw=data)
            return self._error(handler, 404, "Not Found")
        match = re.match(r"^/bot([^/]+)/(\w+)$", path)
        if not match:
            return self._error(handler, 404, "Not Found")
        token, method = match.groups()
        body: Any = None
        if raw:
            if not handler.headers.get("Content-Type", "").startswith("application/json"):
                return self._error(handler, 400, "Bad Request: unsupported content type")
            try:
                body = json.loads(raw)
            except ValueError:
                return self._error(handler, 400, "Bad Request: can't parse JSON")
        body = body if isinstance(body, dict) else {}
        record = Recorded(verb, method, body)
        self.requests.append(record)
        if token != self.token:
            return self._error(handler, 401, "Unauthorized")
        if self._failures:
            mode = self._failures.pop(0)
            if mode == "hang":
                self._release.wait(10)
                return None
            if mode == "429":
                return self._error(handler, 429, f"Too Many Requests: retry after {self.retry_after}",
                                   retry_after=self.retry_after)
            return self._error(handler, 500, "Internal Server Error")
        handlers = {"sendMessage": self._send_message, "getFile": self._get_file, "setWebhook": self._set_webhook,
                    "answerCallbackQuery": self._answer_callback_query}
        if method not in handlers or verb != "POST":
            return self._error(handler, 404, "Not Found: method not found")
        return handlers[method](handler, body, record)

    def _send_message(self, handler: BaseHTTPRequestHandler, body: dict, record: Recorded) -> None:
        unknown = set(body) - SEND_KEYS
        chat_id, text = body.get("chat_id"), body.get("text")
        if unknown:
            return self._error(handler, 400, f"Bad Request: unexpected fields {sorted(unknown)}")
        if not isinstance(chat_id, int | str) or isinstance(chat_id, bool) or chat_id == "":
            return self._error(handler, 400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return self._error(handler, 400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(handler, 400, "Bad Request: message is too long")
        reply = body.get("reply_parameters")
        if reply is not None and (not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int)):
            return self._error(handler, 400, "Bad Request: invalid reply_parameters")
        if int(chat_id) in self.blocked:
            return self._error(handler, 403, "Forbidden: bot was blocked by the user")
        self._next_message_id += 1
        body["_accepted"] = True
        return self._reply(handler, 200, {"ok": True, "result": {
            "message_id": self._next_message_id, "date": 1767225600, "chat": {"id": chat_id, "type": "private"},
            "text": text}})

    def _answer_callback_query(self, handler: BaseHTTPRequestHandler, body: dict, record: Recorded) -> None:
        unknown = set(body) - {"callback_query_id", "text", "show_alert", "url", "cache_time"}
        if unknown:
            return self._error(handler, 400, f"Bad Request: unexpected fields {sorted(unknown)}")
        query_id = body.get("callback_query_id")
        if not isinstance(query_id, str) or query_id not in self.pressed:
            return self._error(handler, 400, "Bad Request: query is too old and response timeout expired or "
                                             "query ID is invalid")
        self.pressed.discard(query_id)  # a press is answered once
        self.answered.append(query_id)
        return self._reply(handler, 200, {"ok": True, "result": True})

    def _get_file(self, handler: BaseHTTPRequestHandler, body: dict, record: Recorded) -> None:
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or file_id not in self.files:
            return self._error(handler, 400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        return self._reply(handler, 200, {"ok": True, "result": {
            "file_id": file_id, "file_unique_id": file_id[:8], "file_size": len(data), "file_path": path}})

    def _set_webhook(self, handler: BaseHTTPRequestHandler, body: dict, record: Recorded) -> None:
        url, secret, allowed = body.get("url"), body.get("secret_token"), body.get("allowed_updates", [])
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return self._error(handler, 400, "Bad Request: bad webhook: invalid URL")
        if secret is not None and (not isinstance(secret, str) or not SECRET.match(secret)):
            return self._error(handler, 400, "Bad Request: secret token contains unallowed characters")
        if not isinstance(allowed, list) or not set(allowed) <= UPDATE_KINDS:
            return self._error(handler, 400, "Bad Request: invalid allowed_updates")
        self.webhook = {"url": url, "secret_token": secret, "allowed_updates": allowed}
        return self._reply(handler, 200, {"ok": True, "result": True, "description": "Webhook was set"})

"""A strict local fake of Meta's Graph API (WhatsApp Cloud API and Instagram messaging) on 127.0.0.1.

    from tests.support.fake_meta import fake_meta  # noqa: F401  (the fixture)

    def test_x(fake_meta):
        fake_meta.phone_numbers.add("1061")
        ...send...
        assert fake_meta.sent()[0]["text"]["body"] == "Halo"

It checks what the real API checks: the bearer token (401 with Graph's error JSON), the exact JSON shapes of
a send (unknown keys refused, `to` digits, text 1..4096, templates known and approved with the right number
of values), and answers with the real response shapes and ids. `fail_next(...)` makes it answer 429 (with
Retry-After), 500, a WhatsApp error code, or hang (a client timeout) for the next N matching requests.
Media: `add_media` (WhatsApp: GET /{id} → URL, download with the bearer) and `add_cdn` (Instagram links).
Every request is recorded in `requests`. Also here: builders of real-format webhook deliveries and the
signature Meta puts on them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from niaga.config import get_settings
from niaga.inbox.channels import meta

HOST = "127.0.0.1"
TOKEN = "EAAGfake-access-token-0123456789"
APP_SECRET = "fake-app-secret-5f4dcc3b"
VERSION = "v21.0"

ERRORS = {
    "131047": (400, {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                     "error_data": {"messaging_product": "whatsapp",
                                    "details": "Message failed to send because more than 24 hours have passed "
                                               "since the customer last replied to this number."}}),
    "130429": (400, {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
                     "error_data": {"messaging_product": "whatsapp",
                                    "details": "Cloud API message throughput has been reached."}}),
    "131056": (400, {"message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                     "type": "OAuthException", "code": 131056}),
    "131026": (400, {"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026}),
    "429": (429, {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4}),
    "500": (500, {"message": "An unexpected error has occurred. Please retry your request later.",
                  "type": "OAuthException", "code": 2}),
    "ig-window": (400, {"message": "This message is sent outside of allowed window.", "type": "OAuthException",
                        "code": 10, "error_subcode": 2018278}),
    "bad-recipient": (400, {"message": "(#100) Invalid parameter: recipient 6281234567890 is not valid",
                            "type": "OAuthException", "code": 100}),
}


PROFILE_FIELDS = {"name", "username", "profile_pic", "follower_count", "is_user_follow_business",
                  "is_business_follow_user", "is_verified_user"}


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any = None


@dataclass
class Planned:
    """An answer forced on the next matching requests: an ERRORS key or 'hang'."""

    what: str
    route: str  # send | media | profile | any
    remaining: int
    retry_after: str | None = None


@dataclass
class FakeMeta:
    """The fake's state; `url` is its base (set NIAGA_META_GRAPH_BASE to it)."""

    token: str = TOKEN
    version: str = VERSION
    phone_numbers: set[str] = field(default_factory=set)
    instagram_accounts: set[str] = field(default_factory=set)
    business_accounts: dict[str, list[dict]] = field(default_factory=dict)  # WABA id → its templates
    outside_window: set[str] = field(default_factory=set)  # recipients whose 24-hour window has closed
    requests: list[Recorded] = field(default_factory=list)
    plans: list[Planned] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    cdn: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    profiles: dict[str, dict] = field(default_factory=dict)  # IGSID → Instagram user profile fields
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set-up -------------------------------------------------------------------------------------
    def fail_next(self, what: str, times: int = 1, *, route: str = "send", retry_after: str | None = None) -> None:
        """Answer the next `times` matching requests with an error of ERRORS (or hang until released)."""
        assert what == "hang" or what in ERRORS, what
        self.plans.append(Planned(what, route, times, retry_after))

    def add_media(self, data: bytes, mime: str = "image/jpeg") -> tuple[str, str]:
        """A WhatsApp media object: (media id, base64 sha256 as the webhook carries it)."""
        media_id = str(10**14 + secrets.randbelow(10**14))
        self.media[media_id] = (data, mime)
        return media_id, base64.b64encode(hashlib.sha256(data).digest()).decode()

    def add_cdn(self, data: bytes, mime: str = "image/jpeg", *, redirect: bool = False) -> str:
        """An Instagram attachment link (signed by its query, no token needed); `redirect`: a link that
        answers 302 to the file, as lookaside links do."""
        key = secrets.token_hex(8)
        self.cdn[key] = (data, mime)
        return f"{self.url}/{'moved' if redirect else 'cdn'}/{key}?oh={secrets.token_hex(6)}"

    def add_template(self, waba_id: str, name: str, language: str, body: str, status: str = "APPROVED",
                     category: str = "UTILITY") -> None:
        """A message template of a business account, as Meta lists it."""
        self.business_accounts.setdefault(waba_id, []).append({
            "name": name, "language": language, "status": status, "category": category,
            "id": str(10**15 + secrets.randbelow(10**15)),
            "components": [{"type": "BODY", "text": body}]})

    # -- assertions ---------------------------------------------------------------------------------
    def sent(self) -> list[Any]:
        """JSON bodies of the accepted-or-not POST …/messages requests, in order."""
        return [r.json for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    # -- serving ------------------------------------------------------------------------------------
    def _plan_for(self, route: str) -> Planned | None:
        with self.lock:
            for plan in self.plans:
                if plan.remaining > 0 and plan.route in (route, "any"):
                    plan.remaining -= 1
                    return plan
        return None

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        record = Recorded(method, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in handler.headers.items()}, body)
        with self.lock:
            self.requests.append(record)
        status, payload, headers = self._answer(record)
        if isinstance(payload, bytes):
            data, content_type = payload, headers.pop("content-type", "application/octet-stream")
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test): as Meta would
            pass

    def _answer(self, record: Recorded) -> tuple[int, Any, dict[str, str]]:
        segments = [s for s in record.path.split("/") if s]
        if segments[:1] == ["moved"] and record.method == "GET" and len(segments) == 2:
            return 302, b"", {"Location": f"{self.url}/cdn/{segments[1]}?oh=moved", "content-type": "text/plain"}
        if segments[:1] == ["cdn"] and record.method == "GET":
            plan = self._plan_for("media")
            if plan is not None:
                return 503 if plan.what != "hang" else self._hang(), b"unavailable", {"content-type": "text/plain"}
            found = self.cdn.get(segments[1] if len(segments) == 2 else "")
            if found is None or "oh" not in record.query:
                return 404, b"not found", {"content-type": "text/plain"}
            return 200, found[0], {"content-type": found[1]}
        if record.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, {"message": "Invalid OAuth access token - Cannot parse access token",
                                "type": "OAuthException", "code": 190})
        route = "send" if record.path.endswith("/messages") else "profile" if "fields" in record.query else "media"
        plan = self._plan_for(route)
        if plan is not None:
            if plan.what == "hang":
                return _error(self._hang(), {"message": "too late", "type": "OAuthException", "code": 2})
            status, error = ERRORS[plan.what]
            status, payload, headers = _error(status, error)
            if plan.retry_after is not None:
                headers["Retry-After"] = plan.retry_after
            return status, payload, headers
        if segments[:1] == ["files"] and record.method == "GET" and len(segments) == 2:
            found = self.media.get(segments[1])
            if found is None:
                return 404, b"not found", {"content-type": "text/plain"}
            return 200, found[0], {"content-type": found[1]}
        if not segments or segments[0] != self.version:
            return _error(400, {"message": "Unknown path components", "type": "OAuthException", "code": 2500})
        rest = segments[1:]
        if record.method == "POST" and len(rest) == 2 and rest[1] == "messages":
            try:
                record.json = json.loads(record.body)
            except ValueError:
                return _error(400, {"message": "(#100) The parameter messaging_product is required.",
                                    "type": "OAuthException", "code": 100})
            if rest[0] in self.phone_numbers:
                return self._whatsapp_send(record.json)
            if rest[0] in self.instagram_accounts:
                return self._instagram_send(record.json)
            return _unknown_object(rest[0])
        if record.method == "GET" and len(rest) == 2 and rest[1] == "message_templates":
            if rest[0] not in self.business_accounts:
                return _unknown_object(rest[0])
            return 200, {"data": self.business_accounts[rest[0]], "paging": {"cursors": {"before": "QVFI",
                                                                                         "after": "QVFJ"}}}, {}
        if record.method == "GET" and len(rest) == 1 and rest[0] in self.profiles:
            return self._profile(rest[0], record.query)
        if record.method == "GET" and len(rest) == 1:
            found = self.media.get(rest[0])
            if found is None:
                return _unknown_object(rest[0])
            data, mime = found
            return 200, {"messaging_product": "whatsapp", "url": f"{self.url}/files/{rest[0]}", "mime_type": mime,
                         "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data), "id": rest[0]}, {}
        return _error(400, {"message": "Unsupported request", "type": "GraphMethodException", "code": 100})

    def _profile(self, igsid: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """Instagram's User Profile API: the requested fields of a customer who messaged the account."""
        wanted = [f for f in (query.get("fields") or [""])[0].split(",") if f]
        if not wanted or set(wanted) - PROFILE_FIELDS:
            return _error(400, {"message": "(#100) Tried accessing nonexisting field", "type": "OAuthException",
                                "code": 100})
        profile = self.profiles[igsid]
        return 200, {"id": igsid, **{f: profile[f] for f in wanted if f in profile}}, {}

    def _hang(self) -> int:
        """Hold the request until the test ends (the client times out first); then a 500."""
        self.release.wait(10)
        return 500

    def _whatsapp_send(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        problem = whatsapp_problem(body)
        if problem:
            return _error(400, {"message": f"(#100) {problem}", "type": "OAuthException", "code": 100})
        if body.get("status") == "read":
            return 200, {"success": True}, {}
        if body["type"] == "template":
            known = self._template(body["template"])
            if isinstance(known, tuple):
                return _error(400, {"message": known[1], "type": "OAuthException", "code": known[0]})
        elif body["to"] in self.outside_window:
            return _error(*ERRORS["131047"])
        wamid = "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()
        answer = {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                  "messages": [{"id": wamid}]}
        if body["type"] == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return 200, answer, {}

    def _template(self, template: dict) -> dict | tuple[int, str]:
        code = template["language"]["code"]
        for templates in self.business_accounts.values():
            for known in templates:
                if known["name"] == template["name"] and known["language"] == code and known["status"] == "APPROVED":
                    body = known["components"][0]["text"]
                    wanted = len(set(re.findall(r"\{\{(\d+)\}\}", body)))
                    given = sum(len(c.get("parameters", [])) for c in template.get("components", [])
                                if c["type"] == "body")
                    if wanted != given:
                        return 132000, "(#132000) Number of parameters does not match the expected number of params"
                    return known
        return 132001, "(#132001) Template name does not exist in the translation"

    def _instagram_send(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        problem = instagram_problem(body)
        if problem:
            return _error(400, {"message": f"(#100) {problem}", "type": "OAuthException", "code": 100})
        if body["recipient"]["id"] in self.outside_window:
            return _error(*ERRORS["ig-window"])
        mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3" + secrets.token_hex(12)
        return 200, {"recipient_id": body["recipient"]["id"], "message_id": mid}, {}


def _error(status: int, error: dict) -> tuple[int, dict, dict[str, str]]:
    return status, {"error": {**error, "fbtrace_id": "A" + secrets.token_hex(10)}}, {}


def _unknown_object(object_id: str) -> tuple[int, dict, dict[str, str]]:
    return _error(400, {"message": f"Unsupported request - method type: get. Object with ID '{object_id}' does not "
                                  "exist, cannot be loaded due to missing permissions, or does not support this "
                                  "operation.", "type": "GraphMethodException", "code": 100, "error_subcode": 33})


def _keys(value: Any, allowed: set[str], required: set[str]) -> bool:
    return isinstance(value, dict) and required <= set(value) <= allowed


def whatsapp_problem(body: Any) -> str | None:
    """What the Cloud API would refuse in a send body (None when it is well-formed)."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    if body.get("status") == "read":
        return None if _keys(body, {"messaging_product", "status", "message_id"}, set(body)) and \
            str(body.get("message_id", "")).startswith("wamid.") else "Invalid parameter"
    if not set(body) <= {"messaging_product", "recipient_type", "to", "type", "text", "template", "context"}:
        return "Invalid parameter: unexpected key"
    if body.get("recipient_type", "individual") != "individual":
        return "Invalid parameter: recipient_type"
    if not isinstance(body.get("to"), str) or not re.fullmatch(r"\d{8,15}", body["to"]):
        return "Invalid parameter: to"
    if "context" in body and not (_keys(body["context"], {"message_id"}, {"message_id"})
                                  and str(body["context"]["message_id"]).startswith("wamid.")):
        return "Invalid parameter: context"
    kind = body.get("type")
    if kind == "text":
        text = body.get("text")
        if "template" in body or not _keys(text, {"body", "preview_url"}, {"body"}):
            return "Invalid parameter: text"
        if not isinstance(text["body"], str) or not 1 <= len(text["body"]) <= 4096:
            return "Param text['body'] must be 1 to 4096 characters"
        if not isinstance(text.get("preview_url", False), bool):
            return "Invalid parameter: preview_url"
        return None
    if kind == "template":
        template = body.get("template")
        if "text" in body or not _keys(template, {"name", "language", "components"}, {"name", "language"}):
            return "Invalid parameter: template"
        if not isinstance(template["name"], str) or not re.fullmatch(r"[a-z0-9_]{1,512}", template["name"]):
            return "Invalid parameter: template name"
        if not _keys(template["language"], {"code", "policy"}, {"code"}) or \
                not isinstance(template["language"]["code"], str):
            return "Invalid parameter: language"
        for component in template.get("components", []):
            if not _keys(component, {"type", "parameters", "sub_type", "index"}, {"type"}) or \
                    component["type"] not in ("header", "body", "button"):
                return "Invalid parameter: components"
            for parameter in component.get("parameters", []):
                if not _keys(parameter, {"type", "text"}, {"type", "text"}) or parameter["type"] != "text" or \
                        not isinstance(parameter["text"], str) or not parameter["text"]:
                    return "Invalid parameter: parameters"
        return None
    return "Invalid parameter: type"


def instagram_problem(body: Any) -> str | None:
    """What Instagram's Send API would refuse (None when it is well-formed)."""
    if not _keys(body, {"recipient", "message", "messaging_type", "tag"}, {"recipient", "message"}):
        return "Invalid parameter"
    if not _keys(body["recipient"], {"id"}, {"id"}) or not re.fullmatch(r"\d{5,30}", str(body["recipient"]["id"])):
        return "Invalid parameter: recipient"
    message = body["message"]
    if not _keys(message, {"text"}, {"text"}) or not isinstance(message["text"], str) or \
            not 1 <= len(message["text"]) <= 1000:
        return "Invalid parameter: message"
    return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMeta

    def do_GET(self) -> None:
        self.fake.handle(self, "GET")

    def do_POST(self) -> None:
        self.fake.handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def fake_meta() -> Iterator[FakeMeta]:
    """A running fake Graph API; released and stopped after the test."""
    fake = FakeMeta()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    fake.url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def meta_api(fake_meta, monkeypatch, tmp_path) -> Iterator[FakeMeta]:
    """The fake, with the Graph settings pointing at it (0.5 s timeout) and the send-rate caps reset."""
    monkeypatch.setenv("NIAGA_META_GRAPH_BASE", fake_meta.url)
    monkeypatch.setenv("NIAGA_META_GRAPH_VERSION", VERSION)
    monkeypatch.setenv("NIAGA_META_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("NIAGA_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    meta.SEND_RATE.reset()
    yield fake_meta
    monkeypatch.undo()
    get_settings.cache_clear()


# -- deliveries (what Meta POSTs to our webhook) -----------------------------------------------------

def sign(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    """The headers Meta sends with a delivery."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def encode(delivery: dict) -> bytes:
    """A delivery's bytes the way Meta writes them (non-ASCII escaped as \\uXXXX)."""
    return json.dumps(delivery, ensure_ascii=True).encode()


def wa_message(sender: str, kind: str, content: dict | None = None, *, wamid: str | None = None, ts: int = 1767225600,
               context: dict | None = None) -> dict:
    """One `value.messages[]` item."""
    message = {"from": sender, "id": wamid or f"wamid.{base64.b64encode(secrets.token_bytes(24)).decode()}",
               "timestamp": str(ts), "type": kind}
    if content is not None:
        message[kind] = content
    if context is not None:
        message["context"] = context
    return message


def wa_status(wamid: str, status: str, recipient: str, *, ts: int = 1767225700, errors: list | None = None) -> dict:
    """One `value.statuses[]` item."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(ts), "recipient_id": recipient}
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if errors:
        item["errors"] = errors
    return item


def wa_delivery(phone_number_id: str, *, messages: list | None = None, statuses: list | None = None,
                names: dict[str, str] | None = None, waba_id: str = "102290129340398") -> dict:
    """A whole WhatsApp webhook delivery (one entry, one change)."""
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "6281100001111", "phone_number_id": phone_number_id}}
    if names:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in names.items()]
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}]}


def ig_delivery(account_id: str, *items: dict, time_ms: int = 1767225600000) -> dict:
    """An Instagram webhook delivery with messaging[] items."""
    return {"object": "instagram", "entry": [{"id": account_id, "time": time_ms, "messaging": list(items)}]}


def ig_message(sender: str, recipient: str, *, mid: str | None = None, text: str | None = None,
               attachments: list | None = None, echo: bool = False, reply_to: str | None = None,
               deleted: bool = False, ts: int = 1767225600000) -> dict:
    """One messaging[] item carrying a message (or an echo of the business's own)."""
    message: dict[str, Any] = {"mid": mid or "aWdfZAG1faXRlbToxOklH" + secrets.token_hex(16)}
    if text is not None:
        message["text"] = text
    if attachments:
        message["attachments"] = attachments
    if echo:
        message["is_echo"] = True
    if reply_to:
        message["reply_to"] = {"mid": reply_to}
    if deleted:
        message["is_deleted"] = True
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": ts, "message": message}

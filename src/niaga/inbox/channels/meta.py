"""What the WhatsApp Cloud API and Instagram messaging share: Meta's webhook handshake and signature, and
calls to the Graph API with its error format mapped to the inbox's temporary / permanent failures.

Not an adapter itself (it registers nothing); `whatsapp.py` and `instagram.py` build on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.responses import PlainTextResponse, Response

from niaga.config import get_settings
from niaga.inbox.adapters import MalformedDelivery, PermanentFailure, TemporaryFailure
from niaga.inbox.models import Channel

SIGNATURE_HEADER = "x-hub-signature-256"
# Graph error codes that mean "not now": application / account rate limits, WhatsApp throughput (130429),
# too many messages to one user (131056), temporary service errors.
TEMPORARY_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131056, 133004})
# Graph error codes where the access token is not (or no longer) valid.
TOKEN_CODES = frozenset({102, 190})
_LONG_NUMBER = re.compile(r"\+?\d[\d ]{7,}\d")
_CHALLENGE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")


# -- webhooks --------------------------------------------------------------------------------------

def signature_for(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends for a body: 'sha256=' + hex HMAC-SHA256 with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
    """True when the delivery's signature matches the raw bytes under the channel's app secret."""
    secret = secrets.get("app_secret")
    given = headers.get(SIGNATURE_HEADER, "")
    if not isinstance(secret, str) or not secret or not given.startswith("sha256="):
        return False
    return hmac.compare_digest(signature_for(secret, body).encode(), given.strip().lower().encode())


def handshake(channel: Channel, query: Mapping[str, str]) -> Response:
    """Meta's subscription check: echo `hub.challenge` when the mode is subscribe and the token is ours."""
    token = query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    ok = (query.get("hub.mode") == "subscribe" and bool(channel.verify_token)
          and hmac.compare_digest(token.encode(), channel.verify_token.encode())
          and _CHALLENGE.match(challenge) is not None)
    if not ok:
        return PlainTextResponse("Forbidden", status_code=403)
    return PlainTextResponse(challenge)


def load_delivery(body: bytes) -> dict:
    """A Meta webhook body as a JSON object; MalformedDelivery otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedDelivery("not JSON") from None
    if not isinstance(data, dict):
        raise MalformedDelivery("not a JSON object")
    return data


def json_list(value: Any) -> list:
    """A list field of a delivery ([] when absent); MalformedDelivery when it is something else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedDelivery("a list was expected")
    return value


def text_or_none(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


class MetaWebhooks:
    """What WhatsApp and Instagram share on the webhook side: the signature and the subscription handshake."""

    def verify(self, channel: Channel, secrets: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> bool:
        """Meta's X-Hub-Signature-256 over the raw bytes with the app secret."""
        return signature_valid(secrets, headers, body)

    def handshake(self, channel: Channel, query: Mapping[str, str]) -> Response:
        """Meta's subscription check (hub.mode / hub.verify_token / hub.challenge)."""
        return handshake(channel, query)


# -- Graph API calls --------------------------------------------------------------------------------

class GraphFailure(Exception):
    """A Graph API answer that is not a success: the HTTP status and Meta's error fields."""

    def __init__(self, status: int, code: int | None, subcode: int | None, message: str,
                 retry_after: float | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.subcode, self.message = status, code, subcode, message
        self.retry_after, self.transient = retry_after, transient

    @property
    def temporary(self) -> bool:
        """Worth trying again later (rate limits, Meta's own trouble)."""
        return self.status == 429 or self.status >= 500 or self.transient or self.code in TEMPORARY_CODES

    def as_failure(self, permanent_reasons: Mapping[int, str] | None = None) -> TemporaryFailure | PermanentFailure:
        """The inbox's failure for this answer; `permanent_reasons` gives our own wording for known codes."""
        code = str(self.code) if self.code is not None else str(self.status)
        if self.temporary:
            return TemporaryFailure(f"Meta answered {self.status} ({code}): {self.message}"[:300], self.retry_after)
        reason = (permanent_reasons or {}).get(self.code or 0) or self.message or f"HTTP {self.status}"
        return PermanentFailure(reason[:300], code=code)


def scrub(text: str) -> str:
    """A provider's message without long digit runs (a phone number or user id must not reach our logs)."""
    return _LONG_NUMBER.sub("…", text)


def retry_after_seconds(value: str | None) -> float | None:
    """The Retry-After header in seconds (the HTTP-date form is not used by Meta and is ignored)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return max(0.0, min(seconds, 3600.0)) if seconds is not None else None


def _failure(response: httpx.Response) -> GraphFailure:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or f"HTTP {response.status_code}")
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    if details:
        message = f"{message}: {details}"
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    return GraphFailure(response.status_code, code, subcode, scrub(message)[:300],
                        retry_after_seconds(response.headers.get("retry-after")), bool(error.get("is_transient")))


@dataclass(frozen=True)
class Graph:
    """The Graph API as one channel's token sees it (base URL and version from the settings)."""

    token: str

    @classmethod
    def for_secrets(cls, secrets: Mapping[str, Any]) -> Graph:
        """A client with the channel's access token; a channel without one cannot call Meta."""
        token = secrets.get("access_token")
        if not isinstance(token, str) or not token:
            raise PermanentFailure("The channel has no access token: add it in the channel's settings.",
                                   code="no-token")
        return cls(token)

    @staticmethod
    def url(path: str) -> str:
        """The full URL of a Graph path ('123/messages')."""
        settings = get_settings()
        return f"{settings.meta_graph_base.rstrip('/')}/{settings.meta_graph_version}/{path.lstrip('/')}"

    def _client(self, authorized: bool = True, follow_redirects: bool = False) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if authorized else {}
        # httpx drops the Authorization header when a redirect leaves the origin: the token stays with Meta.
        return httpx.Client(timeout=get_settings().meta_timeout_seconds, follow_redirects=follow_redirects,
                            max_redirects=5, headers=headers)

    def call(self, method: str, path: str, *, json: dict | None = None,
             params: Mapping[str, str] | None = None) -> dict:
        """One Graph request; its JSON on success. Raises TemporaryFailure when Meta was not reached,
        GraphFailure when it answered with an error."""
        try:
            with self._client() as client:
                response = client.request(method, self.url(path), json=json, params=params)
        except httpx.TimeoutException:
            raise TemporaryFailure("Meta did not answer in time") from None
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"Meta could not be reached ({type(exc).__name__})") from None
        if not response.is_success:
            raise _failure(response)
        try:
            found = response.json()
        except ValueError:
            raise GraphFailure(response.status_code, None, None, "Meta's answer was not JSON") from None
        if not isinstance(found, dict):
            raise GraphFailure(response.status_code, None, None, "Meta's answer was not a JSON object")
        return found

    def download(self, url: str, *, authorized: bool, max_bytes: int) -> tuple[bytes, str]:
        """(bytes, content type) of a media URL, with the bearer token when Meta wants it; refuses big files."""
        if not url.startswith(("https://", "http://")):
            raise PermanentFailure("The media link is not a web address.")
        try:
            with self._client(authorized, follow_redirects=True) as client, client.stream("GET", url) as response:
                if not response.is_success:
                    response.read()
                    failure = _failure(response)
                    if response.status_code in (404, 410):
                        raise PermanentFailure("The file is no longer available at the provider.",
                                               code=str(response.status_code))
                    raise TemporaryFailure(f"media download answered {failure.status}", failure.retry_after)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise PermanentFailure("The file is larger than this server accepts.", code="too-large")
                    chunks.append(chunk)
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return b"".join(chunks), content_type
        except httpx.TimeoutException:
            raise TemporaryFailure("the media download timed out") from None
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"the media download failed ({type(exc).__name__})") from None


# -- send rate ------------------------------------------------------------------------------------

class SendRate:
    """A per-channel cap on sends per second, kept in this process's memory (a token bucket).

    Each worker process keeps its own buckets, so N workers may together send N times the cap: the caps are
    set well below the provider's limits for that reason. A send over the cap is a temporary failure with
    `retry_after`, so the outbox simply tries it again a moment later.
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[Any, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: Any, per_second: float) -> float:
        """Use one send of `key`'s allowance: 0 when allowed, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (per_second, now))
            tokens = min(per_second, tokens + (now - last) * per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / per_second

    def reset(self) -> None:
        """Forget every bucket (tests)."""
        with self._lock:
            self._buckets.clear()


SEND_RATE = SendRate()


def check_send_rate(channel: Channel, default_per_second: float) -> None:
    """Refuse (temporarily) a send over the channel's cap: `config["sends_per_second"]` or the default."""
    configured = (channel.config or {}).get("sends_per_second")
    per_second = float(configured) if isinstance(configured, int | float) and configured > 0 else default_per_second
    wait = SEND_RATE.take((channel.tenant_id, channel.id), per_second)
    if wait > 0:
        raise TemporaryFailure("This channel's send rate limit was reached", retry_after=round(wait, 3))

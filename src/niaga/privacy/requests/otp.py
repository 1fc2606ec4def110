"""One-time codes, status tokens and rate limits of the public privacy center.

Secrets are never stored: the status token (carried by the private link) and the 6-digit code are kept
as keyed HMAC-SHA256 digests (a platform secret), the code's bound to its request so a code cannot be
replayed on another. Rate limits reuse the sign-in throttle table (`login_throttles`): each counter is a
row keyed by a keyed hash of what it counts (tenant + address, client address), so the table holds no
address either.

How the code travels (decision): `deliver_code` picks the channel. Email goes to the email on file of the
matched contact (the typed email when it was the email, else the contact's first email). WhatsApp will go
through the inbox: it registers a sender with `register_whatsapp_sender`; until one is registered a phone
number on file gets its code by email to the same contact's email on file, and the page says so. When the
person has no email on file (and no WhatsApp sender exists) no code is sent, which the visitor cannot tell
apart from an unknown person.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from niaga.identity.models import LoginThrottle
from niaga.kit.errors import TooManyRequests
from niaga.kit.messages import Msg
from niaga.privacy.vault import get_vault

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES = 3  # the first code and two resends
UNVERIFIED_TTL = timedelta(hours=24)  # an unverified request expires after this
RESPONSE_DEADLINE = timedelta(hours=72)  # UU PDP: 3 x 24 hours from verification

# Rate limits: (prefix, allowed events, window)
ADDRESS_LIMIT = ("dsr-addr", 5, timedelta(hours=24))  # new requests per tenant + address
CLIENT_LIMIT = ("dsr-ip", 20, timedelta(hours=1))  # new requests and resends per client address
GUESS_LIMIT = ("dsr-guess", 20, timedelta(hours=1))  # wrong codes per client address, across requests


def _secret(session: Session) -> bytes:
    return get_vault().platform_secret(session, "privacy-requests")


def new_token() -> str:
    """A fresh private status token (for the link)."""
    return secrets.token_urlsafe(32)


def token_digest(session: Session, token: str) -> bytes:
    """The stored form of a status token."""
    return hmac.new(_secret(session), b"token:" + token.encode(), hashlib.sha256).digest()


def new_code() -> str:
    """Six random digits."""
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(session: Session, request_id: uuid.UUID, code: str) -> bytes:
    """The stored form of a code, bound to its request."""
    return hmac.new(_secret(session), f"code:{request_id.hex}:{code}".encode(), hashlib.sha256).digest()


def unusable_code_digest() -> bytes:
    """What an unknown person's request stores: random bytes no code can match."""
    return secrets.token_bytes(32)


def code_matches(session: Session, request_id: uuid.UUID, stored: bytes | None, code: str) -> bool:
    """Constant-time comparison of a typed code with the stored digest."""
    if stored is None:
        return False
    return hmac.compare_digest(stored, code_digest(session, request_id, code))


def clean_code(raw: str) -> str | None:
    """The six digits of a typed code (spaces and dashes ignored), or None."""
    digits = "".join(ch for ch in raw if ch not in " -")[:20]
    return digits if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else None


# -- rate limits -------------------------------------------------------------------------------------
def _limit_key(session: Session, prefix: str, value: str) -> str:
    digest = hmac.new(_secret(session), f"{prefix}:{value}".encode(), hashlib.sha256).hexdigest()[:64]
    return f"{prefix}:{digest}"[:80]


def _window(session: Session, key: str, now: datetime, window: timedelta) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, first_failure_at=now)
        session.add(row)
    elif now - row.first_failure_at > window:
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    return row


def _refuse(row: LoginThrottle, now: datetime) -> None:
    wait = max(1, int((row.locked_until - now).total_seconds()) + 1) if row.locked_until else 60
    minutes = (wait + 59) // 60
    raise TooManyRequests(Msg("Too many attempts. Try again in {minutes} minutes.", minutes=minutes),
                          retry_after=wait)


def check_limit(session: Session, limit: tuple[str, int, timedelta], value: str | None, now: datetime) -> None:
    """Refuse (429) when the counter for `value` is used up; does not count."""
    if not value:
        return
    prefix, allowed, window = limit
    row = session.get(LoginThrottle, _limit_key(session, prefix, value))
    if row is not None and now - row.first_failure_at <= window and row.failures >= allowed:
        row.locked_until = row.first_failure_at + window
        _refuse(row, now)


def count(session: Session, limit: tuple[str, int, timedelta], value: str | None, now: datetime) -> None:
    """Count one event against the limit for `value`."""
    if not value:
        return
    prefix, _allowed, window = limit
    row = _window(session, _limit_key(session, prefix, value), now, window)
    row.failures += 1
    session.flush()


def address_key(tenant_id: uuid.UUID, address_kind: str, normalized: str) -> str:
    """What the per-address limit counts: the tenant and the normalised address (hashed before storing)."""
    return f"{tenant_id.hex}:{address_kind}:{normalized}"


# -- delivery ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CodeDelivery:
    """Where a code goes: the channel, and a send to run after the response (None: nothing to send)."""

    channel: str  # "email" | "whatsapp" | "none"
    send: Callable[[], None] | None


# A sender takes (session, request, code, language) and returns a CodeDelivery, or None when it cannot
# reach the person; it may write to the session (e.g. queue an outgoing WhatsApp message).
WhatsAppSender = Callable[[Session, object, str, str], "CodeDelivery | None"]
_whatsapp_sender: WhatsAppSender | None = None
_whatsapp_ready: Callable[[Session, uuid.UUID], bool] | None = None


def register_whatsapp_sender(sender: WhatsAppSender | None,
                             ready: Callable[[Session, uuid.UUID], bool] | None = None) -> None:
    """Let the inbox deliver codes by WhatsApp to a phone on file (None removes it); `ready` tells whether a
    business has what it takes (a WhatsApp channel with a code template)."""
    global _whatsapp_sender, _whatsapp_ready
    _whatsapp_sender, _whatsapp_ready = sender, ready


def whatsapp_available(session: Session | None = None, tenant_id: uuid.UUID | None = None) -> bool:
    """True when codes can go by WhatsApp (for this business, when one is given)."""
    if _whatsapp_sender is None:
        return False
    if _whatsapp_ready is None or session is None or tenant_id is None:
        return True
    return _whatsapp_ready(session, tenant_id)


def deliver_code(session: Session, request: object, code: str, language: str,
                 email_sender: Callable[[Session, object, str, str], CodeDelivery | None]) -> CodeDelivery:
    """Pick the channel for a code: WhatsApp for a phone on file when available, else the email on file."""
    if getattr(request, "address_kind", "") == "phone" and _whatsapp_sender is not None:
        delivery = _whatsapp_sender(session, request, code, language)
        if delivery is not None:
            return delivery
    delivery = email_sender(session, request, code, language)
    return delivery if delivery is not None else CodeDelivery("none", None)

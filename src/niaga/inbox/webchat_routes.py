"""The web chat widget's public endpoints: /webchat/<channel key>/config, /sessions, /messages.

Called by the widget from the business's site, so every answer carries CORS headers for the channel's
allowed origins only (and preflights are answered); a request from another site is refused with 403.
Errors are problem+json, with the CORS headers too, so the widget can tell a refused token (401: start a
new visitor) from a rate limit (429: wait). A visitor proves who they are with the token from /sessions
(header X-Visitor-Token); the token names one channel, so it opens nothing elsewhere. The page CSRF check
does not apply (no cookies are used); rate limits count per visitor and per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.identity.models import LoginThrottle
from niaga.inbox import secrets as channel_secrets
from niaga.inbox.channels import webchat
from niaga.inbox.ingest import store_events
from niaga.inbox.webhooks import channel_for_webhook
from niaga.kit.errors import DomainError, Forbidden, TooManyRequests, ValidationFailed
from niaga.kit.messages import Msg, translate
from niaga.privacy.vault import get_vault
from niaga.web.deps import PUBLIC, TransactionalRoute, client_address, db
from niaga.web.errors import problem
from niaga.web.i18n import LOCALES, N_, gettext_for

TOKEN_HEADER = "x-visitor-token"
POLL_SECONDS = 4
# (counter name, allowed events, window)
SESSIONS_PER_ADDRESS = ("wc-sess-ip", 30, timedelta(hours=1))
MESSAGES_PER_VISITOR = ("wc-msg-v", 20, timedelta(minutes=1))
MESSAGES_PER_ADDRESS = ("wc-msg-ip", 120, timedelta(minutes=1))

# What the widget shows, in the visitor's language (the page's lang or data-lang).
WIDGET_STRINGS = {
    "open": N_("Chat with us"),
    "close": N_("Close chat"),
    "title": N_("Chat"),
    "placeholder": N_("Type your message…"),
    "send": N_("Send"),
    "you": N_("You"),
    "empty": N_("Ask us anything. We usually reply within a few minutes."),
    "failed": N_("Your message could not be sent. Try again."),
    "too_many": N_("You are sending messages too quickly. Wait a moment."),
    "too_long": N_("A message has at most 4096 characters."),
    "notice": N_("Your messages are kept by this business to answer you."),
}


class BadRequest(DomainError):
    """The body is not what the widget sends."""

    status = 400
    code = "bad-request"


class WebchatRoute(TransactionalRoute):
    """The request's transaction, then CORS headers on the answer, errors included (rendered here)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except DomainError as exc:  # the transaction was rolled back by the route underneath
                response = _problem(request, exc)
            origin = getattr(request.state, "webchat_origin", None)
            if origin:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "Retry-After"
            response.headers["Vary"] = "Origin"
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return run


def _problem(request: Request, exc: DomainError) -> Response:
    gettext = gettext_for(_language(request))
    errors = None
    if isinstance(exc, ValidationFailed):
        errors = {key: translate(value, gettext) for key, value in exc.errors.items()}
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) and exc.retry_after else None
    return problem(request, exc.status, translate(exc.message, gettext), code=exc.code, errors=errors, headers=headers)


def _language(request: Request) -> str:
    lang = (request.query_params.get("lang") or "").lower()[:2]
    if lang in LOCALES:
        return lang
    from niaga.web.templating import request_locale

    return request_locale(request)


router = APIRouter(prefix="/webchat", route_class=WebchatRoute, include_in_schema=False)


# -- plumbing ------------------------------------------------------------------------------------------
def _channel(request: Request, session: Session, key: str):
    """The active web chat channel of the key, checked against the calling site's origin."""
    channel = channel_for_webhook(session, webchat.KIND, key)
    origin = request.headers.get("origin")
    if origin is not None:
        if not webchat.origin_allowed(channel, origin):
            raise Forbidden(Msg("This site may not use this chat."))
        request.state.webchat_origin = origin
    return channel


async def _json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(Msg("The body must be JSON.")) from None


def _limit_key(session: Session, name: str, value: str) -> str:
    secret = get_vault().platform_secret(session, "throttle")
    return f"{name}:" + hmac.new(secret, f"{name}:{value}".encode(), hashlib.sha256).hexdigest()[:64]


def _count(session: Session, limit: tuple[str, int, timedelta], value: str | None, now: datetime) -> None:
    """Count one event against a windowed limit (the sign-in throttle table); 429 when it is used up."""
    if not value:
        return
    name, allowed, window = limit
    key = _limit_key(session, name, value)
    row = session.get(LoginThrottle, key)
    if row is None:
        try:
            with session.begin_nested():  # two first requests at once: the primary key decides, both count
                row = LoginThrottle(key=key, failures=0, first_failure_at=now)
                session.add(row)
        except IntegrityError:
            row = session.get(LoginThrottle, key, populate_existing=True)
    elif now - row.first_failure_at > window:
        row.failures, row.first_failure_at, row.locked_until = 0, now, None
    if row.failures >= allowed:
        wait = max(1, int((row.first_failure_at + window - now).total_seconds()) + 1)
        raise TooManyRequests(Msg("Too many messages. Wait {seconds} seconds.", seconds=wait), retry_after=wait)
    row.failures += 1
    row.locked_until = row.first_failure_at + window
    session.flush()


# -- routes --------------------------------------------------------------------------------------------
def preflight(key: str, request: Request, session: Session = Depends(db)) -> Response:
    """CORS preflight: allowed for the channel's sites only."""
    _channel(request, session, key)
    if not getattr(request.state, "webchat_origin", None):
        raise Forbidden(Msg("This site may not use this chat."))
    return Response(status_code=204, headers={
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, X-Visitor-Token",
        "Access-Control-Max-Age": "600",
    })


for _endpoint in ("config", "sessions", "messages"):
    router.add_api_route(f"/{{key}}/{_endpoint}", preflight, methods=["OPTIONS"], dependencies=[Depends(PUBLIC)])


@router.get("/{key}/config", dependencies=[Depends(PUBLIC)])
def widget_config(key: str, request: Request, session: Session = Depends(db)) -> Response:
    """The chat's name and the widget's words in the visitor's language (?lang=id|en)."""
    channel = _channel(request, session, key)
    lang = _language(request)
    gettext = gettext_for(lang)
    return JSONResponse({"name": channel.name, "lang": lang, "poll_seconds": POLL_SECONDS,
                         "max_length": webchat.MAX_TEXT,
                         "strings": {name: gettext(text) for name, text in WIDGET_STRINGS.items()}})


def _start_session(session: Session, request: Request, key: str, data: Any) -> dict[str, Any]:
    channel = _channel(request, session, key)
    if not isinstance(data, dict):
        raise BadRequest(Msg("The body must be a JSON object."))
    _count(session, SESSIONS_PER_ADDRESS, client_address(request), utcnow())
    user = webchat.site_user(data["user"]) if data.get("user") is not None else None
    visitor_id = webchat.new_visitor_id()
    if user is not None:
        secrets = channel_secrets.open_secrets(session, channel.tenant_id, channel.id, channel.secrets_sealed)
        webchat.verify_site_user(secrets, user)
        webchat.link_visitor(session, channel, visitor_id, user)
    return {"token": webchat.issue_token(session, channel, visitor_id), "verified": user is not None}


@router.post("/{key}/sessions", dependencies=[Depends(PUBLIC)])
async def start_session(key: str, request: Request, session: Session = Depends(db)) -> Response:
    """A new visitor: a random visitor id in a token for this channel (linked to the site's user when the
    site vouches for them with the identity hash)."""
    data = await _json(request)
    body = await run_in_threadpool(_start_session, session, request, key, data)
    return JSONResponse(body, status_code=201)


def _post_message(session: Session, request: Request, key: str, data: Any) -> dict[str, Any]:
    channel = _channel(request, session, key)
    visitor_id = webchat.visitor_of(session, channel, request.headers.get(TOKEN_HEADER))
    client_id, text = webchat.clean_visitor_message(data)
    now = utcnow()
    _count(session, MESSAGES_PER_VISITOR, f"{channel.id}:{visitor_id}", now)
    _count(session, MESSAGES_PER_ADDRESS, client_address(request), now)
    stored = store_events(session, channel, [webchat.visitor_event(visitor_id, client_id, text)])
    return {"id": client_id, "status": "accepted" if stored.stored else "duplicate"}


@router.post("/{key}/messages", dependencies=[Depends(PUBLIC)])
async def post_message(key: str, request: Request, session: Session = Depends(db)) -> Response:
    """A visitor's message: stored for the inbox (a resend with the same id is a no-op)."""
    data = await _json(request)
    body = await run_in_threadpool(_post_message, session, request, key, data)
    return JSONResponse(body, status_code=202)


@router.get("/{key}/messages", dependencies=[Depends(PUBLIC)])
def read_messages(key: str, request: Request, session: Session = Depends(db)) -> Response:
    """The visitor's conversation after a cursor (?after=...): their own messages and the replies sent."""
    channel = _channel(request, session, key)
    visitor_id = webchat.visitor_of(session, channel, request.headers.get(TOKEN_HEADER))
    after = webchat.parse_cursor(request.query_params.get("after"))
    items, cursor = webchat.conversation_messages(session, channel, visitor_id, after)
    return JSONResponse({"messages": items, "cursor": str(cursor) if cursor is not None else ""})

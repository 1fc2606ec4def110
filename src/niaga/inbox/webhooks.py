"""Provider webhooks: /webhooks/<kind>/<channel key>, one URL per connected channel account.

Verify first, on the raw bytes: a missing or wrong signature is answered 401 and nothing is stored. A
valid delivery is cut into events, each sealed with no lock held, then stored and deduplicated on the
provider's id by the group commit (group_commit.py); the 200 follows the commit — the processing happens
in a job. The channel key in the URL is random and says which channel (and so which secret) to check
against; it is no secret by itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, object_session

from niaga.db.engine import Database
from niaga.inbox import secrets as channel_secrets
from niaga.inbox.adapters import MalformedDelivery, adapter_for
from niaga.inbox.group_commit import group_commit
from niaga.inbox.ingest import event_row, for_this_channel, prepare_events
from niaga.inbox.models import CHANNEL_KINDS, Channel
from niaga.kit.errors import DomainError, NotFound, Unauthorized
from niaga.kit.messages import Msg
from niaga.web.deps import PUBLIC, TransactionalRoute, db

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", route_class=TransactionalRoute, include_in_schema=False)
# Deliveries write through the group commit, not the request's own transaction (see group_commit.py).
receiver = APIRouter(prefix="/webhooks", route_class=APIRoute, include_in_schema=False)


class BadDelivery(DomainError):
    """The body is not a delivery of this provider."""

    status = 400
    code = "malformed-delivery"


_CHANNEL_BY_KEY = select(Channel).where(Channel.webhook_key == bindparam("key"))  # built once: every delivery asks


def channel_for_webhook(session: Session, kind: str, key: str) -> Channel:
    """The active channel a webhook URL names; 404 for anything else (no hint which part was wrong)."""
    channel = None
    if kind in CHANNEL_KINDS and 16 <= len(key) <= 40:
        channel = session.scalar(_CHANNEL_BY_KEY, {"key": key})
    if channel is None or channel.kind != kind or not channel.active:
        raise NotFound(Msg("No such channel."))
    return channel


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@router.post("/ping", dependencies=[Depends(PUBLIC)])
async def ping(request: Request) -> Response:
    """Reachability check for an operator or load balancer: reads the body, touches nothing, answers 200.

    It is also the reference in bench/ingest.py: the same server, the same request path through the
    middleware, minus the webhook's own work.
    """
    await request.body()
    return JSONResponse({"ok": True})


@router.get("/{kind}/{key}", dependencies=[Depends(PUBLIC)])
def verify_subscription(kind: str, key: str, request: Request, session: Session = Depends(db)) -> Response:
    """The provider's subscription handshake (Meta: hub.mode, hub.verify_token, hub.challenge)."""
    channel = channel_for_webhook(session, kind, key)
    handshake = getattr(adapter_for(kind), "handshake", None)
    if handshake is None:
        raise NotFound(Msg("No such channel."))
    return handshake(channel, dict(request.query_params))


# -- deliveries -------------------------------------------------------------------------------------------
# What checking and sealing a delivery needs of its channel is kept for a moment, so that a burst of
# deliveries does not read the channel, open its secrets and ask for the tenant's key version each time. A
# change to a channel in this process forgets it at once; one made by another process shows within this.
RECEIVER_SECONDS = 2.0
_MAX_RECEIVERS = 1024


@dataclass(frozen=True)
class Receiver:
    """One channel's webhook settings as a delivery needs them (a detached channel, never written)."""

    channel: Channel
    secrets: dict[str, Any]
    version_key: tuple[int, bytes]  # the tenant data key that seals raw deliveries
    until: float


_receivers: dict[str, Receiver] = {}


def _receiver(database: Database, kind: str, key: str) -> Receiver:
    kept = _receivers.get(key)
    if kept is not None and kept.until > time.monotonic() and kept.channel.kind == kind:
        return kept
    with database.reading() as session:
        channel = channel_for_webhook(session, kind, key)
        kept = Receiver(channel, channel_secrets.open_secrets(session, channel.tenant_id, channel.id,
                                                              channel.secrets_sealed),
                        channel_secrets.payload_key(session, channel.tenant_id), time.monotonic() + RECEIVER_SECONDS)
    if len(_receivers) >= _MAX_RECEIVERS:
        _receivers.clear()
    _receivers[key] = kept
    return kept


def forget_receivers() -> None:
    """Drop every kept channel setting (a channel changed)."""
    _receivers.clear()


@event.listens_for(Channel, "after_update")
@event.listens_for(Channel, "after_delete")
def _channel_changed(_mapper, _connection, channel: Channel) -> None:  # noqa: ANN001
    forget_receivers()
    session = object_session(channel)
    if session is not None:
        session.info["niaga_channels_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    # Again once committed: a delivery may have read the old row between the flush and the commit.
    if session.info.pop("niaga_channels_changed", False):
        forget_receivers()


def prepare_delivery(database: Database, kind: str, key: str, headers: dict[str, str], body: bytes
                     ) -> tuple[list[dict], int]:
    """Check and split one delivery; its sealed event rows and the count of events for no channel of ours."""
    known = _receiver(database, kind, key)
    channel, adapter = known.channel, adapter_for(kind)
    if not adapter.verify(channel, known.secrets, headers, body):
        log.warning("webhook refused: bad or missing signature", extra={"channel_kind": kind})
        raise Unauthorized(Msg("The signature is missing or wrong."))
    try:
        events = adapter.split(channel, body)
    except MalformedDelivery:
        raise BadDelivery(Msg("This is not a delivery this channel understands.")) from None
    if all(for_this_channel(channel, e.account_ref) for e in events):
        return [event_row(channel, e, known.version_key) for e in events], 0
    with database.reading() as session:  # some are for other accounts behind the same app
        return prepare_events(session, channel, events)


@receiver.post("/{kind}/{key}", dependencies=[Depends(PUBLIC)])
async def receive(kind: str, key: str, request: Request) -> Response:
    """A provider's delivery: checked with no lock held, then stored (group commit) before the 200."""
    body = await request.body()
    rows, unrouted = await run_in_threadpool(prepare_delivery, request.app.state.database, kind, key,
                                             _headers(request), body)
    fresh = await group_commit(request.app.state).store(rows)
    return JSONResponse({"ok": True, "stored": fresh.count(True), "duplicates": fresh.count(False),
                         "unrouted": unrouted})

"""Inbox jobs: process stored webhook events, send queued messages; a sweeper finds lost work again.

Jobs take ids (strings), open their own transactions, and are safe to run twice: processing checks the
event is still pending, sending claims the message first.
"""

from __future__ import annotations

import logging
import uuid

from niaga.inbox import ingest, keywords, outbox  # keywords: registers the STOP opt-out hook
from niaga.inbox.adapters import PermanentFailure, TemporaryFailure
from niaga.worker import database, queue, register_sweeper

log = logging.getLogger(__name__)


@queue.task(retries=6, retry_delay=10)
def process_inbound_job(tenant_id: str, event_id: str) -> None:
    """Turn one stored webhook event into messages (retried on temporary failures)."""
    run_inbound(database(), uuid.UUID(tenant_id), uuid.UUID(event_id))


def run_inbound(db, tenant_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """Process one event in its own transaction; a failure is counted in another, then re-raised."""
    try:
        with db.transaction() as session:
            return ingest.process_event(session, tenant_id, event_id)
    except Exception as exc:  # the event stays pending and is retried; only the kind of error is kept
        reason = exc.reason if isinstance(exc, TemporaryFailure) else type(exc).__name__
        log.warning("inbound event %s not processed yet: %s", event_id, reason)
        with db.transaction() as session:
            ingest.record_failure(session, tenant_id, event_id, reason)
        raise


@queue.task()
def deliver_job(tenant_id: str, message_id: str) -> None:
    """Send one queued message."""
    run_delivery(database(), uuid.UUID(tenant_id), uuid.UUID(message_id))


def run_delivery(db, tenant_id: uuid.UUID, message_id: uuid.UUID) -> str:
    """Claim (commit), send (no transaction open), record the outcome (commit)."""
    with db.transaction() as session:
        attempt = outbox.begin_attempt(session, tenant_id, message_id)
    if attempt is None:
        return "skipped"
    outcome = outbox.send(attempt)
    with db.transaction() as session:
        return outbox.finish_attempt(session, attempt, outcome)


@queue.task(retries=3, retry_delay=30)
def read_receipt_job(tenant_id: str, message_id: str) -> None:
    """Tell the provider staff have read a customer's message (retried on temporary failures)."""
    run_read_receipt(database(), uuid.UUID(tenant_id), uuid.UUID(message_id))


def run_read_receipt(db, tenant_id: uuid.UUID, message_id: uuid.UUID) -> bool:
    """Send one read receipt with no transaction open; False when it cannot be sent (best effort)."""
    return _best_effort(db, lambda session: outbox.read_receipt_target(session, tenant_id, message_id),
                        lambda adapter, channel, secrets, provider_id: adapter.mark_read(channel, secrets, provider_id),
                        "read receipt")


@queue.task(retries=2, retry_delay=5)
def acknowledge_job(tenant_id: str, channel_id: str, provider_message_id: str) -> None:
    """Answer a customer's button press at the provider (retried briefly: the press expires soon)."""
    run_acknowledge(database(), uuid.UUID(tenant_id), uuid.UUID(channel_id), provider_message_id)


def run_acknowledge(db, tenant_id: uuid.UUID, channel_id: uuid.UUID, provider_message_id: str) -> bool:
    """Send one acknowledgement with no transaction open; False when it cannot be sent (best effort)."""
    return _best_effort(db, lambda session: outbox.channel_able_to(session, tenant_id, channel_id, "acknowledge"),
                        lambda adapter, channel, secrets: adapter.acknowledge(channel, secrets, provider_message_id),
                        "button press answer")


def _best_effort(db, find, call, what: str) -> bool:  # noqa: ANN001
    # Look up in a transaction, call the provider with none open. A refusal (a revoked token, an expired
    # button press) is not retried: the customer's app has moved on. Temporary failures raise for the queue.
    with db.transaction() as session:
        found = find(session)
    if found is None:
        return False
    try:
        call(*found)
    except PermanentFailure as exc:
        log.info("%s not sent: %s", what, exc.code or "refused")
        return False
    return True


def schedule_delivery(tenant_id: str, message_id: str, delay: float = 0) -> None:
    """Enqueue a send now or after `delay` seconds."""
    if delay > 0:
        deliver_job.schedule(args=(tenant_id, message_id), delay=delay)
    else:
        deliver_job(tenant_id, message_id)


@register_sweeper
def sweep_inbox(db) -> None:
    """Re-enqueue events and messages whose jobs were lost; fail sends interrupted by a crash."""
    with db.transaction() as session:
        events = ingest.pending_events(session)
        due = outbox.due_messages(session)
        outbox.fail_interrupted(session)
        ingest.purge_failed_payloads(session)
    for tenant_id, event_id in events:
        process_inbound_job(str(tenant_id), str(event_id))
    for tenant_id, message_id in due:
        deliver_job(str(tenant_id), str(message_id))

"""The audit log: append-only, hash-chained per tenant, written in the same transaction as the change.

It records who read, exported, changed, shared or erased personal data, and security-relevant failures.
It never holds personal values: actors and targets are ids, client addresses are keyed hashes, and the
`details` of an event are checked for personal-looking strings before they are written.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from niaga.db.base import Base, utcnow
from niaga.kit.logging import scrub
from niaga.privacy.vault import PLATFORM_SCOPE

GENESIS = "0" * 64


class AuditEvent(Base):
    """One audit record; `hash` chains it to the previous record of the same tenant."""

    __tablename__ = "audit_events"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_type: Mapped[str] = mapped_column(String(20))  # user | token | system | anonymous | subject
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(10), default="ok")  # ok | denied | failed
    target_type: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    subject_id: Mapped[uuid.UUID | None]
    purpose: Mapped[str | None] = mapped_column(String(10))
    client_ref: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_subject", "tenant_id", "subject_id"),
        Index("ix_audit_events_action", "tenant_id", "action"),
    )


class AuditHead(Base):
    """The newest link of each tenant's chain; locked while appending so the chain never forks."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff user, an API token, the system, an anonymous client, or a data subject."""

    type: str
    id: uuid.UUID | None = None
    client_ref: str | None = None

    @classmethod
    def system(cls) -> "Actor":
        """The platform itself (jobs, CLI)."""
        return cls("system")


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "tenant_id": event.tenant_id.hex,
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor_type": event.actor_type,
        "actor_id": event.actor_id.hex if event.actor_id else None,
        "action": event.action,
        "outcome": event.outcome,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "subject_id": event.subject_id.hex if event.subject_id else None,
        "purpose": event.purpose,
        "client_ref": event.client_ref,
        "details": event.details or {},
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def _clean_details(details: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, str):
            if scrub(value) != value:
                raise ValueError(f"audit detail {key!r} looks like personal data; record an id instead")
            clean[key] = value
        elif isinstance(value, (int, float, bool)) or value is None:
            clean[key] = value
        elif isinstance(value, uuid.UUID):
            clean[key] = value.hex
        elif isinstance(value, (list, tuple)):
            clean[key] = [v.hex if isinstance(v, uuid.UUID) else v for v in value]
        else:
            raise TypeError(f"audit detail {key!r} has unsupported type {type(value).__name__}")
    return clean


def record(
    session: Session,
    tenant_id: uuid.UUID | None,
    action: str,
    actor: Actor,
    *,
    outcome: str = "ok",
    target_type: str | None = None,
    target_id: uuid.UUID | str | None = None,
    subject_id: uuid.UUID | None = None,
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the tenant's chain (the platform chain when tenant_id is None)."""
    tenant_id = tenant_id or PLATFORM_SCOPE
    head = session.scalar(select(AuditHead).where(AuditHead.tenant_id == tenant_id).with_for_update())
    if head is None:
        head = AuditHead(tenant_id=tenant_id, seq=0, hash=GENESIS)
        session.add(head)
    event = AuditEvent(
        tenant_id=tenant_id,
        seq=head.seq + 1,
        at=utcnow(),
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        outcome=outcome,
        target_type=target_type,
        target_id=target_id.hex if isinstance(target_id, uuid.UUID) else target_id,
        subject_id=subject_id,
        purpose=purpose,
        client_ref=actor.client_ref,
        details=_clean_details(details or {}),
        prev_hash=head.hash,
    )
    event.hash = _hash(event)
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainBreak:
    """Where a tenant's chain stops verifying, and why."""

    tenant_id: uuid.UUID
    seq: int
    reason: str


def verify(session: Session, tenant_id: uuid.UUID | None = None) -> tuple[int, list[ChainBreak]]:
    """Recompute every chain; returns (events checked, the first break of each broken chain)."""
    query = select(AuditEvent).order_by(AuditEvent.tenant_id, AuditEvent.seq)
    if tenant_id is not None:
        query = query.where(AuditEvent.tenant_id == tenant_id)
    checked = 0
    breaks: list[ChainBreak] = []
    broken: set[uuid.UUID] = set()
    expected: dict[uuid.UUID, tuple[int, str]] = {}
    for event in session.scalars(query).yield_per(1000):
        checked += 1
        if event.tenant_id in broken:
            continue
        seq, prev = expected.get(event.tenant_id, (0, GENESIS))
        reason = None
        if event.seq != seq + 1:
            reason = f"expected event {seq + 1}, found {event.seq} (missing or inserted events)"
        elif event.prev_hash != prev:
            reason = "the link to the previous event does not match"
        elif _hash(event) != event.hash:
            reason = "the event's content was changed after it was written"
        if reason:
            broken.add(event.tenant_id)
            breaks.append(ChainBreak(event.tenant_id, event.seq, reason))
            continue
        expected[event.tenant_id] = (event.seq, event.hash)
    heads = session.scalars(select(AuditHead)) if tenant_id is None else [session.get(AuditHead, tenant_id)]
    for head in heads:
        if head is None or head.tenant_id in broken:
            continue
        if expected.get(head.tenant_id, (0, GENESIS)) != (head.seq, head.hash):
            breaks.append(ChainBreak(head.tenant_id, head.seq, "events at the end of the chain were removed"))
    return checked, breaks


def events_for_subject(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> list[AuditEvent]:
    """The processing trail of one person (UU PDP Pasal 32)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tenant_id == tenant_id, AuditEvent.subject_id == subject_id)
            .order_by(AuditEvent.seq)
        )
    )

"""Tenant A's broadcast for the route matrix (tests/test_route_matrix.py), and the bodies that would change
tenant A's broadcasts if authorization or tenancy failed."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from niaga.inbox import broadcasts, service
from niaga.inbox.broadcast_models import Broadcast, BroadcastRecipient

BROADCAST_NAME = "Siaran Rahasia Sinar"
API_BODIES = {
    ("POST", "/api/v1/broadcasts"): {"channel_id": "00000000-0000-7000-8000-000000000001", "name": "Penyusup",
                                     "body": "Promo penyusup"},
}
PAGE_FORMS = {
    "/inbox/broadcasts": {"channel_id": "00000000-0000-7000-8000-000000000001", "name": "Penyusup",
                          "body": "Promo penyusup"},
}


def records(session: Session, tenant) -> tuple[dict[str, str], list[str]]:
    """A Telegram channel and a draft broadcast of tenant A; (path parameters, texts that must not leak)."""
    owner = tenant.principal()
    channel = service.create_channel(session, owner, kind="telegram", name="Bot Rahasia Sinar",
                                     secrets={"bot_token": "7001234567:AAHfakeTokenForTestsOnly_abcdefghijk"})
    draft = broadcasts.create_broadcast(session, owner, {"channel_id": str(channel.id), "name": BROADCAST_NAME,
                                                         "body": "Isi Promo Rahasia Sinar"})
    session.commit()
    return {"broadcast_id": str(draft.id)}, [BROADCAST_NAME, "Isi Promo Rahasia Sinar", "Bot Rahasia Sinar"]


def fingerprint(session: Session, tenant_id: uuid.UUID) -> tuple:
    """What tenant A's broadcasts look like."""
    rows = [(b.name, b.body, b.status, b.queued_count, b.skipped_count)
            for b in session.scalars(select(Broadcast).where(Broadcast.tenant_id == tenant_id).order_by(Broadcast.id))]
    recipients = session.scalar(select(func.count()).select_from(BroadcastRecipient)
                                .where(BroadcastRecipient.tenant_id == tenant_id))
    return tuple(rows), recipients

"""Fixtures every inbox test may use: files kept under the test's temporary directory, a channel factory,
and a runner for the stored webhook events (what the worker would do after the webhook's commit)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from niaga.inbox import service, tasks
from niaga.inbox.models import Channel, InboundEvent
from niaga.privacy import files


@pytest.fixture(autouse=True)
def _files_under_tmp(monkeypatch, settings) -> None:
    """Attachments are written to the test's own data directory, never to the work tree."""
    monkeypatch.setattr(files, "get_settings", lambda: settings)


@pytest.fixture
def make_channel(session, tenant_a) -> Callable[..., Channel]:
    """make_channel(kind, account_ref=…, secrets=…, config=…, world=tenant) → a committed channel."""

    def make(kind: str, *, account_ref: str = "", secrets: dict[str, Any] | None = None,
             config: dict[str, Any] | None = None, world: Any = None, name: str | None = None) -> Channel:
        owner = (world or tenant_a).principal()
        channel = service.create_channel(session, owner, kind=kind, name=name or f"{kind} test",
                                         account_ref=account_ref, config=config, secrets=secrets)
        session.commit()
        return channel

    return make


@pytest.fixture
def process_pending(database) -> Callable[[uuid.UUID], list[str]]:
    """process_pending(tenant_id) runs every pending event of the tenant as the job would; their statuses."""

    def run(tenant_id: uuid.UUID) -> list[str]:
        with database.transaction() as s:
            ids = list(s.scalars(select(InboundEvent.id).where(InboundEvent.tenant_id == tenant_id,
                                                              InboundEvent.status == "pending")
                                 .order_by(InboundEvent.received_at, InboundEvent.id)))
        return [tasks.run_inbound(database, tenant_id, event_id) for event_id in ids]

    return run

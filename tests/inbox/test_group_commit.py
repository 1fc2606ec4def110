"""Concurrent webhook deliveries on a real, committed database: written together, each answered on its own.

The webhook checks and seals a delivery with no lock held, then hands its events to the process's group
commit (one transaction for whatever queued meanwhile). On SQLite every writer — requests, the worker's
jobs, CLI commands, in any process — queues for one writer turn. These tests use committed databases (not
the rolled-back test transaction) because they need real concurrency.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import func, select, update

from niaga.app import create_app
from niaga.db.base import new_id
from niaga.inbox import service, webhooks
from niaga.inbox.group_commit import GroupCommit, StoreUnavailable
from niaga.inbox.models import Channel, InboundEvent
from tests.conftest import make_settings, make_tenant
from tests.support.fake_meta import APP_SECRET, encode, sign, wa_delivery, wa_message

PHONE_ID = "106540352242922"


@pytest.fixture
def world(fresh_db, tmp_path, passwords):
    """A business with a WhatsApp channel, committed in a fresh database; (settings, tenant id, channel)."""
    settings = make_settings(tmp_path)
    with fresh_db.database.transaction() as session:
        tenant = make_tenant(session, settings, passwords, "Toko Serba Ada", "dewi@serbaada.example")
        channel = service.create_channel(session, tenant.principal(), kind="whatsapp", name="WA Toko",
                                         account_ref=PHONE_ID, secrets={"app_secret": APP_SECRET,
                                                                        "access_token": "token-uji"})
    return settings, tenant.id, channel


def _events(database, tenant_id) -> list[str]:
    with database.reading() as session:
        return list(session.scalars(select(InboundEvent.provider_event_id)
                                    .where(InboundEvent.tenant_id == tenant_id)))


def test_a_burst_of_concurrent_deliveries_is_stored_once_each_and_every_request_hears_its_own_outcome(
        fresh_db, world):
    settings, tenant_id, channel = world
    app = create_app(settings, fresh_db.database)
    url = f"/webhooks/whatsapp/{channel.webhook_key}"
    bodies = [encode(wa_delivery(PHONE_ID, messages=[wa_message(f"62812000{n:05d}", "text", {"body": f"Halo {n}"},
                                                                wamid=f"wamid.BURST{n:04d}")]))
              for n in range(40)]
    sends = bodies + bodies[:5]  # five redelivered while the burst is still being written

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await asyncio.gather(*(client.post(url, content=body, headers=sign(body)) for body in sends))

    answers = asyncio.run(burst())

    assert [a.status_code for a in answers] == [200] * len(sends)
    assert sum(a.json()["stored"] for a in answers) == 40
    assert sum(a.json()["duplicates"] for a in answers) == 5
    assert sorted(_events(fresh_db.database, tenant_id)) == [f"wamid.BURST{n:04d}" for n in range(40)]


def test_a_forged_delivery_in_a_burst_is_refused_alone_and_nothing_of_it_is_stored(fresh_db, world):
    settings, tenant_id, channel = world
    app = create_app(settings, fresh_db.database)
    url = f"/webhooks/whatsapp/{channel.webhook_key}"
    good = [encode(wa_delivery(PHONE_ID, messages=[wa_message("6281211112222", "text", {"body": "Pesan"},
                                                              wamid=f"wamid.GOOD{n}")])) for n in range(6)]
    forged = encode(wa_delivery(PHONE_ID, messages=[wa_message("6281211112222", "text", {"body": "Palsu"},
                                                               wamid="wamid.FORGED")]))

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            requests = [client.post(url, content=body, headers=sign(body)) for body in good]
            requests.insert(3, client.post(url, content=forged, headers=sign(forged, "bukan-rahasianya")))
            return await asyncio.gather(*requests)

    answers = asyncio.run(burst())

    assert [a.status_code for a in answers] == [200, 200, 200, 401, 200, 200, 200]
    assert sorted(_events(fresh_db.database, tenant_id)) == [f"wamid.GOOD{n}" for n in range(6)]


def test_when_one_request_of_a_batch_cannot_be_stored_only_that_request_fails(fresh_db, world):
    _settings, tenant_id, channel = world
    writer = GroupCommit(fresh_db.database, None)

    def row(provider_id: str, channel_id=channel.id) -> dict:  # noqa: ANN001
        return {"tenant_id": tenant_id, "id": new_id(), "channel_id": channel_id, "provider_event_id": provider_id,
                "payload_sealed": b"\x01sealed"}

    async def batch() -> list:
        # Queued together, so written as one batch first; the channel of the second does not exist.
        return await asyncio.gather(writer.store([row("wamid.A1"), row("wamid.A2")]),
                                    writer.store([row("wamid.BAD", channel_id=new_id())]),
                                    writer.store([row("wamid.C1"), row("wamid.A1")]),
                                    return_exceptions=True)

    first, bad, third = asyncio.run(batch())

    assert first == [True, True]
    assert isinstance(bad, StoreUnavailable) and bad.status == 503
    assert third == [True, False]  # its copy of A1 came after the first request's
    assert sorted(_events(fresh_db.database, tenant_id)) == ["wamid.A1", "wamid.A2", "wamid.C1"]


def test_a_channel_switched_off_by_another_process_refuses_deliveries_once_the_short_window_has_passed(
        fresh_db, world, monkeypatch):
    settings, _tenant_id, channel = world
    app = create_app(settings, fresh_db.database)
    url = f"/webhooks/whatsapp/{channel.webhook_key}"
    body = encode(wa_delivery(PHONE_ID, messages=[wa_message("6281233334444", "text", {"body": "Halo"})]))
    clock = [1000.0]
    monkeypatch.setattr(webhooks.time, "monotonic", lambda: clock[0])

    async def deliver() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await client.post(url, content=body, headers=sign(body))).status_code

    assert asyncio.run(deliver()) == 200
    with fresh_db.database.engine.begin() as other_process:  # no ORM events: as another server process would
        other_process.execute(update(Channel).where(Channel.id == channel.id).values(active=False))
    assert asyncio.run(deliver()) == 200  # still within the window the settings are kept for
    clock[0] += webhooks.RECEIVER_SECONDS + 0.1
    assert asyncio.run(deliver()) == 404


# -- the writer turn (SQLite) -----------------------------------------------------------------------------
def _other_process_holding_the_turn(lock_path) -> subprocess.Popen:  # noqa: ANN001
    """A child process that takes the writer turn (as a worker would) and keeps it until its stdin closes."""
    code = ("import fcntl, os, sys\n"
            f"fd = os.open({str(lock_path)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_writer_waits_for_another_process_holding_the_turn_and_goes_on_when_it_lets_go(fresh_db, world):
    if fresh_db.engine_name != "sqlite":
        assert fresh_db.database.acquire_writer_turn() is None  # PostgreSQL has row locks and MVCC: no turn
        return
    _settings, tenant_id, channel = world
    child = _other_process_holding_the_turn(fresh_db.database._writer_lock)
    written = threading.Event()

    def write() -> None:
        with fresh_db.database.transaction() as session:
            session.add(InboundEvent(tenant_id=tenant_id, id=new_id(), channel_id=channel.id,
                                     provider_event_id="wamid.WAITED", payload_sealed=b"x"))
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not written.wait(0.5)  # the other process still has the turn
    finally:
        child.stdin.close()
        child.wait(10)
    writer.join(10)
    assert written.is_set()
    assert _events(fresh_db.database, tenant_id) == ["wamid.WAITED"]


def test_work_nested_in_a_transaction_does_not_wait_for_the_turn_its_caller_holds(fresh_db, world):
    _settings, tenant_id, channel = world
    finished = threading.Event()

    def nested() -> None:
        with fresh_db.database.writer_turn():
            with fresh_db.database.transaction() as session:  # e.g. a job run inline after the commit
                session.scalar(select(func.count()).select_from(InboundEvent))
        finished.set()

    thread = threading.Thread(target=nested, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(10)
    assert finished.is_set(), "deadlocked on its own writer turn"
    assert time.monotonic() - started < 5

"""Group commit for webhook deliveries: the events of concurrent requests written in one transaction.

A provider sends deliveries in bursts over many connections. Each request checks its signature and seals
its events with no lock held (webhooks.py); the write is then handed to this process's one writer, which
stores whatever has queued up meanwhile in a single transaction and answers each request with its own
outcome. On SQLite, where the worker and every request take turns on one write lock, a burst then costs one
lock and one commit per batch instead of per request; on PostgreSQL it saves the commits.

Nothing is half-written: a batch commits as a whole or not at all, and a request is answered only after the
commit that holds its events, so a 200 always means stored. When a batch fails, its requests are written
again one by one, so that one bad delivery costs only its own request a 503 (the provider sends it again).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool

from niaga.db.engine import Database
from niaga.inbox.ingest import insert_new_events
from niaga.kit.errors import DomainError
from niaga.kit.messages import Msg

log = logging.getLogger(__name__)


class StoreUnavailable(DomainError):
    """The events could not be stored just now; the provider is told to deliver again later."""

    status = 503
    code = "try-again"


class GroupCommit:
    """This process's writer of inbound events; `store` from any request, one transaction per batch."""

    def __init__(self, database: Database, gate: asyncio.Semaphore | None) -> None:
        self._database = database
        self._gate = gate
        self._waiting: list[tuple[list[dict], asyncio.Future]] = []
        self._draining: asyncio.Task | None = None

    async def store(self, rows: list[dict]) -> list[bool]:
        """Store the rows (with those of other requests); per row, True if new and False if seen before."""
        if not rows:
            return []
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((rows, future))
        # A writer left behind by an event loop that has gone (a test client's) never drains again.
        if self._draining is None or self._draining.done() or self._draining.get_loop() is not loop:
            self._draining = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    outcomes = await self._locked_write(batch)
                except Exception as exc:  # noqa: BLE001 - one request's bad rows must not fail the others
                    if len(batch) == 1:
                        self._fail(batch, exc)
                        continue
                    outcomes = []
                    for item in batch:  # alone, each stands or falls by itself
                        try:
                            outcomes.extend(await self._locked_write([item]))
                        except Exception as exc:  # noqa: BLE001 - answered 503; the provider delivers it again
                            self._fail([item], exc)
                            outcomes.append(None)
                for (_rows, future), outcome in zip(batch, outcomes):
                    if outcome is not None and not future.done():
                        future.set_result(outcome)
        finally:
            self._draining = None

    async def _locked_write(self, batch: list[tuple[list[dict], asyncio.Future]]) -> list[list[bool]]:
        if self._gate is None:
            return await run_in_threadpool(self._write, batch)
        async with self._gate:
            return await run_in_threadpool(self._write, batch)

    @staticmethod
    def _fail(batch: list[tuple[list[dict], asyncio.Future]], exc: Exception) -> None:
        log.warning("inbound delivery not stored: %s", type(exc).__name__)  # the kind only: rows hold personal data
        for _rows, future in batch:
            if not future.done():
                future.set_exception(StoreUnavailable(Msg("Not stored just now; deliver this again shortly.")))

    def _write(self, batch: list[tuple[list[dict], Any]]) -> list[list[bool]]:
        with self._database.transaction() as session:
            fresh = iter(insert_new_events(session, [row for rows, _future in batch for row in rows]))
        return [[next(fresh) for _row in rows] for rows, _future in batch]


def group_commit(app_state: Any) -> GroupCommit:
    """The app's writer of inbound events (made on first use, one per process)."""
    writer = getattr(app_state, "inbound_group_commit", None)
    if writer is None:
        writer = GroupCommit(app_state.database, app_state.write_gate)
        app_state.inbound_group_commit = writer
    return writer

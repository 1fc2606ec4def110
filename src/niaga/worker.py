"""Background jobs: one huey queue (a SQLite file by default, Redis at scale), run by `niaga worker`.

Rules (DESIGN.md): a job takes ids, never objects, and is enqueued only after the transaction that
created its work has committed — `enqueue_after_commit` holds it on the session until then, and drops
it on rollback. Work that was committed but whose enqueue was lost (a crash between commit and enqueue)
is found again by the sweepers that domains register; they run periodically in the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from sqlalchemy import event
from sqlalchemy.orm import Session

from niaga.config import Settings, SettingsError, get_settings

_PENDING = "niaga_jobs_after_commit"


def make_queue(settings: Settings) -> Huey:
    """The queue described by the settings."""
    if settings.queue == "redis":
        if not settings.redis_url:
            raise SettingsError("NIAGA_QUEUE=redis needs NIAGA_REDIS_URL")
        return RedisHuey("niaga", url=settings.redis_url)
    if settings.queue in ("immediate", "memory"):
        return MemoryHuey("niaga", immediate=settings.queue == "immediate")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # No fsync per enqueue: the database is the source of truth and the sweepers re-enqueue any committed
    # work whose job a crash lost, so the queue file need not survive a power cut (an fsync per webhook
    # delivery cost more than storing the delivery itself).
    return SqliteHuey("niaga", filename=str(settings.data_dir / "queue.db"), fsync=False)


queue: Huey = make_queue(get_settings())

# Periodic sweepers: fn(database) that re-enqueue committed work nobody picked up.
SWEEPERS: list[Callable[[Any], None]] = []


def enqueue_after_commit(session: Session, task: Callable[..., Any], *ids: Any) -> None:
    """Enqueue `task(*ids)` once the session's transaction commits (never before, never on rollback)."""
    if not session.in_transaction():
        session.begin()  # so that a rollback, even one that reaches no database, drops the job
    session.info.setdefault(_PENDING, []).append((task, ids))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    for task, ids in session.info.pop(_PENDING, []):
        task(*ids)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    # Fires for every rollback() of the whole unit of work, even when nothing reached the database.
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


# Modules that define jobs: the worker imports them so that huey knows every task it may dequeue.
TASK_MODULES: list[str] = ["niaga.inbox.tasks", "niaga.inbox.mailbox", "niaga.privacy.requests.tasks"]


def load_task_modules() -> None:
    """Import every module that defines jobs (the worker process must know all tasks by name)."""
    import importlib

    for name in TASK_MODULES:
        importlib.import_module(name)


def register_sweeper(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    """Add a periodic sweeper (decorator)."""
    SWEEPERS.append(fn)
    return fn


_database = None


def database() -> Any:
    """The worker process's Database (created on first use)."""
    global _database
    if _database is None:
        from niaga.app import bootstrap

        _database = bootstrap(get_settings())
    return _database


@queue.periodic_task(crontab(minute="*"))
def run_sweepers() -> None:
    """Every minute: let each domain re-enqueue work that was committed but never picked up."""
    for sweeper in SWEEPERS:
        sweeper(database())

"""Jobs are enqueued only after the transaction that created their work commits, and never on rollback."""

from __future__ import annotations

import threading
import time

from huey import SqliteHuey
from huey.consumer import Consumer

from niaga.worker import enqueue_after_commit


def test_job_waits_for_commit_and_is_dropped_on_rollback(database, tmp_path):
    queue = SqliteHuey("test", filename=str(tmp_path / "q.db"))
    done: list[str] = []

    @queue.task()
    def remember(value: str) -> None:
        done.append(value)

    session = database.session()
    enqueue_after_commit(session, remember, "rolled-back")
    session.rollback()
    enqueue_after_commit(session, remember, "committed")
    assert len(queue) == 0  # nothing runs before the commit
    session.commit()
    assert len(queue) == 1

    consumer = Consumer(queue, workers=1, periodic=False, initial_delay=0.05, max_delay=0.1)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not done and time.time() < deadline:
        time.sleep(0.05)
    consumer.stop(graceful=True)
    assert done == ["committed"]

"""Jobs are enqueued only after the transaction that created their work commits, and never on rollback."""

from __future__ import annotations

from huey import SqliteHuey

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

    # What a worker does: take the job from the queue's storage and run it.
    queue.execute(queue.dequeue())
    assert done == ["committed"] and len(queue) == 0

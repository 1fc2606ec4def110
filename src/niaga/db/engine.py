"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextvars
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted key material must not linger in free pages (crypto-shredding).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(conn) -> None:  # noqa: ANN001
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    conn.exec_driver_sql("BEGIN" if options.get("readonly") else "BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine with niaga's per-dialect defaults."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Readers never wait for the writer (WAL), so concurrent requests each hold a connection: keep
        # enough pooled that a burst does not open and close connections (and their pragmas) per request.
        kwargs.setdefault("pool_size", 16)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLAlchemy owns BEGIN (so SAVEPOINTs work on pysqlite). IMMEDIATE takes the write lock up
        # front: SQLite allows one writer, and a deferred transaction that read first and writes later
        # fails at once with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
        # Connections opened with execution_options(readonly=True) begin deferred: they never write.
        event.listen(engine, "begin", _sqlite_begin)

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


# Set while this task (and the threads it hands work to) holds the writer turn, so that work nested in a
# transaction — a job run inline after its commit — does not wait for a turn its caller already has.
_HOLDING_TURN: contextvars.ContextVar[bool] = contextvars.ContextVar("niaga_holding_writer_turn", default=False)


def _writer_lock_path(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database).with_name(Path(engine.url.database).name + "-writer.lock")


class Database:
    """Owns the engine and hands out sessions; the request, job or CLI command owns the commit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._writer_lock = _writer_lock_path(engine)

    def acquire_writer_turn(self) -> int | None:
        """Block until this process may write (SQLite); a handle for `release_writer_turn`, None if not needed.

        SQLite allows one writer, and a writer that finds the database locked sleeps and polls: between
        two back-to-back transactions of a busy worker it seldom gets in, and web requests starve. An
        exclusive flock on a file beside the database makes the writers of every process (server, worker,
        CLI) queue instead; the kernel wakes a waiter as soon as the holder lets go. PostgreSQL: no-op.
        """
        if self._writer_lock is None or _HOLDING_TURN.get():
            return None
        handle = os.open(self._writer_lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            os.close(handle)
            raise
        return handle

    @staticmethod
    def release_writer_turn(handle: int | None) -> None:
        """Let the next writer in (closing the file releases its lock)."""
        if handle is not None:
            os.close(handle)

    @contextmanager
    def writer_turn(self) -> Iterator[None]:
        """Hold this database's writer turn for the block (see `acquire_writer_turn`)."""
        handle = self.acquire_writer_turn()
        try:
            with self.turn_held():
                yield
        finally:
            self.release_writer_turn(handle)

    @staticmethod
    @contextmanager
    def turn_held() -> Iterator[None]:
        """Mark the writer turn as held by this task and the threads it hands work to (taken elsewhere)."""
        token = _HOLDING_TURN.set(True)
        try:
            yield
        finally:
            _HOLDING_TURN.reset(token)

    @classmethod
    def from_url(cls, url: str) -> "Database":
        """Build a Database for a SQLAlchemy URL."""
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; the caller commits or rolls back."""
        return self._factory()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on error (holding the writer turn on SQLite)."""
        with self.writer_turn():
            session = self.session()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it begins deferred, so it neither takes nor waits for the write lock."""
        with self.engine.connect().execution_options(readonly=True) as connection:
            session = Session(bind=connection, expire_on_commit=False)
            try:
                yield session
            finally:
                session.close()
                connection.rollback()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()

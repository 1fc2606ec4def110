"""Alembic environment: runs against the engine handed in by niaga (or the configured database)."""

from __future__ import annotations

from alembic import context

from niaga.db.registry import metadata

config = context.config


def _engine():  # noqa: ANN202
    engine = config.attributes.get("engine")
    if engine is None:
        from niaga.config import get_settings
        from niaga.db.engine import make_engine

        engine = make_engine(get_settings().effective_database_url)
    return engine


def run_migrations_online() -> None:
    """Run migrations inside one transaction on the given engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with _engine().connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

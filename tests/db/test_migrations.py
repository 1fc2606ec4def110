"""The schema comes only from migrations: they apply from empty, and the models do not drift from them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from niaga.db import migrate
from niaga.db.engine import Database, make_engine
from niaga.db.registry import metadata


def test_models_match_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_upgrade_from_empty_reaches_head(engine):
    assert migrate.is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_every_tenant_table_keys_on_tenant(engine):
    """DESIGN rule 2: (tenant_id, id) primary keys and tenant-inclusive foreign keys."""
    insp = inspect(engine)
    for name, table in metadata.tables.items():
        if "tenant_id" not in table.c or name in ("tenants",):
            continue
        pk = insp.get_pk_constraint(name)["constrained_columns"]
        assert pk[0] == "tenant_id", f"{name}: primary key must start with tenant_id, got {pk}"
        for fk in insp.get_foreign_keys(name):
            if fk["referred_table"] == "tenants":
                continue
            referred = metadata.tables[fk["referred_table"]]
            if "tenant_id" in referred.c:
                assert "tenant_id" in fk["constrained_columns"], f"{name} -> {fk['referred_table']} lacks tenant_id"


def test_healthz_reports_current_and_pending(tmp_path, client):
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.json()["migrations"] == "current" and ok.json()["database"] == "reachable"
    from niaga.app import create_app
    from tests.conftest import make_settings

    empty = Database(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    with TestClient(create_app(make_settings(tmp_path), empty)) as fresh:
        resp = fresh.get("/healthz")
    assert resp.status_code == 503 and resp.json()["migrations"] == "pending"

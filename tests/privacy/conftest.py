"""Fixtures for the privacy kernel: committed databases on disk, vault swapping, Indonesian people."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import psycopg

from niaga.config import Settings
from niaga.db import migrate
from niaga.db.engine import Database
from niaga.identity import staff
from niaga.identity.models import User
from niaga.identity.passwords import Passwords
from niaga.identity.permissions import Role
from tests.conftest import ENGINES, PASSWORD, make_tenant
from tests.support.pg import PostgresServer


@pytest.fixture
def keep_vault() -> Iterator[None]:
    """Tests that configure their own vault or call bootstrap (which also re-points logging at the
    captured stderr) put the suite's vault and logging back afterwards."""
    from niaga.privacy import vault as vault_module

    saved = vault_module._vault
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    vault_module._vault = saved
    root.handlers[:] = handlers
    root.setLevel(level)


@dataclass
class FreshDatabase:
    """A migrated database whose commits are real (for raw-storage, backup and CLI tests)."""

    engine_name: str
    url: str
    database: Database
    sqlite_path: Path | None = None
    pg: PostgresServer | None = None
    pg_name: str | None = None


@pytest.fixture(params=ENGINES)
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FreshDatabase]:
    """A new database of each engine, migrated, dropped at the end."""
    if request.param == "sqlite":
        path = tmp_path / "fresh" / "niaga.db"
        url = f"sqlite:///{path}"
        fresh = FreshDatabase("sqlite", url, Database.from_url(url), sqlite_path=path)
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        name = f"niaga_fresh_{uuid.uuid4().hex[:12]}"
        url = server.create_database(name)
        fresh = FreshDatabase("postgresql", url, Database.from_url(url), pg=server, pg_name=name)
    migrate.upgrade(fresh.database.engine)
    yield fresh
    fresh.database.dispose()
    if fresh.pg is not None:
        with psycopg.connect(f"host=127.0.0.1 port={fresh.pg.port} user=niaga dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh.pg_name}" WITH (FORCE)')


@dataclass
class Staffed:
    """A tenant with named Indonesian staff, for erasure and storage tests."""

    tenant_id: uuid.UUID
    owner: User
    people: dict[str, User] = field(default_factory=dict)


STAFF = [
    ("Siti Nurhaliza", "siti.nurhaliza@kopinusantara.example", "0812-3456-7801", Role.ADMIN),
    ("Bambang Pamungkas", "bambang.p@kopinusantara.example", "+62 813 2222 3344", Role.AGENT),
    ("Wahyu Hidayat", "Wahyu.Hidayat@KopiNusantara.example", "0857 1111 2233", Role.CASHIER),
]


def staffed_tenant(session, settings: Settings, passwords: Passwords) -> Staffed:  # noqa: ANN001
    """Sign up 'Kopi Nusantara' and add three staff members through invitations (not committed)."""
    world = make_tenant(session, settings, passwords, "Kopi Nusantara", "ayu.lestari@kopinusantara.example",
                        owner_name="Ayu Lestari", phone="0811-2345-6789")
    result = Staffed(world.id, world.owner)
    for name, email, phone, role in STAFF:
        token, _ = staff.invite(session, world.principal(), email, role.value, settings)
        user = staff.accept_invitation(
            session, token,
            staff.AcceptForm(full_name=name, position="Staf", phone=phone, birth_date="1992-03-04",
                             password=PASSWORD, accept_terms=True),
            settings, passwords, None,
        )
        result.people[name] = user
    session.flush()
    return result

"""Fixtures: every database test runs on SQLite and on a real PostgreSQL, each in a rolled-back transaction.

Migrations are applied once per test database, so the schema under test is the migrated one.
Set NIAGA_TEST_ENGINES=sqlite (or postgresql) to run one engine only while developing.
"""

from __future__ import annotations

import base64
import os

# Jobs enqueued by the code under test stay in this process's memory; tests run them explicitly.
os.environ.setdefault("NIAGA_QUEUE", "memory")
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.db import migrate
from niaga.db.engine import Database, make_engine
from niaga.identity import auth, staff
from niaga.identity.accounts import SignUpForm, sign_up
from niaga.identity.models import Tenant, User
from niaga.identity.passwords import Passwords
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.privacy.audit import Actor
from niaga.privacy.keys import LocalKeyProvider
from niaga.privacy.vault import configure_vault
from tests.support.pg import PostgresServer

ENGINES = [e for e in os.environ.get("NIAGA_TEST_ENGINES", "sqlite,postgresql").split(",") if e]
TEST_MASTER_KEY = base64.b64encode(b"niaga-test-master-key-32-bytes!!").decode()
PASSWORD = "kopi-susu-gula-aren-2026"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for tests: fast argon2, a temporary data dir, the test master key."""
    values = {
        "data_dir": tmp_path,
        "master_key": TEST_MASTER_KEY,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "log_json": True,
        "base_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
def _vault() -> None:
    configure_vault(LocalKeyProvider({1: base64.b64decode(TEST_MASTER_KEY)}))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of each engine, shared by the session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "niaga-test.db"
        eng = make_engine(f"sqlite:///{path}")
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        eng = make_engine(server.create_database("niaga_test"))
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


class BoundDatabase(Database):
    """A Database whose sessions all join one outer transaction that the test rolls back."""

    def __init__(self, engine: Engine, connection: Connection) -> None:
        super().__init__(engine)
        self.connection = connection
        # One connection serves every session, so there is no other writer to take turns with.
        self._writer_lock = None

    def session(self) -> Session:
        return Session(bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self.session()
        try:
            yield session
        finally:
            session.close()


@pytest.fixture
def database(engine: Engine) -> Iterator[BoundDatabase]:
    connection = engine.connect()
    outer = connection.begin()
    yield BoundDatabase(engine, connection)
    outer.rollback()
    connection.close()


@pytest.fixture
def session(database: BoundDatabase) -> Iterator[Session]:
    s = database.session()
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def passwords(settings: Settings) -> Passwords:
    return Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)


@pytest.fixture
def app(settings: Settings, database: BoundDatabase):  # noqa: ANN201
    from niaga.app import create_app

    return create_app(settings, database)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


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


# -- factories --------------------------------------------------------------------------------------
@dataclass
class TenantWorld:
    """A tenant with its owner and helpers to add staff."""

    tenant: Tenant
    owner: User
    settings: Settings
    passwords: Passwords

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id

    def principal(self, user: User | None = None) -> Principal:
        user = user or self.owner
        role = Role(user.role)
        return Principal(tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=role,
                         permissions=ROLE_PERMISSIONS[role], via="session")

    def add_staff(self, session: Session, role: Role, email: str | None = None, name: str = "Staf Contoh") -> User:
        email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@{self.tenant.slug}.example"
        token, _ = staff.invite(session, self.principal(), email, role.value, self.settings)
        return staff.accept_invitation(
            session, token,
            staff.AcceptForm(full_name=name, position="", phone="081234567890", birth_date="1990-01-01",
                             password=PASSWORD, accept_terms=True),
            self.settings, self.passwords, None,
        )


def make_tenant(session: Session, settings: Settings, passwords: Passwords, name: str, email: str,
                owner_name: str = "Rina Kusuma", phone: str = "081298765432") -> TenantWorld:
    """Sign up a business the way a user would."""
    owner = sign_up(
        session,
        SignUpForm(full_name=owner_name, company_name=name, position="Pemilik", email=email, phone=phone,
                   birth_date="1988-06-15", password=PASSWORD, accept_terms=True),
        settings, passwords, Actor.system(),
    )
    session.flush()
    return TenantWorld(session.get(Tenant, owner.tenant_id), owner, settings, passwords)


@pytest.fixture
def tenant_a(session: Session, settings: Settings, passwords: Passwords) -> TenantWorld:
    world = make_tenant(session, settings, passwords, "Toko Sinar Abadi", "rina@sinarabadi.example")
    session.commit()
    return world


@pytest.fixture
def tenant_b(session: Session, settings: Settings, passwords: Passwords) -> TenantWorld:
    world = make_tenant(session, settings, passwords, "Warung Bu Tini", "tini@warungtini.example",
                        owner_name="Sutini Wulandari", phone="081377788899")
    session.commit()
    return world


def api_token(session: Session, user: User) -> str:
    """A full-scope API token for a user (committed so the app's sessions see it)."""
    secret, _ = auth.create_token(session, user, "test", [], Actor.system())
    session.commit()
    return secret


def bearer(token: str) -> dict[str, str]:
    """Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def csrf_pair(session: Session) -> tuple[str, str]:
    """A CSRF cookie value and the matching form token."""
    from niaga.web.deps import csrf_token_for

    cookie = "test-csrf-cookie-value"
    return cookie, csrf_token_for(session, cookie)


def browser_login(client: TestClient, session: Session, user: User, settings: Settings) -> str:
    """Give a TestClient a signed-in session cookie and a CSRF cookie; returns the form token."""
    from niaga.web.deps import CSRF_COOKIE, SESSION_COOKIE

    token, _ = auth.start_session(session, user, settings, user_agent="pytest", client="127.0.0.1", client_ref=None)
    cookie, form_token = csrf_pair(session)
    session.commit()
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(CSRF_COOKIE, cookie)
    return form_token

"""Fixtures for the privacy kernel: vault swapping, Indonesian people (committed databases: tests/conftest.py)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from niaga.config import Settings
from niaga.identity import staff
from niaga.identity.models import User
from niaga.identity.passwords import Passwords
from niaga.identity.permissions import Role
from tests.conftest import PASSWORD, make_tenant


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

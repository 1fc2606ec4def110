"""Fixtures for data-subject request tests: the app's mail goes to a real local SMTP server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from niaga.config import Settings
from niaga.crm.contacts import service as contacts
from niaga.crm.models import Contact
from tests.conftest import csrf_pair, make_settings
from tests.support.smtp import LocalSmtp, smtp_factory, smtp_server  # noqa: F401

CUSTOMER_EMAIL = "dewi.lestari@pelanggan.example"
CUSTOMER_PHONE = "081233344455"
STRANGER_EMAIL = "tidak.ada@pelanggan.example"


@pytest.fixture
def settings(tmp_path: Path, smtp_server: LocalSmtp) -> Settings:  # noqa: F811
    """Test settings whose outgoing mail goes to the local SMTP server."""
    return make_settings(tmp_path, smtp_host=smtp_server.config.host, smtp_port=smtp_server.config.port,
                         smtp_security="none", mail_from="niaga <no-reply@niaga.example>")


def add_contact(session: Session, tenant, name: str = "Dewi Lestari", email: str | None = CUSTOMER_EMAIL,  # noqa: ANN001
                phone: str | None = CUSTOMER_PHONE) -> Contact:
    """A customer made through the contacts service, committed."""
    data: dict = {"full_name": name}
    if email:
        data["emails"] = [email]
    if phone:
        data["phones"] = [phone]
    contact = contacts.create_contact(session, tenant.principal(), data)
    session.commit()
    return contact


@pytest.fixture
def customer(session: Session, tenant_a) -> Contact:  # noqa: ANN001
    return add_contact(session, tenant_a)


def code_in(message: EmailMessage) -> str:
    """The 6-digit code of a code email."""
    found = re.search(r"\b(\d{6})\b", message.get_content())
    assert found, "no code in the message"
    return found.group(1)


@dataclass
class Visitor:
    """A person using the public privacy center through HTTP, with a CSRF cookie like a browser has."""

    client: TestClient
    csrf: str
    slug: str

    def submit(self, address: str, kind: str = "access", details: str = "", **extra: str):  # noqa: ANN201
        data = {"kind": kind, "address": address, "details": details, "csrf_token": self.csrf, **extra}
        return self.client.post(f"/privacy-center/{self.slug}", data=data, follow_redirects=False)

    def status_path(self, response) -> str:  # noqa: ANN001
        assert response.status_code == 303, response.text[:500]
        return response.headers["location"]

    def verify(self, path: str, code: str):  # noqa: ANN201
        return self.client.post(f"{path}/verify", data={"code": code, "csrf_token": self.csrf},
                                follow_redirects=False)

    def resend(self, path: str):  # noqa: ANN201
        return self.client.post(f"{path}/resend", data={"csrf_token": self.csrf}, follow_redirects=False)


def visitor_for(app, session: Session, slug: str, **headers: str) -> Visitor:  # noqa: ANN001
    from niaga.web.deps import CSRF_COOKIE

    client = TestClient(app, raise_server_exceptions=False)
    cookie, token = csrf_pair(session)
    client.cookies.set(CSRF_COOKIE, cookie)
    client.headers.update(headers)
    return Visitor(client, token, slug)


@pytest.fixture
def visitor(app, session: Session, tenant_a) -> Visitor:  # noqa: ANN001
    return visitor_for(app, session, tenant_a.tenant.slug)

"""A real local SMTP server for tests (aiosmtpd on 127.0.0.1, a free port), collecting what it receives.

    from tests.support.smtp import smtp_server, smtp_factory  # noqa: F401  (in a conftest.py)

    def test_x(smtp_server):
        send_email(smtp_server.config, message)
        assert smtp_server.messages[0]["To"] == "..."

`smtp_factory(auth=("user", "pw"), security="starttls")` starts a server that demands sign-in and/or TLS;
`refuse=("a@b.c",)` makes it refuse those recipients with 550. The certificate is self-signed for
127.0.0.1 and `config.tls_context` trusts exactly it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from niaga.kit.mail import SmtpServer

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate and key for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class Received:
    """What the server accepted: envelope recipients and the parsed message."""

    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    refuse: tuple[str, ...] = ()
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted"


@dataclass
class LocalSmtp:
    """A running server; `config` is how niaga.kit.mail reaches it."""

    config: SmtpServer
    handler: _Handler

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.handler.received]

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope went to this address."""
        return [r.message for r in self.handler.received if address.lower() in (a.lower() for a in r.recipients)]


def _authenticator(username: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == username and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


@pytest.fixture
def smtp_factory(tmp_path: Path) -> Iterator[Callable[..., LocalSmtp]]:
    """Start local SMTP servers on demand; all are stopped after the test."""
    controllers: list[Controller] = []

    def start(
        *, security: str = "none", auth: tuple[str, str] | None = None, refuse: tuple[str, ...] = ()
    ) -> LocalSmtp:
        handler = _Handler(refuse=tuple(a.lower() for a in refuse))
        port = free_port()
        kwargs: dict = {}
        client_context = None
        if security in ("starttls", "tls"):
            cert, key = self_signed(tmp_path)
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_context.load_cert_chain(cert, key)
            client_context = ssl.create_default_context(cafile=str(cert))
            if security == "starttls":
                kwargs.update(tls_context=server_context, require_starttls=True)
            else:
                kwargs.update(ssl_context=server_context)
        if auth:
            # aiosmtpd only knows about TLS it negotiated itself (STARTTLS); implicit TLS is TLS all the same.
            kwargs.update(authenticator=_authenticator(*auth), auth_required=True,
                          auth_require_tls=security == "starttls")
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without STARTTLS; under implicit TLS that warning does not apply.
            warnings.simplefilter("ignore", UserWarning)
            controller = Controller(handler, hostname=HOST, port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        config = SmtpServer(
            host=HOST, port=port, security=security,  # type: ignore[arg-type]
            username=auth[0] if auth else "", password=auth[1] if auth else "",
            timeout=5.0, tls_context=client_context,
        )
        return LocalSmtp(config=config, handler=handler)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server(smtp_factory: Callable[..., LocalSmtp]) -> LocalSmtp:
    """A plain local SMTP server (no TLS, no AUTH) that keeps every message it receives."""
    return smtp_factory()

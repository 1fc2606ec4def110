"""Outbound email over SMTP with the standard library.

`platform_smtp(settings)` describes the platform's own mail server from `NIAGA_SMTP_*`. When no
`NIAGA_SMTP_HOST` is configured, mail is not sent anywhere: each message is written as an `.eml` file to
`DATA_DIR/outbox/`, so `make run` works offline and a developer can open the codes and notices there.

SMTP failures surface as `MailError` (a `DomainError`, HTTP 502) with a sentence a person can read;
addresses and message bodies are never put in errors or logs.
"""

from __future__ import annotations

import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

import structlog

from niaga.config import Settings
from niaga.kit.errors import DomainError
from niaga.kit.messages import Msg

log = structlog.get_logger(__name__)

Security = Literal["starttls", "tls", "none"]


class MailError(DomainError):
    """The message could not be handed to the mail server."""

    status = 502
    code = "mail-failed"


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand over outgoing mail; `host` empty means 'write to the outbox directory'."""

    host: str
    port: int = 587
    security: Security = "starttls"
    username: str = ""
    password: str = ""
    timeout: float = 20.0
    outbox_dir: Path | None = None
    # Tests pass a context trusting their self-signed certificate; None means the system's trust store.
    tls_context: ssl.SSLContext | None = None
    # The name given in EHLO; empty: the sender's domain (smtplib's default asks DNS, which can take seconds).
    helo_name: str = ""

    def __repr__(self) -> str:  # the password must not reach a log through repr()
        return f"SmtpServer(host={self.host!r}, port={self.port}, security={self.security!r})"


def platform_smtp(settings: Settings) -> SmtpServer:
    """The platform's outgoing mail server from NIAGA_SMTP_*; no host: the local outbox directory."""
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,  # type: ignore[arg-type]
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout_seconds,
        outbox_dir=settings.data_dir / "outbox",
    )


def compose(*, sender: str, to: str, subject: str, text: str, reply_to: str | None = None) -> EmailMessage:
    """A plain-text message with Date and Message-ID set (policy: email.policy.default)."""
    message = EmailMessage(policy=default_policy)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2].strip("> ") or "niaga.local"
    message["Message-ID"] = make_msgid(domain=domain)
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(text)
    return message


def send_email(server: SmtpServer, message: EmailMessage) -> None:
    """Hand one message to the server (or write it to the outbox); raises MailError on any failure."""
    if not server.host:
        _write_outbox(server, message)
        return
    try:
        _send_smtp(server, message)
    except smtplib.SMTPAuthenticationError:
        log.warning("mail.failed", reason="authentication", host=server.host)
        raise MailError(Msg("The mail server refused our sign-in; the message was not sent.")) from None
    except smtplib.SMTPRecipientsRefused:
        log.warning("mail.failed", reason="recipient-refused", host=server.host)
        raise MailError(Msg("The mail server refused the recipient; the message was not sent.")) from None
    except (TimeoutError, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        # Only the exception class is logged: SMTP replies can echo addresses back.
        log.warning("mail.failed", reason=type(exc).__name__, host=server.host)
        raise MailError(Msg("The mail server could not be reached or refused the message; it was not sent.")) from None


def _send_smtp(server: SmtpServer, message: EmailMessage) -> None:
    """One SMTP session: connect, secure, sign in when configured, send, quit."""
    context = server.tls_context or ssl.create_default_context()
    helo = server.helo_name or _sender_domain(message)
    if server.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, local_hostname=helo,
                                                timeout=server.timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, local_hostname=helo, timeout=server.timeout)
    with client:
        client.ehlo()
        if server.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if server.username:
            try:
                client.login(server.username, server.password)
            except smtplib.SMTPServerDisconnected:
                # Some servers hang up after refusing every mechanism instead of answering 535.
                raise smtplib.SMTPAuthenticationError(535, b"disconnected during sign-in") from None
        client.send_message(message)


def _sender_domain(message: EmailMessage) -> str:
    """The domain of the From address ('niaga.local' when there is none)."""
    sender = str(message.get("From", ""))
    domain = sender.rpartition("@")[2].strip(" >")
    return domain if domain and all(part.isalnum() or "-" in part for part in domain.split(".")) else "niaga.local"


def _write_outbox(server: SmtpServer, message: EmailMessage) -> None:
    """Offline mode: the message as an .eml file, named by time and a random suffix."""
    directory = server.outbox_dir or Path("var") / "outbox"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        path.write_bytes(message.as_bytes())
        path.chmod(0o600)
    except OSError as exc:
        log.warning("mail.failed", reason=type(exc).__name__, outbox=True)
        raise MailError(Msg("The message could not be written to the local outbox.")) from None
    log.info("mail.outbox", file=path.name)

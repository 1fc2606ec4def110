"""Reading email channels' mailboxes: IMAP polling every minute, each new mail stored as an inbound event.

The poll asks the server for UIDs above the last one seen (kept with the folder's UIDVALIDITY in the channel's
config), fetches each mail without marking it read (BODY.PEEK), and stores it with `ingest.store_events`, which
deduplicates on the Message-ID: when the server renumbers the folder (a new UIDVALIDITY) the folder is read
again from the start and nothing is stored twice. Mails are stored in batches, each batch in its own
transaction together with the new last UID, so a crash re-reads at most one batch. Processing then happens in
the inbox's usual job (contacts, threads, attachments).

A failure (server unreachable, sign-in refused, missing folder) is recorded on the channel (`last_error`, a
sentence for the settings page, and `last_error_code`) and logged without addresses; the worker carries on,
and the next minute's poll tries again. A successful poll clears the error.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.db.base import utcnow
from niaga.inbox import ingest
from niaga.inbox import secrets as channel_secrets
from niaga.inbox.adapters import DeliveryEvent
from niaga.inbox.channels.email import credentials, message_id_of, port_of, security_of
from niaga.inbox.models import Channel
from niaga.web.i18n import N_
from niaga.worker import database, queue, register_sweeper

log = logging.getLogger(__name__)

BATCH = 50  # mails per transaction
MAX_PER_POLL = 500  # the rest waits for the next minute's poll
MAX_MAIL_BYTES = 25_000_000  # a larger mail is stored as its headers and a note; it stays in the mailbox
TIMEOUT_SECONDS = 30

ERRORS = {
    "not-configured": N_("The channel has no IMAP server, username or password set."),
    "unreachable": N_("The IMAP server could not be reached; it is tried again every minute."),
    "tls": N_("A secure connection to the IMAP server could not be made: check the security setting and the "
              "server's certificate."),
    "sign-in": N_("The IMAP server refused the sign-in: check the username and password."),
    "folder": N_("The mail folder was not found on the IMAP server."),
    "protocol": N_("The IMAP server gave an answer that could not be understood; it is tried again every minute."),
}
# Stored as the message text (not translated when shown), so in both languages of the inbox.
OVERSIZED_NOTE = ("Surel ini lebih besar dari {mb} MB sehingga tidak diunduh ke kotak masuk; bacalah di kotak "
                  "surel aslinya. / This mail is larger than {mb} MB and was not downloaded into the inbox; "
                  "read it in the mailbox itself.")


class MailboxError(Exception):
    """Reading the mailbox failed; `code` is a key of ERRORS."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class PollResult:
    """What one poll of one mailbox did."""

    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    error: str | None = None
    more: bool = False  # mails were left for the next poll


# -- IMAP -----------------------------------------------------------------------------------------------
def _quoted(folder: str) -> str:
    if not folder.isascii() or any(c in folder for c in "\r\n"):
        raise MailboxError("folder")
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextmanager
def imap_session(config: Mapping[str, Any], secrets: Mapping[str, Any]) -> Iterator[imaplib.IMAP4]:
    """A signed-in IMAP connection from a channel's settings; failures become MailboxError."""
    host = str(config.get("imap_host") or "").strip()
    username, password = credentials(config, secrets, "imap")
    if not host or not username or not password:
        raise MailboxError("not-configured")
    security, port = security_of(config, "imap"), port_of(config, "imap")
    context = ssl.create_default_context()
    client: imaplib.IMAP4 | None = None
    try:
        try:
            if security == "ssl":
                client = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT_SECONDS)
            else:
                client = imaplib.IMAP4(host, port, timeout=TIMEOUT_SECONDS)
                if security == "starttls":
                    client.starttls(ssl_context=context)
        except ssl.SSLError:
            raise MailboxError("tls") from None
        except imaplib.IMAP4.abort:
            raise MailboxError("unreachable") from None
        except imaplib.IMAP4.error:  # e.g. STARTTLS not offered
            raise MailboxError("tls") from None
        except OSError:
            raise MailboxError("unreachable") from None
        try:
            client.login(username, password)
        except imaplib.IMAP4.abort:
            raise MailboxError("unreachable") from None
        except imaplib.IMAP4.error:
            raise MailboxError("sign-in") from None
        yield client
    except MailboxError:
        raise
    except imaplib.IMAP4.abort:
        raise MailboxError("unreachable") from None
    except imaplib.IMAP4.error:
        raise MailboxError("protocol") from None
    except ssl.SSLError:
        raise MailboxError("tls") from None
    except OSError:
        raise MailboxError("unreachable") from None
    finally:
        if client is not None:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass


def select_folder(client: imaplib.IMAP4, folder: str) -> int:
    """Open the folder read-only; its UIDVALIDITY."""
    status, _ = client.select(_quoted(folder or "INBOX"), readonly=True)
    if status != "OK":
        raise MailboxError("folder")
    _, values = client.response("UIDVALIDITY")
    try:
        return int(values[0])
    except (TypeError, ValueError, IndexError):
        raise MailboxError("protocol") from None


def uids_after(client: imaplib.IMAP4, last_uid: int) -> list[int]:
    """UIDs in the selected folder above `last_uid`, ascending ('n:*' always names the highest UID too)."""
    status, data = client.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    if status != "OK":
        raise MailboxError("protocol")
    found = sorted({int(x) for x in b" ".join(d for d in data if d).split() if x.isdigit()})
    return [uid for uid in found if uid > last_uid]


_SIZE = re.compile(rb"UID (\d+)[^)]*RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+)[^)]*UID (\d+)")


def sizes_of(client: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    """Each mail's size in bytes, to leave oversized mails on the server."""
    status, data = client.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
    sizes: dict[int, int] = {}
    for line in data if status == "OK" else []:
        text = line[0] if isinstance(line, tuple) else line
        match = _SIZE.search(text or b"")
        if match:
            uid, size = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
            sizes[int(uid)] = int(size)
    return sizes


def fetch_mail(client: imaplib.IMAP4, uid: int, size: int) -> bytes | None:
    """The raw mail (not marked as read); an oversized one as its headers and a note; None if it vanished."""
    oversized = size > MAX_MAIL_BYTES
    status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])" if oversized else "(BODY.PEEK[])")
    if status != "OK":
        raise MailboxError("protocol")
    raw = next((part[1] for part in data if isinstance(part, tuple) and len(part) > 1), None)
    if raw is None:
        return None  # expunged between SEARCH and FETCH
    return _headers_with_note(raw) if oversized else raw


def _headers_with_note(header_bytes: bytes) -> bytes:
    """An oversized mail's headers over a plain-text note (its Message-ID, so its id, is kept)."""
    mail = BytesParser(policy=policy.compat32).parsebytes(header_bytes, headersonly=True)
    for name in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
        del mail[name]
    mail["Content-Type"] = "text/plain; charset=utf-8"
    mail.set_payload(OVERSIZED_NOTE.format(mb=max(1, MAX_MAIL_BYTES // 1_000_000)), "utf-8")
    return mail.as_bytes()


# -- polling -------------------------------------------------------------------------------------------
def _update_config(session: Session, tenant_id: uuid.UUID, channel_id: uuid.UUID, **changes: Any) -> None:
    channel = session.get(Channel, (tenant_id, channel_id))
    if channel is not None:
        config = dict(channel.config or {})
        config.update(changes)
        channel.config = config  # a new dict: JSON columns notice replacement, not mutation


def _record_error(db: Any, tenant_id: uuid.UUID, channel_id: uuid.UUID, code: str) -> None:
    log.warning("email poll of channel %s failed: %s", channel_id, code)
    with db.transaction() as session:
        _update_config(session, tenant_id, channel_id, last_error=ERRORS[code], last_error_code=code,
                       last_error_at=utcnow().isoformat())


def poll_channel(db: Any, tenant_id: uuid.UUID, channel_id: uuid.UUID, *, limit: int = MAX_PER_POLL) -> PollResult:
    """Read one email channel's new mails into stored events; errors are recorded on the channel, not raised."""
    with db.transaction() as session:
        channel = session.get(Channel, (tenant_id, channel_id))
        if channel is None or channel.kind != "email" or not channel.active:
            return PollResult(error="inactive")
        config = dict(channel.config or {})
        secrets = channel_secrets.open_secrets(session, tenant_id, channel_id, channel.secrets_sealed)
    result = PollResult()
    try:
        with imap_session(config, secrets) as client:
            uidvalidity = select_folder(client, str(config.get("imap_folder") or "INBOX"))
            last_uid = int(config.get("imap_last_uid") or 0) if config.get("imap_uidvalidity") == uidvalidity else 0
            uids = uids_after(client, last_uid)
            result.more = len(uids) > limit
            uids = uids[:limit]
            for start in range(0, len(uids), BATCH):
                chunk = uids[start:start + BATCH]
                sizes = sizes_of(client, chunk)
                events = []
                for uid in chunk:
                    raw = fetch_mail(client, uid, sizes.get(uid, 0))
                    if raw is not None:
                        events.append(DeliveryEvent(event_id=message_id_of(raw), payload=raw))
                result.fetched += len(events)
                with db.transaction() as session:
                    channel = session.get(Channel, (tenant_id, channel_id))
                    if channel is None or not channel.active:  # removed or switched off meanwhile
                        return result
                    stored = ingest.store_events(session, channel, events)
                    result.stored += len(stored.stored)
                    result.duplicates += stored.duplicates
                    _update_config(session, tenant_id, channel_id, imap_uidvalidity=uidvalidity,
                                   imap_last_uid=chunk[-1])
            with db.transaction() as session:
                _update_config(session, tenant_id, channel_id, imap_uidvalidity=uidvalidity,
                               imap_last_uid=uids[-1] if uids else last_uid, last_polled_at=utcnow().isoformat(),
                               last_error="", last_error_code="")
    except MailboxError as exc:
        _record_error(db, tenant_id, channel_id, exc.code)
        result.error = exc.code
    return result


def email_channels(session: Session) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, channel) of every active email channel."""
    return list(session.execute(select(Channel.tenant_id, Channel.id).where(
        Channel.kind == "email", Channel.active.is_(True))).tuples())


@queue.task()
def poll_mailbox_job(tenant_id: str, channel_id: str) -> None:
    """Poll one mailbox, unless another worker is polling it right now."""
    from huey.exceptions import TaskLockedException

    try:
        with queue.lock_task(f"inbox-email-poll-{channel_id}"):
            poll_channel(database(), uuid.UUID(tenant_id), uuid.UUID(channel_id))
    except TaskLockedException:
        pass


@register_sweeper
def sweep_mailboxes(db: Any) -> None:
    """Every minute (with the worker's sweepers): a poll job for each active email channel."""
    with db.transaction() as session:
        channels = email_channels(session)
    for tenant_id, channel_id in channels:
        poll_mailbox_job(str(tenant_id), str(channel_id))


def poll_all(db: Any) -> list[tuple[uuid.UUID, PollResult]]:
    """Poll every active email channel now, one after another (`niaga inbox poll-email`)."""
    with db.transaction() as session:
        channels = email_channels(session)
    return [(channel_id, poll_channel(db, tenant_id, channel_id)) for tenant_id, channel_id in channels]

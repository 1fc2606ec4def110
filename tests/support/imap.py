"""A real Dovecot IMAP server for tests, started from the OS package `dovecot-imapd` as an unprivileged process.

    from tests.support.imap import dovecot, imap_mailbox  # noqa: F401  (in a test module or conftest.py)

    def test_x(imap_mailbox):
        imap_mailbox.append(b"From: ...\\r\\n\\r\\nbody")
        imap_mailbox.config  # IMAP settings of an email channel reading this mailbox

One server per test session (per xdist worker): its own configuration file, a passwd-file with one test user,
the maildir, sockets and log under a temporary directory, listening on 127.0.0.1 on a free port with plain
sign-in allowed (loopback only, no TLS). Each test gets a fresh folder of that user as its mailbox. When the
tests run as root, Dovecot runs as the `dovecot` system user the package creates (it never needs root here).
"""

from __future__ import annotations

import ctypes
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

HOST = "127.0.0.1"
USERNAME = "toko@mail.test"
PASSWORD = "sandi-kotak-surat-uji"

CONFIG = """\
protocols = imap
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
first_valid_gid = 1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def dovecot_binary() -> str:
    """Path of the dovecot master binary (the package puts it in /usr/sbin, often not on PATH)."""
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if not found:
        raise RuntimeError("Dovecot not found: install the 'dovecot-imapd' OS package (scripts/ensure-os-packages)")
    return found


class DovecotServer:
    """`dovecot -F` in a temporary directory; stop() ends the process and removes everything."""

    def __init__(self) -> None:
        self.binary = dovecot_binary()
        self.root = Path(tempfile.mkdtemp(prefix="niaga-imap-"))
        self.port = _free_port()
        entry = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.uid, self.gid, self.user = entry.pw_uid, entry.pw_gid, entry.pw_name
        self.process: subprocess.Popen | None = None

    def start(self) -> DovecotServer:
        """Write the configuration and user file, start the server, wait until it accepts connections."""
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        group = _group_name(self.gid)
        (self.root / "dovecot.conf").write_text(
            CONFIG.format(host=HOST, root=self.root, user=self.user, group=group, port=self.port))
        (self.root / "passwd").write_text(
            f"{USERNAME}:{{PLAIN}}{PASSWORD}:{self.uid}:{self.gid}::{self.root}/mail/{USERNAME}::\n")
        for path in (self.root, *self.root.rglob("*")):
            os.chown(path, self.uid, self.gid)
        as_user = {"user": self.uid, "group": self.gid, "extra_groups": []} if os.geteuid() == 0 else {}
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_parent_death_signal(), **as_user)  # noqa: PLW1509 - one C call, no Python locks
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot did not start: {self.process.stderr.read().decode()[:500]}"
                                   f"{self.log()[-500:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("Dovecot did not start listening within 30 s")

    def log(self) -> str:
        """The server's log (sign-ins, errors) for failing tests to show."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4:
        """A signed-in IMAP connection as the test user."""
        client = imaplib.IMAP4(HOST, self.port, timeout=10)
        client.login(USERNAME, PASSWORD)
        return client

    def stop(self) -> None:
        """Stop the server (SIGTERM to the master, which ends its children) and delete its files."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            if self.process is not None and self.process.stderr is not None:
                self.process.stderr.close()
            shutil.rmtree(self.root, ignore_errors=True)


def _parent_death_signal() -> Callable[[], None] | None:
    """A function for the child (before exec) asking Linux to SIGTERM it when the test process dies, so a
    worker killed without teardown leaves no server behind; None where prctl is not available."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved in the parent: the child only calls it
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


@dataclass
class Mailbox:
    """One fresh folder of the test user: what an email channel's IMAP settings point at."""

    server: DovecotServer
    folder: str

    @property
    def config(self) -> dict:
        """An email channel's non-secret IMAP settings for this mailbox."""
        return {"imap_host": HOST, "imap_port": self.server.port, "imap_security": "none", "imap_folder": self.folder}

    @property
    def secrets(self) -> dict:
        """The IMAP sign-in of this mailbox, as channel secrets."""
        return {"imap_username": USERNAME, "imap_password": PASSWORD}

    def append(self, mail: bytes | EmailMessage) -> None:
        """Deliver one mail into the folder (IMAP APPEND, as a mail server's delivery would)."""
        raw = mail.as_bytes() if isinstance(mail, EmailMessage) else mail
        client = self.server.client()
        try:
            status, detail = client.append(self.folder, None, None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND failed: {detail!r}")
        finally:
            client.logout()

    def uidvalidity(self) -> int:
        """The folder's current UIDVALIDITY."""
        client = self.server.client()
        try:
            client.select(self.folder, readonly=True)
            return int(client.response("UIDVALIDITY")[1][0])
        finally:
            client.logout()

    def recreate(self) -> None:
        """Delete and create the folder again with the same mails (a new UIDVALIDITY, UIDs from 1 again)."""
        client = self.server.client()
        try:
            client.select(self.folder, readonly=True)
            _, data = client.uid("SEARCH", None, "ALL")
            raws = []
            for uid in data[0].split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raws.append(parts[0][1])
            client.close()
            client.delete(self.folder)
            client.create(self.folder)
            for raw in raws:
                client.append(self.folder, None, None, raw)
        finally:
            client.logout()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot server for the whole test session."""
    server = DovecotServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_mailbox(dovecot: DovecotServer) -> Iterator[Mailbox]:
    """A fresh, empty folder for one test; removed afterwards."""
    folder = f"t{uuid.uuid4().hex[:12]}"
    client = dovecot.client()
    try:
        status, detail = client.create(folder)
        if status != "OK":
            raise RuntimeError(f"CREATE failed: {detail!r}")
    finally:
        client.logout()
    yield Mailbox(dovecot, folder)
    client = dovecot.client()
    try:
        client.delete(folder)
    finally:
        client.logout()

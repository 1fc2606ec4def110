"""niaga.kit.mail against a real local SMTP server: plain, STARTTLS, implicit TLS, AUTH, and refusals."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from niaga.kit.mail import MailError, SmtpServer, compose, platform_smtp, send_email
from tests.conftest import make_settings
from tests.support.smtp import free_port

ADDRESS = "siti.rahayu@contoh.co.id"


def _message(to: str = ADDRESS):
    return compose(sender="Toko Maju <no-reply@tokomaju.id>", to=to, subject="Kode verifikasi", text="Kode: 123456")


def test_plain_delivery(smtp_server) -> None:
    send_email(smtp_server.config, _message())
    [got] = smtp_server.to(ADDRESS)
    assert got["Subject"] == "Kode verifikasi"
    assert "123456" in got.get_content()
    assert got["Message-ID"] and got["Date"]


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_auth(smtp_factory, security: str) -> None:
    server = smtp_factory(security=security, auth=("toko", "rahasia-smtp"))
    send_email(server.config, _message())
    assert len(server.to(ADDRESS)) == 1


def test_wrong_password_is_a_clear_error_without_addresses(smtp_factory, caplog) -> None:
    server = smtp_factory(security="starttls", auth=("toko", "rahasia-smtp"))
    wrong = dataclasses.replace(server.config, password="salah")
    with caplog.at_level(logging.DEBUG, logger="niaga"), pytest.raises(MailError) as caught:
        send_email(wrong, _message())
    ours = "\n".join(str(r.__dict__) for r in caplog.records if r.name.startswith("niaga"))
    assert caught.value.status == 502
    assert "sign-in" in caught.value.message
    assert ADDRESS not in caught.value.message and ADDRESS not in ours
    assert "salah" not in repr(wrong)
    assert server.messages == []


def test_refused_recipient(smtp_factory) -> None:
    server = smtp_factory(refuse=(ADDRESS,))
    with pytest.raises(MailError) as caught:
        send_email(server.config, _message())
    assert "recipient" in caught.value.message and ADDRESS not in caught.value.message


def test_unreachable_server() -> None:
    server = SmtpServer(host="127.0.0.1", port=free_port(), security="none", timeout=2)
    with pytest.raises(MailError) as caught:
        send_email(server, _message())
    assert "could not be reached" in caught.value.message


def test_tls_against_untrusted_certificate_fails_cleanly(smtp_factory) -> None:
    server = smtp_factory(security="starttls")
    untrusted = dataclasses.replace(server.config, tls_context=None)
    with pytest.raises(MailError):
        send_email(untrusted, _message())
    assert server.messages == []


def test_no_host_writes_the_outbox(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    config = platform_smtp(settings)
    assert config.host == "" and config.outbox_dir == tmp_path / "outbox"
    send_email(config, _message())
    [written] = list((tmp_path / "outbox").glob("*.eml"))
    assert b"Kode verifikasi" in written.read_bytes()


def test_settings_reject_unknown_security(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_settings(tmp_path, smtp_security="ssl")

"""The public download link: the zip for a valid link, a clear 404/410 page in the visitor's language for
anything else, every attempt audited, the token never logged."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from niaga.db.base import utcnow
from niaga.kit.logging import configure_logging
from niaga.privacy.audit import Actor, AuditEvent, verify
from niaga.privacy.erasure import erase_subject
from niaga.privacy.rights import PackageDownload, download_path, prepare_access_package
from niaga.privacy.vault import PLATFORM_SCOPE
from niaga.web.deps import LANG_COOKIE


def _link(session, customer, settings, **kw):
    args = {"actor": customer.world.principal(), "language": "id", "portable": False, "request_id": None,
            "settings": settings}
    args.update(kw)
    row, token = prepare_access_package(session, customer.world.id, customer.subject_id, **args)
    session.commit()
    return row, token, download_path(customer.world.tenant.slug, token)


def _downloads(session, tenant_id, outcome: str | None = None) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                     AuditEvent.action == "privacy.access_package_downloaded")
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    return list(session.scalars(query.order_by(AuditEvent.seq)))


def test_a_valid_link_downloads_the_zip_uncached_and_counts_every_download(client, session, customer, settings):
    row, _token, path = _link(session, customer, settings)
    first = client.get(path)
    assert first.status_code == 200 and first.headers["content-type"] == "application/zip"
    assert first.content.startswith(b"PK\x03\x04")
    assert first.headers["content-disposition"].startswith('attachment; filename="data-saya-')
    assert first.headers["cache-control"] == "no-store" and first.headers["referrer-policy"] == "no-referrer"
    assert client.get(path).content == first.content
    session.expire_all()
    assert session.get(PackageDownload, (customer.world.id, row.id)).download_count == 2
    events = _downloads(session, customer.world.id, "ok")
    assert len(events) == 2 and events[0].actor_type == "subject" and events[0].subject_id == customer.subject_id
    assert verify(session, customer.world.id)[1] == []


@pytest.mark.parametrize("case", ["unknown-token", "other-tenant-slug", "unknown-slug", "oversized-token"])
def test_unknown_links_get_a_404_page_and_are_audited(client, session, customer, tenant_b, settings, case):
    _row, token, path = _link(session, customer, settings)
    path = {
        "unknown-token": download_path(customer.world.tenant.slug, "x" * 43),
        "other-tenant-slug": download_path(tenant_b.tenant.slug, token),  # a real token under another business
        "unknown-slug": download_path("toko-yang-tidak-ada", token),
        "oversized-token": download_path(customer.world.tenant.slug, "a" * 5000),
    }[case]
    resp = client.get(path)
    assert resp.status_code == 404 and resp.headers["cache-control"] == "no-store"
    assert 'data-reason="unknown"' in resp.text and "Kami tidak mengenali tautan ini" in resp.text
    assert "PK\x03\x04" not in resp.text
    audited_in = {"other-tenant-slug": tenant_b.id, "unknown-slug": PLATFORM_SCOPE}.get(case, customer.world.id)
    [event] = _downloads(session, audited_in, "denied")
    assert event.details == {"reason": "unknown"} and event.subject_id is None  # nothing about whose link it was
    assert _downloads(session, customer.world.id, "ok") == []


def test_an_expired_link_gets_a_410_page_in_english_when_asked(client, session, customer, settings):
    row, _token, path = _link(session, customer, settings)
    stored = session.get(PackageDownload, (customer.world.id, row.id))
    stored.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    client.cookies.set(LANG_COOKIE, "en")
    resp = client.get(path)
    assert resp.status_code == 410 and 'data-reason="expired"' in resp.text
    assert "The link has expired" in resp.text
    [event] = _downloads(session, customer.world.id, "denied")
    assert event.details == {"reason": "expired"} and event.subject_id == customer.subject_id


def test_a_link_used_after_erasure_gets_a_410_page(client, session, customer, settings):
    _row, _token, path = _link(session, customer, settings)
    assert client.get(path).status_code == 200
    erase_subject(session, customer.world.id, customer.subject_id, Actor.system(), "subject-request")
    session.commit()
    resp = client.get(path)
    assert resp.status_code == 410 and "Data Anda telah dihapus" in resp.text
    assert [e.details.get("reason") for e in _downloads(session, customer.world.id)] == [None, "erased"]


def test_a_package_whose_blob_is_gone_reads_as_no_longer_available(client, session, customer, settings, store):
    row, _token, path = _link(session, customer, settings)
    store.path(customer.world.id, row.file_id).unlink()
    resp = client.get(path)
    assert resp.status_code == 410 and 'data-reason="unavailable"' in resp.text


def test_the_token_never_reaches_the_logs(client, session, customer, settings, caplog, capsys, keep_vault):
    _row, token, path = _link(session, customer, settings)
    configure_logging("DEBUG", json_output=True)
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    caplog.set_level(logging.WARNING, logger="httpx")  # the test client's own request lines: the visitor's side
    assert client.get(path).status_code == 200
    wrong = token[:-1] + ("B" if token.endswith("A") else "A")  # one character off (never the token itself)
    assert client.get(download_path(customer.world.tenant.slug, wrong)).status_code == 404
    captured = capsys.readouterr()
    logs = caplog.text + captured.out + captured.err
    assert "/privacy-center/{tenant_slug}/download/{token}" in logs  # the request was logged, by its template
    assert token not in logs and token[:-1] not in logs


def test_only_get_is_served(client, session, customer, settings):
    _row, _token, path = _link(session, customer, settings)
    assert client.post(path).status_code in (403, 405)
    assert _downloads(session, customer.world.id) == []


def test_an_unknown_request_id_is_fine_and_the_language_is_remembered(client, session, customer, settings):
    row, _token, path = _link(session, customer, settings, language="en", request_id=uuid.uuid4())
    resp = client.get(path)
    assert resp.status_code == 200 and resp.headers["content-disposition"].startswith('attachment; filename="my-data-')


def test_expired_packages_are_purged_and_their_links_then_read_as_expired(client, session, customer, settings, store):
    from niaga.privacy.rights import purge_expired_packages

    row, _token, path = _link(session, customer, settings)
    _live, _t, live_path = _link(session, customer, settings)
    assert purge_expired_packages(session, store=store) == 0
    assert purge_expired_packages(session, store=store, now=utcnow() + timedelta(hours=settings.access_link_hours,
                                                                                 minutes=1)) == 2
    session.commit()
    assert not store.path(customer.world.id, row.file_id).exists()
    session.get(PackageDownload, (customer.world.id, _live.id)).expires_at = utcnow() + timedelta(hours=1)
    session.commit()
    assert client.get(path).status_code == 410  # expired, and its zip is gone
    assert 'data-reason="unavailable"' in client.get(live_path).text  # a link whose zip was purged early

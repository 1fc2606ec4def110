"""A person's access package: JSON, CSV and an HTML report in their language, their files, sealed under
their key, behind a link whose token is stored only as a hash."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from niaga.db.base import new_id
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.privacy import files
from niaga.privacy.audit import Actor, AuditEvent, verify
from niaga.privacy.erasure import erase_subject
from niaga.privacy.fields import (
    REGISTRY,
    Category,
    Purpose,
    Retention,
    SubjectOwned,
    personal,
)
from niaga.privacy.rights import (
    PackageDownload,
    download_path,
    open_download,
    prepare_access_package,
)
from niaga.privacy.rights.package import ACCESS_PACKAGE_KIND
from tests.privacy.rights.conftest import (
    DEAL_TITLE,
    EMAIL,
    FILE_BYTES,
    FILE_NAME,
    NAME,
    NOTE,
    PHONE_E164,
    STREET,
    TICKET_TITLE,
    make_customer,
)

REQUEST = uuid.UUID("01a20000-0000-7000-8000-00000000abcd")


def _prepare(session, customer, settings, **kw):
    args = {"actor": customer.world.principal(), "language": "id", "portable": False, "request_id": REQUEST,
            "settings": settings}
    args.update(kw)
    return prepare_access_package(session, customer.world.id, customer.subject_id, **args)


def _download(session, customer, token, store):
    outcome = open_download(session, customer.world.tenant.slug, token, store=store)
    assert outcome.status == 200, outcome
    return zipfile.ZipFile(io.BytesIO(outcome.data))


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))


def test_the_package_holds_every_domain_in_json_csv_and_html_with_the_files(session, customer, settings, store):
    row, token = _prepare(session, customer, settings)
    archive = _download(session, customer, token, store)
    names = archive.namelist()
    assert names[0] == "report.html" and "package.json" in names  # the readable report first for an access copy
    package = json.loads(archive.read("package.json"))
    assert package["schema_version"] == 1 and package["language"] == "id" and package["portable"] is False
    assert package["controller"]["name"] == "Toko Sinar Abadi"
    records = package["records"]
    assert records["contacts"][0]["full_name"] == NAME and records["contact_emails"][0]["email"] == EMAIL
    assert records["contact_phones"][0]["phone"] == PHONE_E164
    assert records["contact_addresses"][0]["address"]["street"] == STREET
    assert {d["title"] for d in records["deals"]} == {DEAL_TITLE, "Langganan bulanan " + NAME}
    assert records["tickets"][0]["title"] == TICKET_TITLE and records["activities"][0]["body"] == NOTE
    assert {c["purpose"] for c in package["consents"]} == {"marketing.whatsapp", "marketing.email"}
    actions = {e["action"] for e in package["processing_trail"]}
    assert {"crm.contact_created", "ticket.created", "consent.granted", "file.stored"} <= actions
    # The person's file, decrypted, under files/; earlier packages are never packed into later ones.
    [listed] = package["files"]
    assert listed["filename"] == FILE_NAME and listed["status"] == "included"
    assert archive.read(listed["path"]) == FILE_BYTES
    # One CSV per kind of record; values a spreadsheet would run as formulas are quoted.
    assert _csv(archive, "csv/contacts.csv")[0]["full_name"] == NAME
    assert _csv(archive, "csv/contact_phones.csv")[0]["phone"] == "'" + PHONE_E164
    assert {r["title"] for r in _csv(archive, "csv/deals.csv")} == {DEAL_TITLE, "Langganan bulanan " + NAME}
    assert len(_csv(archive, "csv/processing_trail.csv")) == len(package["processing_trail"])
    assert _csv(archive, "csv/consents.csv")[0]["purpose"].startswith("marketing.")
    # The report is readable, in Indonesian, and self-contained.
    html = archive.read("report.html").decode()
    assert '<html lang="id">' in html and "Data Anda di Toko Sinar Abadi" in html
    assert NAME in html and TICKET_TITLE in html and "Nomor telepon" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html and "<link" not in html


def test_a_portable_copy_puts_the_machine_readable_parts_first_in_english(session, customer, settings, store):
    _, token = _prepare(session, customer, settings, portable=True, language="en")
    archive = _download(session, customer, token, store)
    names = archive.namelist()
    assert names[0] == "package.json" and names[-1] == "report.html"
    assert all(n.startswith(("csv/", "files/")) for n in names[1:-1])
    assert json.loads(archive.read("package.json"))["portable"] is True
    html = archive.read("report.html").decode()
    assert '<html lang="en">' in html and "Your data at Toko Sinar Abadi" in html and "Phone numbers" in html


def test_the_zip_is_sealed_under_the_persons_key_and_the_token_stored_as_a_hash(session, customer, settings, store):
    row, token = _prepare(session, customer, settings)
    stored = session.get(files.StoredFile, (customer.world.id, row.file_id))
    assert stored.kind == ACCESS_PACKAGE_KIND and stored.subject_id == customer.subject_id
    blob = store.path(customer.world.id, row.file_id).read_bytes()
    assert blob.startswith(files.MAGIC) and b"PK\x03\x04" not in blob and NAME.encode() not in blob
    assert row.token_hash == hashlib.sha256(token.encode()).digest() and len(token) >= 43
    assert session.scalar(select(PackageDownload).where(PackageDownload.token_hash == token.encode())) is None
    assert row.expires_at - row.created_at == timedelta(hours=settings.access_link_hours)
    assert row.request_id == REQUEST and row.download_count == 0
    assert download_path(customer.world.tenant.slug, token).endswith(f"/download/{token}")
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "privacy.access_package_prepared",
                                                       AuditEvent.tenant_id == customer.world.id)).all()
    assert event.subject_id == customer.subject_id and event.details["request_id"] == REQUEST.hex
    assert token not in json.dumps(event.details) and NAME not in json.dumps(event.details)
    assert verify(session, customer.world.id)[1] == []


def test_a_second_package_lists_the_first_but_does_not_pack_it(session, customer, settings, store):
    _prepare(session, customer, settings)
    _, token = _prepare(session, customer, settings)
    archive = _download(session, customer, token, store)
    package = json.loads(archive.read("package.json"))
    assert len(package["records"]["package_downloads"]) == 1  # the first; the second did not exist yet
    assert {f["kind"] for f in package["records"]["stored_files"]} == {"attachment", ACCESS_PACKAGE_KIND}
    assert [f["filename"] for f in package["files"]] == [FILE_NAME]
    assert not any(n.endswith(".zip") for n in archive.namelist())


def test_other_people_are_not_in_the_package(session, customer, tenant_a, settings, store):
    make_customer(session, tenant_a, store, name="Budi Santoso", email="budi@contoh.example", phone="0813-1111-2222")
    _, token = _prepare(session, customer, settings)
    archive = _download(session, customer, token, store)
    everything = b"".join(archive.read(n) for n in archive.namelist())
    assert b"Budi Santoso" not in everything and b"budi@contoh.example" not in everything


def test_a_field_declared_at_test_time_appears_in_json_csv_and_html(session, customer, settings, store):
    """A new personal field reaches every output from its declaration alone, with no change to export code."""
    class Scratch(DeclarativeBase):  # its own registry: the app's models stay as they are
        pass

    before = list(REGISTRY)
    try:
        class LoyaltyNote(SubjectOwned, Scratch):
            __tablename__ = "test_rights_loyalty_notes"
            tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
            id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
            favourite_product = personal(Category.TRANSACTION, [Purpose.U1], retention=Retention.RELATIONSHIP)

        Scratch.metadata.create_all(session.connection())
        session.add(LoyaltyNote(tenant_id=customer.world.id, subject=customer.contact.subject,
                                favourite_product="Kopi Toraja Sapan"))
        session.flush()
        _, token = _prepare(session, customer, settings)
        archive = _download(session, customer, token, store)
        package = json.loads(archive.read("package.json"))
        assert package["records"]["test_rights_loyalty_notes"][0]["favourite_product"] == "Kopi Toraja Sapan"
        assert _csv(archive, "csv/test_rights_loyalty_notes.csv")[0]["favourite_product"] == "Kopi Toraja Sapan"
        html = archive.read("report.html").decode()
        assert "favourite_product" in html and "Kopi Toraja Sapan" in html
    finally:
        REGISTRY[:] = before
        session.rollback()


def test_refusals_write_nothing(session, customer, tenant_b, settings, store):
    with pytest.raises(ValidationFailed):
        _prepare(session, customer, settings, language="fr")
    with pytest.raises(NotFound):  # another business cannot name this person
        prepare_access_package(session, tenant_b.id, customer.subject_id, actor=tenant_b.principal(), language="id",
                               portable=False, request_id=None, settings=settings)
    with pytest.raises(NotFound):
        prepare_access_package(session, customer.world.id, uuid.uuid4(), actor=Actor.system(), language="id",
                               portable=False, request_id=None, settings=settings)
    assert session.scalars(select(PackageDownload)).all() == []
    assert [f.kind for f in files.files_of_subject(session, customer.world.id, customer.subject_id)] == ["attachment"]


def test_an_erased_person_gets_no_package_and_an_earlier_link_stops_working(session, customer, settings, store):
    _, token = _prepare(session, customer, settings)
    erase_subject(session, customer.world.id, customer.subject_id, Actor.system(), "subject-request")
    session.flush()
    assert open_download(session, customer.world.tenant.slug, token, store=store).reason == "erased"
    with pytest.raises(ValidationFailed):
        _prepare(session, customer, settings)


def test_a_staff_members_sign_in_secret_is_withheld_from_their_copy(session, tenant_a, settings, store):
    import pyotp

    from niaga.identity import auth

    secret = auth.new_totp_secret()
    auth.enable_totp(session, tenant_a.owner, secret, pyotp.TOTP(secret).now(), Actor.system())
    row, token = prepare_access_package(session, tenant_a.id, tenant_a.owner.subject_id, actor=Actor.system(),
                                        language="en", portable=True, request_id=None, settings=settings)
    outcome = open_download(session, tenant_a.tenant.slug, token, store=store)
    archive = zipfile.ZipFile(io.BytesIO(outcome.data))
    [user] = json.loads(archive.read("package.json"))["records"]["users"]
    assert user["totp_secret"] == "[withheld]" and user["full_name"] == "Rina Kusuma"
    assert all(secret.encode() not in archive.read(n) for n in archive.namelist())

"""The encrypted file store: sealed under the person's key, hash-checked, size-limited, audited, shreddable."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select

from niaga.identity.permissions import Perm, Role
from niaga.kit.errors import Forbidden, NotFound, ValidationFailed
from niaga.privacy import erasure, files
from niaga.privacy.audit import Actor, AuditEvent
from niaga.privacy.fields import ERASED, UNREADABLE, Category, Purpose, Retention
from niaga.privacy.file_models import StoredFile
from niaga.privacy.vault import get_vault

# A real 1x1 PNG: the type comes from these bytes, not from the name.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
LETTER = ("Kepada Yth. Toko Sinar Abadi, saya Siti Nurhaliza (NIK 3171011708450001), alamat Jl. Melati No. 12 "
          "RT 03/RW 05, Menteng, Jakarta Pusat. Mohon invoice dikirim ke siti.n@example.co.id.").encode()


@pytest.fixture
def store(tmp_path):
    return files.FileStore(tmp_path / "files", max_bytes=64 * 1024)


def _events(session, tenant_id, action):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                         AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_a_stored_file_is_encrypted_on_disk_and_reads_back_with_its_type(session, tenant_a, store):
    person = tenant_a.owner
    letter = files.store_file(session, tenant_a.principal(), person.subject_id, LETTER, "Surat Siti Nurhaliza.txt",
                              store=store)
    image = files.store_file(session, tenant_a.principal(), person.subject_id, PNG, "../../ktp.jpg", store=store)
    session.commit()

    blob = store.path(tenant_a.id, letter.id).read_bytes()
    assert b"Nurhaliza" not in blob and b"3171011708450001" not in blob and blob[:4] == b"NGF1"
    assert oct(store.path(tenant_a.id, letter.id).stat().st_mode & 0o777) == "0o600"
    assert "Siti" not in str(store.path(tenant_a.id, letter.id))
    raw_name = session.execute(select(StoredFile.__table__.c.filename).where(StoredFile.id == letter.id)).scalar_one()
    assert b"Siti" not in raw_name

    session.expire_all()
    got = files.read_file(session, tenant_a.principal(), letter.id, store=store)
    assert got.readable and got.data == LETTER and got.filename == "Surat Siti Nurhaliza.txt"
    assert got.content_type == "text/plain" and got.size == len(LETTER)
    png = files.read_file(session, tenant_a.principal(), image.id, store=store)
    assert png.content_type == "image/png" and png.filename == "ktp.jpg" and png.data == PNG
    session.commit()
    downloads = _events(session, tenant_a.id, "file.downloaded")
    assert [e.target_id for e in downloads] == [letter.id.hex, image.id.hex]
    assert all(e.subject_id == person.subject_id and e.actor_id == person.id for e in downloads)
    assert "Siti" not in repr([e.details for e in downloads])


def test_other_tenants_and_unknown_ids_get_not_found(session, tenant_a, tenant_b, store):
    row = files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, PNG, "a.png", store=store)
    with pytest.raises(NotFound):
        files.read_file(session, tenant_b.principal(), row.id, store=store)
    with pytest.raises(NotFound):  # nor may tenant B attach a file to tenant A's person
        files.store_file(session, tenant_b.principal(), tenant_a.owner.subject_id, PNG, "b.png", store=store)


def test_a_kind_with_a_permission_refuses_and_audits_other_roles(session, tenant_a, store):
    files.register_kind("test-kyc", Category.IDENTIFICATION, [Purpose.U9], Retention.TAX_10Y, "KYC test",
                        read_permission=Perm.STAFF_MANAGE, allowed_types={"image/png", "application/pdf"})
    try:
        cashier = tenant_a.add_staff(session, Role.CASHIER)
        row = files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, PNG, "ktp.png",
                               kind="test-kyc", store=store)
        with pytest.raises(Forbidden):
            files.read_file(session, tenant_a.principal(cashier), row.id, store=store)
        denied = _events(session, tenant_a.id, "file.downloaded")
        assert denied[-1].outcome == "denied" and denied[-1].actor_id == cashier.id
        assert files.read_file(session, tenant_a.principal(), row.id, store=store).data == PNG
        with pytest.raises(files.UnsupportedFileType):
            files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, LETTER, "ktp.png",
                             kind="test-kyc", store=store)
    finally:
        files.FILE_KINDS.pop("test-kyc")


def test_empty_and_oversized_files_are_refused_and_nothing_is_written(session, tenant_a, store):
    with pytest.raises(ValidationFailed):
        files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, b"", "x.txt", store=store)
    with pytest.raises(files.FileTooLarge) as exc:
        files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, os.urandom(64 * 1024 + 1),
                         "big.bin", store=store)
    assert exc.value.status == 413 and "limit" in exc.value.message
    assert not store.root.exists() or store.blobs() == []
    assert session.scalars(select(StoredFile).where(StoredFile.tenant_id == tenant_a.id)).all() == []


def test_the_size_limit_comes_from_the_setting(tmp_path):
    from tests.conftest import make_settings

    store = files.FileStore.from_settings(make_settings(tmp_path, max_file_bytes=2048))
    assert store.max_bytes == 2048 and store.root == tmp_path / "files"


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing", "swap", "other-content"])
def test_damaged_blobs_read_as_unreadable_and_are_audited(session, tenant_a, store, damage):
    subject_id = tenant_a.owner.subject_id
    row = files.store_file(session, tenant_a.principal(), subject_id, LETTER, "surat.txt", store=store)
    other = files.store_file(session, tenant_a.principal(), subject_id, PNG, "foto.png", store=store)
    session.commit()
    path = store.path(tenant_a.id, row.id)
    blob = path.read_bytes()
    if damage == "flip":
        path.write_bytes(blob[:40] + bytes([blob[40] ^ 0x80]) + blob[41:])
    elif damage == "truncate":
        path.write_bytes(blob[:10])
    elif damage == "missing":
        path.unlink()
    elif damage == "swap":  # a valid blob of another file of the same person
        path.write_bytes(store.path(tenant_a.id, other.id).read_bytes())
    else:  # correctly sealed, but not the bytes whose hash was recorded
        cipher = get_vault().subject_cipher(session, tenant_a.owner.subject)
        nonce = os.urandom(12)
        aad = f"niaga/file/{tenant_a.id.hex}/{subject_id.hex}/{row.id.hex}".encode()
        path.write_bytes(blob[:8] + nonce + cipher.encrypt(nonce, b"forged content", aad))
    session.expire_all()

    got = files.read_file(session, tenant_a.principal(), row.id, store=store)
    session.commit()

    assert got.data is UNREADABLE and not got.readable and got.filename == "surat.txt"
    incidents = _events(session, tenant_a.id, "privacy.unreadable")
    assert incidents[-1].target_id == row.id.hex and incidents[-1].details == {"field": "stored_files.content"}
    assert _events(session, tenant_a.id, "file.downloaded")[-1].outcome == "failed"
    assert files.read_file(session, tenant_a.principal(), other.id, store=store).data == PNG


def test_erasing_the_person_makes_their_files_unreadable(session, tenant_a, store):
    staffer = tenant_a.add_staff(session, Role.AGENT, name="Siti Nurhaliza")
    theirs = files.store_file(session, tenant_a.principal(), staffer.subject_id, LETTER, "surat-siti.txt",
                              store=store)
    owners = files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, PNG, "logo.png", store=store)
    session.commit()
    ciphertext = store.path(tenant_a.id, theirs.id).read_bytes()

    erasure.erase_subject(session, tenant_a.id, staffer.subject_id, Actor.system(), "subject-request")
    session.commit()
    session.expire_all()

    got = files.read_file(session, tenant_a.principal(), theirs.id, store=store)
    assert got.data is ERASED and got.filename is ERASED
    assert files.read_file(session, tenant_a.principal(), owners.id, store=store).data == PNG
    # The old key is gone from the database, so even the saved ciphertext cannot be opened again.
    assert store.path(tenant_a.id, theirs.id).read_bytes() == ciphertext
    assert files.purge_erased_blobs(session, store) == 1
    assert not store.path(tenant_a.id, theirs.id).exists() and store.path(tenant_a.id, owners.id).exists()
    assert len(files.files_of_subject(session, tenant_a.id, staffer.subject_id)) == 1  # the record stays
    with pytest.raises(ValidationFailed):
        files.store_file(session, tenant_a.principal(), staffer.subject_id, PNG, "baru.png", store=store)


def test_deleting_removes_the_blob_only_after_commit(session, tenant_a, store):
    row = files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, PNG, "a.png", store=store)
    session.commit()
    files.delete_file(session, tenant_a.principal(), row.id, store=store)
    session.rollback()
    assert store.path(tenant_a.id, row.id).exists()
    files.delete_file(session, tenant_a.principal(), row.id, store=store)
    session.commit()
    assert not store.path(tenant_a.id, row.id).exists()
    with pytest.raises(NotFound):
        files.read_file(session, tenant_a.principal(), row.id, store=store)


def test_a_rolled_back_upload_leaves_a_blob_the_sweeper_removes(session, tenant_a, store):
    row = files.store_file(session, tenant_a.principal(), tenant_a.owner.subject_id, PNG, "a.png", store=store)
    file_id = row.id
    session.rollback()
    assert store.path(tenant_a.id, file_id).exists()
    assert files.sweep_orphans(session, store) == 0  # too recent: it could be an upload in flight
    assert files.sweep_orphans(session, store, older_than_seconds=0) == 1
    assert store.blobs() == []


def test_filenames_are_reduced_to_a_safe_last_component():
    assert files.clean_filename("C:\\Users\\siti\\KTP.jpg") == "KTP.jpg"
    assert files.clean_filename("../../etc/passwd") == "passwd"
    assert files.clean_filename("a\x00b\nc.txt") == "a_b_c.txt"
    assert files.clean_filename("...") == "file"
    assert len(files.clean_filename("x" * 500)) == 200


def test_type_detection_uses_the_bytes():
    assert files.detect_type(PNG) == "image/png"
    assert files.detect_type(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj") == "application/pdf"
    assert files.detect_type("Halo, terima kasih 🙏".encode()) == "text/plain"
    assert files.detect_type(os.urandom(256) + b"\x00") == "application/octet-stream"

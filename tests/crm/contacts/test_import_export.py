"""CSV import (mapping, normalisation, row problems, idempotence, encodings, limits) and export (permission,
audit, formula neutralisation, round trip)."""

from __future__ import annotations

import codecs
import csv
import io
import os

import pytest
from sqlalchemy import func, select

from niaga.crm.contacts import importer, service
from niaga.crm.contacts.exporter import export_contacts, neutralise
from niaga.crm.contacts.repository import ContactFilter
from niaga.crm.models import Company, Contact
from niaga.privacy.audit import AuditEvent
from tests.conftest import api_token, bearer

INDONESIAN = (
    "Nama;Surel;No HP;Alamat;Kota;Kode Pos;Perusahaan;Tanggal Lahir;Jenis Kelamin;Tag;Catatan\n"
    "Siti Aminah;SITI@Contoh.example;0812-3456-7890;Jl. Kaliurang 5;Sleman;55281;CV Kopi Jaya;17/08/1990;P;"
    "vip, grosir;Suka kopi\n"
    "Budi Santoso;budi@contoh.example;+62 813 2222 3333;;;;CV Kopi Jaya;;L;;\n"
    "Dewi Lestari;;6285711112222;;Bantul;;;1995-01-30;;langganan;\n"
)


def run(session, shop, text: str | bytes, by: str = "owner", **kwargs):  # noqa: ANN001, ANN201
    data = text.encode("utf-8") if isinstance(text, str) else text
    report = importer.import_contacts(session, shop.p(by), data, **kwargs)
    session.commit()
    return report


def count(session, model=Contact) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def find(session, shop, query):  # noqa: ANN001, ANN201
    return service.list_contacts(session, shop.p(), ContactFilter(query=query)).contacts


def test_an_indonesian_spreadsheet_is_mapped_normalised_and_imported(session, shop):
    report = run(session, shop, codecs.BOM_UTF8 + INDONESIAN.encode())
    assert (report.rows, report.created, report.failed) == (3, 3, 0)
    assert report.encoding == "utf-8-sig"
    assert report.columns == {"Nama": "full_name", "Surel": "email", "No HP": "phone", "Alamat": "address",
                              "Kota": "city", "Kode Pos": "postal_code", "Perusahaan": "company",
                              "Tanggal Lahir": "birth_date", "Jenis Kelamin": "gender", "Tag": "tags",
                              "Catatan": "notes"}
    [siti] = find(session, shop, "siti@contoh.example")
    assert [str(p.phone) for p in siti.phones] == ["+6281234567890"]
    assert str(siti.birth_date) == "1990-08-17" and siti.gender == "female" and siti.tags == ["vip", "grosir"]
    assert siti.addresses[0].kind == "shipping" and siti.addresses[0].address["postal_code"] == "55281"
    assert siti.source == "import" and siti.owner_id == shop.world.owner.id
    [budi] = find(session, shop, "081322223333")
    assert budi.gender == "male" and budi.company_id == siti.company_id
    assert count(session, Company) == 1  # "CV Kopi Jaya" once, shared
    [dewi] = find(session, shop, "+6285711112222")
    assert dewi.addresses[0].address == {"street": "", "city": "Bantul", "province": "", "postal_code": ""}


def test_importing_the_same_file_again_changes_nothing_and_a_changed_row_updates(session, shop):
    run(session, shop, INDONESIAN)
    before = count(session)
    again = run(session, shop, INDONESIAN)
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 3, 0)
    assert count(session) == before
    changed = run(session, shop, "nama,email,telepon,tag\nSiti Aminah,siti@contoh.example,0856 4444 5555,reseller\n")
    assert (changed.created, changed.updated) == (0, 1)
    [siti] = find(session, shop, "siti@contoh.example")
    assert [str(p.phone) for p in siti.phones] == ["+6281234567890", "+6285644445555"]
    assert siti.tags == ["vip", "grosir", "reseller"] and siti.notes == "Suka kopi"
    assert count(session) == before


def test_bad_rows_are_listed_by_number_without_their_values_and_good_rows_are_kept(session, shop, caplog):
    text = ("name,email,phone,birth date\n"
            "Ani Wijaya,ani@contoh.example,081211112222,1990-01-01\n"
            "Bad Email,ani-at-contoh,,\n"
            ",tanpa.nama@contoh.example,,\n"
            "Telepon Salah,,12345,\n"
            "Lahir Nanti,,,2999-01-01\n"
            "Eko Prasetyo,eko@contoh.example,,\n")
    report = run(session, shop, text)
    assert (report.rows, report.created, report.failed) == (6, 2, 4)
    assert [(p.row, p.field) for p in report.problems] == [(3, "emails"), (4, "full_name"), (5, "phones"),
                                                           (6, "birth_date")]
    shown = " ".join(str(p.message) for p in report.problems) + caplog.text
    for value in ("ani-at-contoh", "tanpa.nama", "12345", "2999", "Telepon Salah"):
        assert value not in shown
    assert find(session, shop, "eko@contoh.example") and not find(session, shop, "tanpa.nama@contoh.example")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "crm.contacts_imported"))
    assert event.details["created"] == 2 and event.details["failed"] == 4


def test_a_bad_row_leaves_no_company_behind(session, shop):
    report = run(session, shop, "nama,email,perusahaan\nAni,bukan-email,PT Tidak Jadi\n")
    assert report.failed == 1 and count(session, Company) == 0


def test_a_row_matching_two_contacts_or_a_colleagues_contact_is_skipped(session, shop):
    shop.contact(session, full_name="Satu", emails=["satu@contoh.example"])
    shop.contact(session, full_name="Dua", phones=["081299998888"])
    shop.contact(session, by="loner", full_name="Rahasia", emails=["rahasia@contoh.example"])
    report = run(session, shop, "nama,email,hp\nCampur,satu@contoh.example,081299998888\n"
                                "Coba,rahasia@contoh.example,\n", by="manager")
    assert report.failed == 1 and report.problems[0].row == 2  # the manager sees the loner's contact
    agent = importer.import_contacts(session, shop.p("agent"), b"nama,email\nCoba,rahasia@contoh.example\n")
    assert agent.failed == 1 and "colleague" in str(agent.problems[0].message)


def test_an_explicit_mapping_overrides_the_guess(session, shop):
    text = "Pelanggan Kami,No WA,Toko,Kolom Lain\nRina,0812-7777-6666,Toko Rina,abc\n"
    report = run(session, shop, text, mapping="Pelanggan Kami=full_name, no wa=phone, Toko=company")
    assert report.created == 1 and report.ignored_columns == ["Kolom Lain"]
    [rina] = find(session, shop, "081277776666")
    assert str(rina.full_name) == "Rina"


@pytest.mark.parametrize("mapping", ["Nama=hobi", "tanpa-tanda-sama-dengan", "Tidak Ada=phone"])
def test_a_bad_mapping_refuses_the_file(session, shop, mapping):
    with pytest.raises(importer.ImportRefused):
        importer.import_contacts(session, shop.p(), b"nama,hp\nAni,081211112222\n", mapping=mapping)
    assert count(session) == 0


def test_windows_1252_is_read_and_said(session, shop):
    report = run(session, shop, "nama;email\nJosé Müller;jose@contoh.example\n".encode("cp1252"))
    assert report.encoding == "windows-1252" and report.created == 1
    assert str(find(session, shop, "jose@contoh.example")[0].full_name) == "José Müller"


REFUSED = {
    "random bytes": os.urandom(4096) + b"\x81\x8d\x8f",
    "utf-16": "nama,email\nAni,ani@contoh.example\n".encode("utf-16"),
    "nul bytes": b"nama,email\x00\nAni,a@b.example\n",
    "control characters": b"nama,email\nAni\x07,a@b.example\n",
    "bom then latin-1": codecs.BOM_UTF8 + "nama\nJos\xe9\n".encode("latin-1"),
    "empty": b"",
    "blank": b"\n\n  \n",
    "no name column": b"email,telepon\na@b.example,081211112222\n",
    "unclosed quote": b'nama,email\n"Ani,a@b.example\n' + b"x" * 200_000,
    "too many columns": (",".join(f"k{i}" for i in range(101)) + "\n").encode(),
    "header only blanks": b",,,\nAni,,,\n",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_files_that_are_not_contact_csv_are_refused_with_a_message(session, shop, name):
    with pytest.raises(importer.ImportRefused) as refused:
        importer.import_contacts(session, shop.p(), REFUSED[name])
    assert str(refused.value.message)
    assert count(session) == 0


def test_size_and_row_limits_refuse_before_writing(session, shop):
    with pytest.raises(importer.ImportTooLarge) as too_large:
        importer.import_contacts(session, shop.p(), b"nama\n" + b"x" * (10 * 1024 * 1024))
    assert too_large.value.status == 413
    rows = "nama\n" + "".join(f"Orang {i}\n" for i in range(11))
    with pytest.raises(importer.ImportRefused):
        importer.import_contacts(session, shop.p(), rows.encode(), max_rows=10)
    assert count(session) == 0


def test_import_through_the_api(client, session, shop):
    headers = {**bearer(api_token(session, shop.world.owner)), "content-type": "text/csv"}
    resp = client.post("/api/v1/contacts/import", content=INDONESIAN.encode(), headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["created"] == 3 and resp.json()["problems"] == []
    bad = client.post("/api/v1/contacts/import", content=b"nama,email\nAni,salah\n", headers=headers)
    assert bad.json()["problems"] == [{"row": 2, "field": "emails", "message": bad.json()["problems"][0]["message"]}]
    junk = client.post("/api/v1/contacts/import", content=os.urandom(10 * 1024 * 1024), headers=headers)
    assert junk.status_code == 413 and junk.headers["content-type"].startswith("application/problem+json")
    refused = client.post("/api/v1/contacts/import", content=b"email\na@b.example\n", headers=headers)
    assert refused.status_code == 422 and "name" in refused.json()["detail"]
    assert count(session) == 3


def _export_rows(content: bytes) -> list[dict]:
    assert content.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_export_neutralises_formulas_and_reimports_unchanged(session, shop):
    shop.contact(session, full_name="=HYPERLINK(\"http://jahat.example\",\"klik\")", emails=["satu@contoh.example"],
                 notes="+SUM(A1:A9)", position="@admin", phones=["+65 6123 4567"])
    shop.contact(session, full_name="Siti Aminah", emails=["siti@contoh.example"], phones=["081234567890"],
                 tags=["vip"], notes="-10% untuk grosir", birth_date="1990-08-17")
    export = export_contacts(session, shop.p())
    session.commit()
    rows = {r["email"]: r for r in _export_rows(export.content)}
    evil = rows["satu@contoh.example"]
    assert evil["name"].startswith("'=") and evil["notes"] == "'+SUM(A1:A9)" and evil["position"] == "'@admin"
    assert evil["phone"].startswith("'+65")
    siti = rows["siti@contoh.example"]
    assert siti["phone"] == "0812-3456-7890" and siti["notes"] == "'-10% untuk grosir"
    assert siti["birth_date"] == "1990-08-17" and siti["tags"] == "vip"
    for cells in rows.values():
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in cells.values())
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "crm.contacts_exported"))
    assert event.details == {"count": 2, "format": "csv"}
    again = run(session, shop, export.content)
    assert (again.created, again.updated, again.failed) == (0, 0, 0), again.problems
    [first] = find(session, shop, "satu@contoh.example")
    assert first.full_name.startswith("=HYPERLINK") and first.notes == "+SUM(A1:A9)"


@pytest.mark.parametrize("value, expected", [("=1+2", "'=1+2"), ("+62", "'+62"), ("-", "'-"), ("@x", "'@x"),
                                             ("\tx", "'\tx"), ("\rx", "'\rx"), ("Budi", "Budi"), ("", ""),
                                             (None, "")])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_export_holds_only_what_the_exporter_may_see_and_skips_erased_people(session, shop):
    from niaga.privacy.audit import Actor
    from niaga.privacy.erasure import erase_subject

    gone = shop.contact(session, by="manager", full_name="Sudah Dihapus", emails=["hapus@contoh.example"])
    shop.contact(session, by="loner", full_name="Milik Penyendiri")
    erase_subject(session, shop.world.id, gone.subject_id, Actor.system(), "subject-request")
    session.commit()
    names = [r["name"] for r in _export_rows(export_contacts(session, shop.p("manager")).content)]
    assert names == ["Milik Penyendiri"]
    assert [r["name"] for r in _export_rows(export_contacts(session, shop.p("loner")).content)] == ["Milik Penyendiri"]


def test_export_through_the_api_needs_the_export_permission(client, session, shop):
    shop.contact(session, full_name="Siti Aminah")
    owner = client.get("/api/v1/contacts/export", headers=bearer(api_token(session, shop.world.owner)))
    assert owner.status_code == 200 and owner.headers["content-type"].startswith("text/csv")
    assert "attachment" in owner.headers["content-disposition"] and "Siti Aminah" in owner.text
    agent = client.get("/api/v1/contacts/export", headers=bearer(api_token(session, shop.staff["agent"])))
    assert agent.status_code == 403 and "Siti" not in agent.text


def test_two_rows_of_one_file_for_the_same_person_become_one_contact(session, shop):
    text = ("nama,email,hp\n"
            "Rina Kusuma,rina@contoh.example,\n"
            "Rina K.,RINA@contoh.example,0812-1111-2222\n"
            "Rina,,+62 812 1111 2222\n")
    report = run(session, shop, text)
    assert (report.created, report.updated, report.unchanged, report.failed) == (1, 2, 0, 0)
    [rina] = find(session, shop, "081211112222")
    assert str(rina.full_name) == "Rina" and [str(e.email) for e in rina.emails] == ["rina@contoh.example"]


def test_a_large_file_goes_in_chunks_with_bad_rows_and_repeats_anywhere(session, shop):
    lines = ["nama,email,hp"]
    for i in range(450):
        lines.append(f"Orang {i},orang{i}@contoh.example,+6281300{i:06d}")
    lines[120] = "Rusak,bukan-email,"
    lines.append("Orang 5 Lagi,orang5@contoh.example,")  # the same person as row 7, 445 rows later
    report = run(session, shop, "\n".join(lines) + "\n")
    assert (report.rows, report.created, report.updated, report.failed) == (451, 449, 1, 1)
    assert [p.row for p in report.problems] == [121]
    assert count(session) == 449
    [five] = find(session, shop, "orang5@contoh.example")
    assert str(five.full_name) == "Orang 5 Lagi"


def test_a_value_taken_meanwhile_fails_only_its_row(session, shop, monkeypatch):
    """If another request adds the same email between the lookup and the flush, only that row is refused."""
    from niaga.crm.contacts import repository

    shop.contact(session, full_name="Sudah Ada", emails=["sudah@contoh.example"])
    monkeypatch.setattr(repository, "contacts_by_value", lambda *args, **kwargs: {})  # the lookup misses it
    report = run(session, shop, "nama,email\nSatu,satu@contoh.example\nDua,sudah@contoh.example\n"
                                "Tiga,tiga@contoh.example\n")
    assert (report.created, report.failed) == (2, 1) and report.problems[0].row == 3
    assert count(session) == 3

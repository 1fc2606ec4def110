"""CSV import of contacts: column mapping, normalisation, one problem per bad row, idempotent re-import.

- **Encoding.** UTF-8, with or without the byte-order mark Excel writes. A file that is not UTF-8 is read as
  Windows-1252 (what Excel on Windows saves as "CSV") only when every byte is defined there and the text has
  no control characters; the report says so. Anything else (binary junk, UTF-16) is refused with a message.
- **Shape.** The delimiter is `,`, `;` (Excel in Indonesian locales) or a tab, chosen from the header line.
  Headers are matched in Indonesian and English (`nama`/`name`, `surel`/`email`, `hp`/`telepon`/`whatsapp`…);
  an explicit mapping (`Nama Pelanggan=full_name,No WA=phone`) overrides the guess. A name column is required.
- **Rows.** Each row is checked like a form, then created or, when its email, phone or loyalty card number
  already belongs to a contact, merged into that contact (re-importing the same file changes nothing). A
  bad row becomes one problem (row number, field, message, never the row's values) and the other rows go on
  (`import_rows.py`).
- **Limits.** Size and row count are bounded; a file over either is refused before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from niaga.crm.contacts.import_rows import ImportReport, RowProblem, import_rows
from niaga.crm.contacts.validation import split_many
from niaga.identity.principal import Principal
from niaga.kit.errors import DomainError
from niaga.kit.messages import Msg
from niaga.privacy import audit

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
MAX_COLUMNS = 100
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Import fields and the headers (normalised: lower case, words separated by one space) that mean them.
ALIASES: dict[str, tuple[str, ...]] = {
    "full_name": ("nama", "name", "nama lengkap", "full name", "fullname", "nama pelanggan", "customer name",
                  "contact name", "nama kontak", "customer", "pelanggan"),
    "email": ("email", "e mail", "surel", "alamat email", "email address", "alamat surel", "surat elektronik"),
    "phone": ("telepon", "telp", "tel", "no telp", "no telepon", "nomor telepon", "hp", "no hp", "nomor hp",
              "handphone", "ponsel", "phone", "phone number", "mobile", "mobile phone", "whatsapp", "wa", "no wa",
              "nomor wa", "nomor whatsapp", "telephone"),
    "address": ("alamat", "address", "alamat pengiriman", "shipping address", "jalan", "street"),
    "city": ("kota", "city", "kabupaten kota", "kota kabupaten"),
    "province": ("provinsi", "province"),
    "postal_code": ("kode pos", "kodepos", "postal code", "postcode", "zip", "zip code"),
    "company": ("perusahaan", "company", "nama perusahaan", "company name", "instansi", "organisasi",
                "organization"),
    "position": ("jabatan", "position", "job title", "title"),
    "birth_date": ("tanggal lahir", "tgl lahir", "birth date", "birthdate", "date of birth", "dob", "birthday",
                   "ulang tahun"),
    "gender": ("jenis kelamin", "gender", "sex", "kelamin"),
    "tags": ("tag", "tags", "label", "labels", "kategori"),
    "notes": ("catatan", "notes", "note", "keterangan", "komentar", "comments"),
    "loyalty_card_number": ("kartu member", "no member", "nomor member", "member", "loyalty card",
                            "loyalty card number", "member card", "nomor kartu", "kartu loyalitas"),
}
IMPORT_FIELDS = tuple(ALIASES)
REPEATABLE = {"email", "phone", "tags", "notes"}
IGNORE = ("ignore", "-", "")
GENDER_WORDS = {
    "male": ("l", "lk", "laki-laki", "laki laki", "laki", "pria", "male", "m", "cowok"),
    "female": ("p", "pr", "perempuan", "wanita", "female", "f", "w", "cewek"),
    "other": ("lainnya", "other", "lain"),
}


class ImportRefused(DomainError):
    """The whole file is refused (too large, not text, no name column…); nothing was written."""

    status = 422
    code = "import-refused"


class ImportTooLarge(ImportRefused):
    """The file is over the size limit."""

    status = 413
    code = "import-too-large"


def header_key(header: str) -> str:
    """A header as matched against the aliases: lower case, punctuation as spaces, a trailing number dropped."""
    text = unicodedata.normalize("NFKC", header).casefold()
    text = re.sub(r"[_\-./:()#]+", " ", text)
    text = " ".join(text.split())
    return re.sub(r"\s*\d+$", "", text) or text


_ALIAS_INDEX = {alias: name for name, aliases in ALIASES.items() for alias in aliases}


def decode(data: bytes, max_bytes: int = MAX_IMPORT_BYTES) -> tuple[str, str]:
    """The file's text and the encoding it was read with; refuses oversized, empty or non-text files."""
    if len(data) > max_bytes:
        raise ImportTooLarge(Msg("The file is too large: the limit is {mb} MB. Split it into smaller files.",
                                 mb=max(1, max_bytes // (1024 * 1024))))
    if not data.strip():
        raise ImportRefused(Msg("The file is empty."))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data:
        raise ImportRefused(Msg("This file is not a CSV text file. Save it from your spreadsheet as "
                                "\"CSV UTF-8\" and try again."))
    if data.startswith(codecs.BOM_UTF8):
        encoding, body = "utf-8-sig", data[len(codecs.BOM_UTF8):]
    else:
        encoding, body = "utf-8", data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        if encoding == "utf-8-sig":
            raise ImportRefused(Msg("This file says it is UTF-8 but contains bytes that are not. Save it again "
                                    "as \"CSV UTF-8\".")) from None
        try:
            text, encoding = body.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            raise ImportRefused(Msg("This file is not a CSV text file. Save it from your spreadsheet as "
                                    "\"CSV UTF-8\" and try again.")) from None
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text):
        raise ImportRefused(Msg("This file is not a CSV text file. Save it from your spreadsheet as "
                                "\"CSV UTF-8\" and try again."))
    return text, encoding


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_mapping(text: str) -> dict[str, str]:
    """'Nama Pelanggan=full_name,No WA=phone' → {header key: field}; refuses unknown fields."""
    mapping: dict[str, str] = {}
    for part in re.split(r"[,\n]", text or ""):
        if not part.strip():
            continue
        column, sep, target = part.partition("=")
        target = target.strip().lower()
        if not sep or not column.strip():
            raise ImportRefused(Msg("Write the mapping as column=field, separated by commas."))
        if target not in IMPORT_FIELDS and target not in IGNORE:
            raise ImportRefused(Msg("Unknown field in the mapping. Use one of: {fields}, or ignore.",
                                    fields=", ".join(IMPORT_FIELDS)))
        mapping[header_key(column)] = target if target in IMPORT_FIELDS else "ignore"
    return mapping


def map_columns(headers: list[str], explicit: dict[str, str]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Column index → field, header → field (for the report), and the ignored headers."""
    by_index: dict[int, str] = {}
    shown: dict[str, str] = {}
    ignored: list[str] = []
    keys = [header_key(h) for h in headers]
    unknown = [column for column in explicit if column not in keys]
    if unknown:
        raise ImportRefused(Msg("The mapping names a column the file does not have. Check the header row."))
    taken: set[str] = set()
    for index, (header, key) in enumerate(zip(headers, keys)):
        target = explicit.get(key) or _ALIAS_INDEX.get(key)
        if target in (None, "ignore") or (target in taken and target not in REPEATABLE):
            if header.strip():
                ignored.append(header.strip())
            continue
        taken.add(target)
        by_index[index] = target
        shown[header.strip()] = target
    if "full_name" not in taken:
        raise ImportRefused(Msg("The file has no name column. Name it \"nama\" or \"name\", or map one with "
                                "column=full_name."))
    return by_index, shown, ignored


def _cell(value: str) -> str:
    """A cell without surrounding spaces and without the quote our export puts before formula-like text."""
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        value = value[1:]
    return value


def _gender(value: str) -> str | None:
    word = value.strip().casefold()
    for gender, words in GENDER_WORDS.items():
        if word in words:
            return gender
    return value  # unknown: the contact check refuses it with its own message


def row_input(cells: list[str], columns: dict[int, str]) -> tuple[dict[str, Any], str | None]:
    """The contact input of one row (only non-empty cells, plus the name) and its company name."""
    data: dict[str, Any] = {"full_name": ""}
    emails: list[str] = []
    phones: list[str] = []
    tags: list[str] = []
    notes: list[str] = []
    address: dict[str, str] = {}
    company = None
    for index, target in columns.items():
        value = _cell(cells[index]) if index < len(cells) else ""
        if not value:
            continue
        if target == "email":
            emails += split_many(value)
        elif target == "phone":
            phones += [p for p in re.split(r"[;,/\n]+", value) if p.strip()]
        elif target == "tags":
            tags += split_many(value)
        elif target == "notes":
            notes.append(value)
        elif target in ("address", "city", "province", "postal_code"):
            address["street" if target == "address" else target] = value
        elif target == "company":
            company = " ".join(value.split())
        elif target == "gender":
            data["gender"] = _gender(value)
        else:
            data[target] = value
    if emails:
        data["emails"] = emails
    if phones:
        data["phones"] = phones
    if tags:
        data["tags"] = tags
    if notes:
        data["notes"] = "\n".join(notes)
    if address:
        data["addresses"] = {"shipping": address}
    return data, company


def read_rows(text: str, max_rows: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the non-empty data rows with their spreadsheet row numbers; refuses over `max_rows`."""
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    rows: list[tuple[int, list[str]]] = []
    try:
        headers = next(reader, None)
        if headers is None or not any(h.strip() for h in headers):
            raise ImportRefused(Msg("The first row must name the columns (for example nama, email, telepon)."))
        if len(headers) > MAX_COLUMNS:
            raise ImportRefused(Msg("The file has more than {n} columns.", n=MAX_COLUMNS))
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_rows:
                raise ImportRefused(Msg("The file has more than {n} rows. Split it into smaller files.", n=max_rows))
            rows.append((number, cells))
    except csv.Error:
        raise ImportRefused(Msg("The file could not be read as CSV (a quote is not closed or a cell is too long).")
                            ) from None
    return headers, rows


def import_contacts(session: Session, principal: Principal, data: bytes, *, mapping: str = "",
                    max_bytes: int = MAX_IMPORT_BYTES, max_rows: int = MAX_IMPORT_ROWS,
                    progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import a CSV file of contacts in the caller's transaction; returns the report (audited, counts only).

    A refused row leaves nothing behind (not even a company it named); see `import_rows` for how.
    """
    text, encoding = decode(data, max_bytes)
    headers, rows = read_rows(text, max_rows)
    columns, shown, ignored = map_columns(headers, parse_mapping(mapping))
    report = ImportReport(rows=len(rows), encoding=encoding, columns=shown, ignored_columns=ignored)
    import_rows(session, principal, [(number, *row_input(cells, columns)) for number, cells in rows], report,
                progress)
    audit.record(session, principal.tenant_id, "crm.contacts_imported", principal.actor, purpose="U1",
                 details={"rows": report.rows, "created": report.created, "updated": report.updated,
                          "unchanged": report.unchanged, "failed": report.failed, "encoding": encoding})
    return report


__all__ = ["ImportRefused", "ImportTooLarge", "ImportReport", "RowProblem", "import_contacts", "decode",
           "read_rows", "map_columns", "parse_mapping", "row_input", "IMPORT_FIELDS"]

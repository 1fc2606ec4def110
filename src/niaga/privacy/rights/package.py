"""A person's copy of their data (UU PDP Pasal 7, 13 and 32; policies.md R1, R6): rendered, zipped, sealed,
and handed out through an expiring link.

`prepare_access_package` takes the plain package of `niaga.privacy.access.build_package` and renders it
three ways — JSON (the documented schema, docs/access-package.md), one CSV per kind of record, and an HTML
report in the person's language — then zips them with the person's own files and keeps the zip in the
encrypted file store under the person's key. Erasing the person therefore makes a package that was never
downloaded unreadable too. The download link carries a random token; only its SHA-256 is stored.

Portability (Pasal 13) decision: a portable copy is the same zip with the machine-readable parts first
(`package.json`, then `csv/`, then the files) and the HTML report last; its JSON says `"portable": true`.
JSON and CSV are the common machine-readable formats another controller can import.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import secrets
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from niaga.config import Settings, get_settings
from niaga.db.base import utcnow
from niaga.identity.models import Tenant
from niaga.identity.permissions import Perm
from niaga.kit.errors import NotFound, ValidationFailed
from niaga.kit.messages import Msg
from niaga.privacy import audit, files
from niaga.privacy.access import build_package
from niaga.privacy.audit import Actor
from niaga.privacy.fields import Category, Purpose, Retention
from niaga.privacy.models import DataSubject
from niaga.privacy.rights.models import PackageDownload
from niaga.web.i18n import LOCALES, N_, gettext_for

ACCESS_PACKAGE_KIND = "access_package"
files.register_kind(
    ACCESS_PACKAGE_KIND, Category.IDENTITY, [Purpose.U10], Retention.SHORT_90D,
    "A person's copy of their own data (access or portability request), kept for its download link",
    read_permission=Perm.PRIVACY_INVENTORY, allowed_types={"application/zip"},
)
# A package holds all of a person's files, each up to NIAGA_MAX_FILE_BYTES: its own limit is higher.
PACKAGE_MAX_BYTES = 2 * 1024 * 1024 * 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

TABLE_LABELS = {
    "contacts": N_("Contact details"),
    "contact_emails": N_("Email addresses"),
    "contact_phones": N_("Phone numbers"),
    "contact_addresses": N_("Addresses"),
    "companies": N_("Company details"),
    "deals": N_("Deals"),
    "tickets": N_("Support tickets"),
    "ticket_comments": N_("Ticket comments"),
    "activities": N_("Calls, meetings and notes"),
    "consent_events": N_("Consent records"),
    "stored_files": N_("Files"),
    "package_downloads": N_("Copies of your data prepared earlier"),
    "users": N_("Staff account"),
    "staff_sessions": N_("Sign-in sessions"),
    "invitations": N_("Invitations"),
}


@dataclass(frozen=True)
class RenderedPackage:
    """The zip's bytes and what it holds."""

    data: bytes
    filename: str
    files_included: int


def _actor(actor: Any) -> Actor:
    """An audit actor from an Actor or a Principal."""
    return actor if isinstance(actor, Actor) else actor.actor


def token_digest(token: str) -> bytes:
    """What is stored for a download token (the token itself never is)."""
    return hashlib.sha256(token.encode()).digest()


def download_path(tenant_slug: str, token: str) -> str:
    """The public path that downloads a package (append it to NIAGA_BASE_URL for a link)."""
    return f"/privacy-center/{tenant_slug}/download/{token}"


# -- rendering --------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """One CSV or HTML cell: nested values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _csv_cell(value: Any) -> str:
    """A cell that a spreadsheet will not run as a formula (a leading `'`, as the contact export does)."""
    text = _cell(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _sections(package: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, rows) of every list the package holds: one CSV each, one HTML table each."""
    out = [(f"records/{name}", rows) for name, rows in package["records"].items()]
    for name in ("consents", "restrictions", "files", "processing_trail"):
        if package.get(name):
            out.append((name, package[name]))
    return out


def render_json(package: dict[str, Any]) -> bytes:
    """The package as UTF-8 JSON (schema: docs/access-package.md)."""
    return json.dumps(package, ensure_ascii=False, indent=2, sort_keys=False).encode()


def render_csvs(package: dict[str, Any]) -> dict[str, bytes]:
    """One CSV per kind of record (path inside the zip -> bytes), with a BOM so spreadsheets read UTF-8."""
    out: dict[str, bytes] = {}
    for name, rows in _sections(package):
        columns = _columns(rows)
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(column)) for column in columns])
        out[f"csv/{name.replace('records/', '')}.csv"] = buffer.getvalue().encode()
    return out


def _local(value: str | None, zone: str, language: str) -> str:
    """An ISO time from the package shown in the business's time zone, as people read it."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    pattern = "d MMM y HH.mm" if language == "id" else "d MMM y HH:mm"
    return format_datetime(moment, pattern, tzinfo=ZoneInfo(zone), locale=language)


def render_html(package: dict[str, Any], language: str, zone: str = "Asia/Jakarta") -> bytes:
    """A readable, self-contained report in the person's language (no scripts, no external assets)."""
    from niaga.web.templating import templates

    gettext = gettext_for(language)
    erased, unreadable = gettext("erased"), gettext("unreadable")

    def shown(value: Any) -> str:
        text = _cell(value)
        return {"[erased]": erased, "[unreadable]": unreadable, "true": gettext("yes"),
                "false": gettext("no")}.get(text, text)

    tables = []
    for name, rows in package["records"].items():
        columns = _columns(rows)
        label = TABLE_LABELS.get(name)
        tables.append({"name": name, "title": gettext(label) if label else name.replace("_", " "),
                       "columns": columns, "rows": [[shown(row.get(c)) for c in columns] for row in rows]})
    page = templates.env.get_template("access_report/report.html").render(
        _=gettext, lang=language, package=package, tables=tables, shown=shown,
        local=lambda value: _local(value, zone, language), zone=zone,
    )
    return page.encode()


def _zip(package: dict[str, Any], attachments: list[tuple[str, bytes]], language: str, portable: bool,
         zone: str) -> bytes:
    machine = [("package.json", render_json(package)), *render_csvs(package).items(), *attachments]
    human = [("report.html", render_html(package, language, zone))]
    entries = machine + human if portable else human + machine
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def _attachments(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, actor: Actor,
                 store: files.FileStore) -> tuple[list[dict[str, Any]], list[tuple[str, bytes]]]:
    """The person's own files (earlier packages left out), decrypted through the audited read path."""
    listed: list[dict[str, Any]] = []
    entries: list[tuple[str, bytes]] = []
    for n, row in enumerate(files.files_of_subject(session, tenant_id, subject_id), start=1):
        if row.kind == ACCESS_PACKAGE_KIND:
            continue
        content = files.read_file(session, actor, row.id, tenant_id=tenant_id, store=store, purpose="U10")
        path = None
        if content.readable:
            path = f"files/{n:03d}-{files.clean_filename(str(content.filename))}"
            entries.append((path, content.data))
        listed.append({"id": str(row.id), "filename": str(content.filename), "kind": row.kind,
                       "content_type": row.content_type, "size": row.size, "created_at": row.created_at.isoformat(),
                       "path": path, "status": "included" if content.readable else str(content.data).strip("[]")})
    return listed, entries


def render_package(session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any,
                   language: str, portable: bool, store: files.FileStore | None = None) -> RenderedPackage:
    """Build and zip a person's package (nothing is stored; `prepare_access_package` stores it)."""
    if language not in LOCALES:
        raise ValidationFailed({"language": Msg("Choose Indonesian (id) or English (en).")})
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(Msg("No such person."))
    store = store or files.FileStore.from_settings(get_settings())
    package = build_package(session, tenant_id, subject_id)
    listed, attachments = _attachments(session, tenant_id, subject_id, _actor(actor), store)
    now = utcnow()
    package = {
        "schema_version": package["schema_version"],
        "generated_at": now.isoformat(),
        "language": language,
        "portable": portable,
        "controller": {"tenant_id": str(tenant.id), "name": tenant.name, "address": tenant.address,
                       "privacy_contact": tenant.privacy_contact_email},
        **{k: v for k, v in package.items() if k != "schema_version"},
        "files": listed,
    }
    data = _zip(package, attachments, language, portable, tenant.timezone)
    stamp = now.astimezone(ZoneInfo(tenant.timezone)).strftime("%Y%m%d")
    filename = f"{'data-portabel' if portable else 'data-saya'}-{stamp}.zip" if language == "id" else \
        f"{'portable-data' if portable else 'my-data'}-{stamp}.zip"
    return RenderedPackage(data, filename, len(attachments))


def prepare_access_package(
    session: Session, tenant_id: uuid.UUID, subject_id: uuid.UUID, *, actor: Any, language: str, portable: bool,
    request_id: uuid.UUID | None, settings: Settings | None = None, store: files.FileStore | None = None,
) -> tuple[PackageDownload, str]:
    """Build, render, zip and seal a person's package; returns the download row and the token (shown once)."""
    settings = settings or get_settings()
    who = _actor(actor)
    base = store or files.FileStore.from_settings(settings)
    store = files.FileStore(base.root, max(base.max_bytes, PACKAGE_MAX_BYTES))
    subject = session.get(DataSubject, (tenant_id, subject_id))
    if subject is None:
        raise NotFound(Msg("No such person."))
    if subject.is_erased:
        raise ValidationFailed({"subject": Msg("This person's data has been erased.")})
    rendered = render_package(session, tenant_id, subject_id, actor=who, language=language, portable=portable,
                              store=store)
    stored = files.store_file(session, who, subject_id, rendered.data, rendered.filename, kind=ACCESS_PACKAGE_KIND,
                              tenant_id=tenant_id, store=store)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = PackageDownload(
        tenant_id=tenant_id, subject=subject, file_id=stored.id, request_id=request_id,
        token_hash=token_digest(token), language=language, portable=portable, size=len(rendered.data),
        created_at=now, expires_at=now + timedelta(hours=settings.access_link_hours), download_count=0,
        created_by_type=who.type, created_by=who.id,
    )
    session.add(row)
    session.flush()
    audit.record(session, tenant_id, "privacy.access_package_prepared", who, target_type="package_download",
                 target_id=row.id, subject_id=subject_id, purpose="U10",
                 details={"portable": portable, "language": language, "files": rendered.files_included,
                          "size": len(rendered.data), "request_id": request_id})
    return row, token


def purge_expired_packages(session: Session, *, store: files.FileStore | None = None,
                           now: datetime | None = None) -> int:
    """Delete the sealed zips of expired links (their download rows stay: the record of what was given)."""
    now = now or utcnow()
    removed = 0
    for row in session.scalars(select(PackageDownload).where(PackageDownload.expires_at <= now)):
        if session.get(files.StoredFile, (row.tenant_id, row.file_id)) is not None:
            files.delete_file(session, Actor.system(), row.file_id, tenant_id=row.tenant_id, store=store)
            removed += 1
    return removed


# -- the download -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DownloadOutcome:
    """What the download link gave: the zip, or why not (`reason`: unknown | expired | erased | unavailable)."""

    status: int
    reason: str
    data: bytes | None = None
    filename: str | None = None
    language: str | None = None


def _refuse(session: Session, tenant_id: uuid.UUID | None, row: PackageDownload | None, reason: str,
            client_ref: str | None) -> DownloadOutcome:
    audit.record(session, tenant_id, "privacy.access_package_downloaded", Actor("anonymous", None, client_ref),
                 outcome="denied", target_type="package_download", target_id=row.id if row else None,
                 subject_id=row.subject_id if row else None, purpose="U10", details={"reason": reason})
    return DownloadOutcome(404 if reason == "unknown" else 410, reason, language=row.language if row else None)


def open_download(session: Session, tenant_slug: str, token: str, *, client_ref: str | None = None,
                  store: files.FileStore | None = None, now: datetime | None = None) -> DownloadOutcome:
    """Check a download link and read its package; every attempt is audited (never the token)."""
    now = now or utcnow()
    tenant = session.scalar(select(Tenant).where(Tenant.slug == tenant_slug)) if len(tenant_slug) <= 60 else None
    row = None
    if len(token) <= 100:
        row = session.scalar(select(PackageDownload).where(PackageDownload.token_hash == token_digest(token)))
    if tenant is None:
        return _refuse(session, None, None, "unknown", client_ref)
    if row is None or row.tenant_id != tenant.id:  # another business's link answers like an unknown one
        return _refuse(session, tenant.id, None, "unknown", client_ref)
    if row.subject is None or row.subject.is_erased:
        return _refuse(session, tenant.id, row, "erased", client_ref)
    if row.expires_at <= now:
        return _refuse(session, tenant.id, row, "expired", client_ref)
    reader = Actor("subject", row.subject_id, client_ref)
    try:
        content = files.read_file(session, reader, row.file_id, tenant_id=tenant.id, store=store, purpose="U10")
    except NotFound:
        return _refuse(session, tenant.id, row, "unavailable", client_ref)
    if not content.readable:
        return _refuse(session, tenant.id, row, "unavailable", client_ref)
    row.download_count += 1
    row.last_downloaded_at = now
    audit.record(session, tenant.id, "privacy.access_package_downloaded", reader, target_type="package_download",
                 target_id=row.id, subject_id=row.subject_id, purpose="U10",
                 details={"count": row.download_count, "size": content.size})
    return DownloadOutcome(200, "ok", content.data, str(content.filename), row.language)

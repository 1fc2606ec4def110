"""Operator commands of the privacy kernel: `niaga keys …`, `niaga privacy …`, `niaga backup …`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from niaga.kit.console import cli_console
from niaga.config import SettingsError, get_settings
from niaga.privacy.keys import KeyConfigError

keys_app = typer.Typer(help="Master and tenant keys: rotation and destruction of retired versions.",
                       no_args_is_help=True)
privacy_app = typer.Typer(help="Personal data: the inventory, erasure, storage compaction.", no_args_is_help=True)
backup_app = typer.Typer(help="Encrypted backups: create, list, verify, restore, prune.", no_args_is_help=True)

console = cli_console()
err = cli_console(stderr=True)


def _start() -> tuple[Any, Any]:
    """Settings and the database, or a clear refusal (exit 2) when the configuration or key is bad."""
    from niaga.app import bootstrap

    try:
        settings = get_settings()
        return settings, bootstrap(settings)
    except (SettingsError, KeyConfigError) as exc:
        err.print(f"[red]niaga cannot start:[/red] {exc}")
        raise typer.Exit(2) from None


def _tenant(session, ref: str):  # noqa: ANN001, ANN202
    from sqlalchemy import select

    from niaga.identity.models import Tenant

    try:
        row = session.get(Tenant, uuid.UUID(ref))
    except ValueError:
        row = session.scalar(select(Tenant).where(Tenant.slug == ref))
    if row is None:
        err.print(f"[red]no tenant {ref!r}[/red] (give its slug or id; `niaga tenant list` shows them)")
        raise typer.Exit(1)
    return row


def _versions_in_use(session) -> set[int]:  # noqa: ANN001
    from sqlalchemy import select

    from niaga.privacy.models import PlatformKey, TenantKey

    used = {v for (v,) in session.execute(select(TenantKey.master_version).where(TenantKey.wrapped.is_not(None)))}
    return used | {v for (v,) in session.execute(select(PlatformKey.master_version))}


# -- keys -----------------------------------------------------------------------------------------
@keys_app.command("status")
def keys_status() -> None:
    """Show master key versions (fingerprints, in use or not) and tenant key versions."""
    from sqlalchemy import func, select

    from niaga.privacy.models import TenantKey
    from niaga.privacy.vault import get_vault

    _, database = _start()
    provider = get_vault().provider
    with database.transaction() as session:
        used = _versions_in_use(session)
        tenant_rows = session.execute(
            select(TenantKey.purpose, TenantKey.wrapped.is_(None), TenantKey.retired_at.is_(None), func.count())
            .group_by(TenantKey.purpose, TenantKey.wrapped.is_(None), TenantKey.retired_at.is_(None))
        ).all()
    table = Table("master version", "fingerprint", "state")
    for version in provider.versions:
        state = "active" if version == provider.active_version else ("in use" if version in used else "retired")
        table.add_row(str(version), provider.fingerprint(version), state)
    console.print(table)
    source = f"key file {provider.key_file}" if getattr(provider, "key_file", None) else "NIAGA_MASTER_KEY"
    console.print(f"master keys from {source}")
    for purpose, destroyed, active, count in tenant_rows:
        state = "destroyed" if destroyed else ("active" if active else "retired")
        console.print(f"tenant {purpose} keys, {state}: {count}")


@keys_app.command("rotate-master")
def keys_rotate_master() -> None:
    """Re-wrap every tenant and platform key under a new master key version (data is not re-encrypted)."""
    from niaga.privacy import audit
    from niaga.privacy.vault import get_vault

    _, database = _start()
    vault = get_vault()
    provider = vault.provider
    if getattr(provider, "key_file", None) is not None:
        version = provider.add_version()
        console.print(f"added master key version {version} to {provider.key_file} — back the file up again")
    else:
        version = provider.active_version
        console.print(f"re-wrapping to master key version {version}, the highest in NIAGA_MASTER_KEY "
                      "(add 'vN:KEY' first for a new key)")
    with database.transaction() as session:
        count = vault.rotate_master(session)
        audit.record(session, None, "keys.master_rotated", audit.Actor.system(),
                     details={"version": version, "rewrapped": count})
    console.print(f"{count} keys re-wrapped under master version {version}; data was not touched")
    console.print("older master versions stay until `niaga keys destroy-retired`")


@keys_app.command("rotate-tenant")
def keys_rotate_tenant(tenant: str = typer.Argument(..., help="Tenant slug or id.")) -> None:
    """New tenant data key version; re-wrap each person's key under it (data is not re-encrypted)."""
    from niaga.privacy import audit
    from niaga.privacy.vault import get_vault

    _, database = _start()
    with database.transaction() as session:
        row = _tenant(session, tenant)
        version, count = get_vault().rotate_tenant(session, row.id)
        audit.record(session, row.id, "keys.tenant_rotated", audit.Actor.system(), target_type="tenant",
                     target_id=row.id, details={"version": version, "rewrapped": count})
    console.print(f"tenant {row.slug}: data key version {version}, {count} personal keys re-wrapped")


@keys_app.command("destroy-retired")
def keys_destroy_retired(
    tenant: Optional[str] = typer.Option(None, help="Only this tenant's retired keys (slug or id)."),  # noqa: UP007
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Destroy retired tenant key versions and unused master key versions (irreversible)."""
    from niaga.privacy import audit
    from niaga.privacy.vault import get_vault

    if not yes:
        typer.confirm("Backups made before the rotation become unreadable for good. Continue?", abort=True)
    _, database = _start()
    vault = get_vault()
    provider = vault.provider
    with database.transaction() as session:
        tenant_id = _tenant(session, tenant).id if tenant else None
        destroyed = vault.destroy_retired(session, tenant_id)
        used = _versions_in_use(session)
        audit.record(session, None, "keys.retired_destroyed", audit.Actor.system(),
                     details={"tenant_keys": destroyed})
    console.print(f"{destroyed} retired tenant key versions destroyed")
    oldest_needed = min(used | {provider.active_version})
    unused = [v for v in provider.versions if v < oldest_needed]
    if not unused:
        console.print("no master key version can be destroyed yet")
    elif getattr(provider, "key_file", None) is not None:
        dropped = provider.drop_versions_below(oldest_needed)
        console.print(f"master key versions {dropped} removed from {provider.key_file}; restart running processes")
    else:
        console.print(f"master key versions {unused} are no longer used: remove them from NIAGA_MASTER_KEY")


# -- privacy --------------------------------------------------------------------------------------
@privacy_app.command("inventory")
def privacy_inventory(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Print the record of processing: every personal field, its category, purposes and retention."""
    from niaga.privacy.inventory import build_inventory, inventory_document

    if as_json:
        typer.echo(json.dumps(inventory_document(), indent=2, ensure_ascii=False))
        return
    table = Table(title="Record of processing (UU PDP Pasal 31)")
    for name in ("table", "column"):
        table.add_column(name, no_wrap=True)
    for name in ("category", "purposes", "retention", "recipients", "lookup", "description"):
        table.add_column(name)
    for row in build_inventory():
        table.add_row(row.table, row.column, row.category, ", ".join(row.purposes), row.retention,
                      "; ".join(row.recipients), row.lookup or "-", row.description)
    console.print(table)


@privacy_app.command("erase")
def privacy_erase(
    tenant: str = typer.Option(..., help="Tenant slug or id."),
    subject: str = typer.Option(..., help="The data subject id (from the request or the audit trail)."),
    reason: str = typer.Option(..., help="A short slug: subject-request, retention, tenant-exit, operator…"),
    reference: Optional[str] = typer.Option(None, help="The request number."),  # noqa: UP007
) -> None:
    """Crypto-shred one person now, then remove the erased key's residue from the database files."""
    from niaga.kit.errors import NotFound
    from niaga.privacy import erasure
    from niaga.privacy.audit import Actor

    _, database = _start()
    try:
        subject_id = uuid.UUID(subject)
    except ValueError:
        err.print("[red]--subject must be a data subject id (a UUID)[/red]")
        raise typer.Exit(1) from None
    try:
        with database.transaction() as session:
            result = erasure.erase_subject(session, _tenant(session, tenant).id, subject_id, Actor.system(),
                                           reason, reference)
    except (NotFound, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if result.already_erased:
        console.print("this person was already erased")
    else:
        console.print(f"erased: key destroyed, {result.index_entries} lookup entries removed")
    console.print(erasure.compact_storage(database.engine))


@privacy_app.command("compact")
def privacy_compact() -> None:
    """Remove erased keys' residue from database files and erased people's files from the file store."""
    from niaga.privacy import erasure, files

    settings, database = _start()
    console.print(erasure.compact_storage(database.engine))
    store = files.FileStore.from_settings(settings)
    with database.transaction() as session:
        purged = files.purge_erased_blobs(session, store)
        orphans = files.sweep_orphans(session, store)
    console.print(f"file store: {purged} erased people's files and {orphans} orphaned blobs removed")


# -- backup ---------------------------------------------------------------------------------------
def _backup_failed(exc: Exception) -> None:
    err.print(f"[red]{exc}[/red]")
    raise typer.Exit(1) from None


@backup_app.command("create")
def backup_create() -> None:
    """Take a consistent, encrypted snapshot into DATA_DIR/backups."""
    from niaga.privacy import backup

    settings, database = _start()
    database.dispose()
    try:
        info = backup.create_backup(settings)
    except backup.BackupError as exc:
        _backup_failed(exc)
    console.print(f"backup {info.name} created ({info.size:,} bytes, {info.engine}, master key "
                  f"{info.master_fingerprint})")


@backup_app.command("list")
def backup_list() -> None:
    """List backups with their age and whether the configured master key opens them."""
    from niaga.db.base import utcnow
    from niaga.privacy import backup
    from niaga.privacy.vault import get_vault

    settings, database = _start()
    database.dispose()
    provider = get_vault().provider
    table = Table("file", "created (UTC)", "age (days)", "engine", "size", "master key")
    for entry in backup.list_backups(settings):
        if isinstance(entry, backup.BackupInfo):
            opens = (entry.master_version in provider.versions
                     and provider.fingerprint(entry.master_version) == entry.master_fingerprint)
            table.add_row(entry.name, entry.created_at.strftime("%Y-%m-%d %H:%M"),
                          str((utcnow() - entry.created_at).days), entry.engine, f"{entry.size:,}",
                          entry.master_fingerprint + ("" if opens else " (not configured)"))
        else:
            table.add_row(entry[0].name, "-", "-", "-", "-", f"[red]{entry[1]}[/red]")
    console.print(table)
    console.print(f"retention: {settings.backup_retention_days} days (`niaga backup prune` enforces it)")


@backup_app.command("verify")
def backup_verify(path: Path = typer.Argument(..., help="The backup file.")) -> None:
    """Decrypt a whole backup and check every chunk, without restoring it."""
    from niaga.privacy import backup

    settings, database = _start()
    database.dispose()
    try:
        info = backup.verify_backup(settings, path)
    except backup.BackupError as exc:
        _backup_failed(exc)
    console.print(f"{info.name}: intact")


@backup_app.command("restore")
def backup_restore(
    path: Path = typer.Argument(..., help="The backup file."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Replace the database with a backup (stop the app first); erased people stay erased."""
    from niaga.privacy import backup

    if not yes:
        typer.confirm("The current database will be replaced by the backup. Is the app stopped?", abort=True)
    settings, database = _start()
    database.dispose()
    try:
        report = backup.restore_backup(settings, path)
    except backup.BackupError as exc:
        _backup_failed(exc)
    console.print(f"restored {report.backup.name} (schema now {report.revision}); "
                  f"{report.erasures_known} erasures known, {report.replayed} people erased again")


@backup_app.command("prune")
def backup_prune() -> None:
    """Delete backups older than NIAGA_BACKUP_RETENTION_DAYS."""
    from niaga.privacy import backup

    settings, database = _start()
    database.dispose()
    removed = backup.prune_backups(settings)
    for path in removed:
        console.print(f"deleted {path.name}")
    console.print(f"{len(removed)} backups pruned (retention {settings.backup_retention_days} days)")

"""`niaga crm import FILE --tenant SLUG` and `niaga crm export --tenant SLUG`: contacts from and to CSV.

Both act as the tenant's owner (an operator command speaks for the business) and are audited like the
pages. Row problems name the row and the field, never the row's values.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from niaga.kit.console import cli_console

crm_app = typer.Typer(help="CRM contacts: import and export CSV.", no_args_is_help=True)
console = cli_console()
err = cli_console(stderr=True)
EXIT_REFUSED = 1
EXIT_ROWS_SKIPPED = 3


def _database():  # noqa: ANN202
    from niaga.app import bootstrap
    from niaga.config import SettingsError, get_settings
    from niaga.privacy.keys import KeyConfigError

    try:
        return bootstrap(get_settings())
    except (SettingsError, KeyConfigError) as exc:
        err.print(f"[red]niaga cannot start:[/red] {exc}")
        raise typer.Exit(2) from None


def _owner(session, tenant: str):  # noqa: ANN001, ANN202
    """The principal of the tenant's owner, by tenant slug or id."""
    from sqlalchemy import select

    from niaga.identity.models import Tenant, User
    from niaga.identity.permissions import ROLE_PERMISSIONS, Role
    from niaga.identity.principal import Principal

    try:
        query = select(Tenant).where(Tenant.id == uuid.UUID(tenant))
    except ValueError:
        query = select(Tenant).where(Tenant.slug == tenant)
    row = session.scalar(query)
    owner = row and session.scalar(select(User).where(User.tenant_id == row.id, User.role == Role.OWNER.value))
    if row is None or owner is None:
        err.print(f"[red]no tenant {tenant!r}[/red]")
        raise typer.Exit(EXIT_REFUSED)
    return Principal(tenant_id=row.id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                     permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=False)


@crm_app.command("import")
def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV file of contacts."),
    tenant: str = typer.Option(..., help="Tenant slug or id."),
    mapping: str = typer.Option("", help="column=field pairs when a header is not recognised, e.g. "
                                          "'No WA=phone,Nama Toko=company'."),
    max_rows: int = typer.Option(200_000, min=1, help="Refuse files with more data rows than this."),
    max_mb: int = typer.Option(50, min=1, help="Refuse files larger than this many MB."),
) -> None:
    """Import contacts from CSV: new rows are created, rows matching an email or phone update that contact.

    Exits 0 when every row was taken, 3 when some rows were skipped (listed), 1 when the file was refused.
    """
    from niaga.crm.contacts import importer

    max_bytes = max_mb * 1024 * 1024
    if file.stat().st_size > max_bytes:  # refused before reading it into memory
        err.print(f"[red]refused:[/red] the file is larger than {max_mb} MB; split it or raise --max-mb")
        raise typer.Exit(EXIT_REFUSED)
    data = file.read_bytes()
    database = _database()
    try:
        with database.transaction() as session, _progress() as progress:
            principal = _owner(session, tenant)
            task = progress.add_task("importing", total=None)
            report = importer.import_contacts(
                session, principal, data, mapping=mapping, max_bytes=max_bytes, max_rows=max_rows,
                progress=lambda done, total: progress.update(task, completed=done, total=total))
    except importer.ImportRefused as exc:
        err.print(f"[red]refused:[/red] {exc.message}")
        raise typer.Exit(EXIT_REFUSED) from None
    finally:
        database.dispose()
    columns = ", ".join(f"{column} → {target}" for column, target in report.columns.items())
    console.print(f"columns: {columns}")
    if report.ignored_columns:
        console.print(f"not imported: {', '.join(report.ignored_columns)}")
    if report.encoding == "windows-1252":
        console.print("[yellow]the file was not UTF-8; it was read as Windows-1252[/yellow]")
    for problem in report.problems:
        err.print(f"row {problem.row} ({problem.field}): {problem.message}")
    console.print(f"{report.rows} rows: {report.created} created, {report.updated} updated, "
                  f"{report.unchanged} unchanged, {report.failed} skipped")
    if report.failed:
        raise typer.Exit(EXIT_ROWS_SKIPPED)


@crm_app.command("export")
def export_command(
    tenant: str = typer.Option(..., help="Tenant slug or id."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", dir_okay=False,  # noqa: UP007
                                          help="Write here (mode 0600) instead of standard output."),
) -> None:
    """Export the tenant's contacts as CSV (audited as the owner's export)."""
    from niaga.crm.contacts import exporter

    database = _database()
    try:
        with database.transaction() as session, _progress() as progress:
            principal = _owner(session, tenant)
            task = progress.add_task("exporting", total=None)
            export = exporter.export_contacts(session, principal,
                                              progress=lambda done: progress.update(task, completed=done))
    finally:
        database.dispose()
    if output is None:
        sys.stdout.buffer.write(export.content)
        sys.stdout.flush()
        return
    # Personal data on disk: readable by the operator only.
    output.touch(mode=0o600, exist_ok=True)
    output.chmod(0o600)
    output.write_bytes(export.content)
    err.print(f"{export.count} contacts written to {output}")

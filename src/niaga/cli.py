"""The operator CLI: `niaga --help`."""

from __future__ import annotations

import sys
import uuid
from typing import Optional

import typer
from rich.table import Table

from niaga.kit.console import cli_console
from niaga.config import SettingsError, get_settings
from niaga.privacy.keys import KeyConfigError
from niaga.privacy.cli import backup_app, keys_app, privacy_app
from niaga.crm.contacts.cli import crm_app

app = typer.Typer(help="niaga — privacy-first business platform (operator commands).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (businesses).", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(privacy_app, name="privacy")
app.add_typer(backup_app, name="backup")
app.add_typer(crm_app, name="crm")
inbox_app = typer.Typer(help="The inbox: messaging channels.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")

console = cli_console()
err = cli_console(stderr=True)


def _database(migrated: bool = False):  # noqa: ANN202
    """Start-up for a command: settings, keys, a reachable database (migrated, when asked)."""
    from sqlalchemy import text
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from niaga.app import bootstrap
    from niaga.db import migrate

    try:
        database = bootstrap(get_settings())
        with database.engine.connect().execution_options(readonly=True) as conn:
            conn.execute(text("SELECT 1"))
    except (SettingsError, KeyConfigError) as exc:
        err.print(f"[red]niaga cannot start:[/red] {exc}")
        raise typer.Exit(2) from None
    except (ArgumentError, ValueError) as exc:
        err.print(f"[red]niaga cannot start:[/red] NIAGA_DATABASE_URL is not a valid database URL ({type(exc).__name__})")
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        err.print(f"[red]niaga cannot reach the database:[/red] {reason}")
        raise typer.Exit(2) from None
    if migrated and not migrate.is_current(database.engine):
        err.print("[red]The database is not up to date:[/red] run `niaga db upgrade` first.")
        raise typer.Exit(2)
    return database


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes (PostgreSQL recommended above 1)."),
    upgrade: bool = typer.Option(True, help="Apply pending migrations first."),
) -> None:
    """Serve niaga over HTTP."""
    import uvicorn

    from niaga.db import migrate

    database = _database()
    if upgrade:
        migrate.upgrade(database.engine)
    elif not migrate.is_current(database.engine):
        err.print("[red]The database needs migrations:[/red] run `niaga db upgrade`.")
        raise typer.Exit(2)
    database.dispose()
    console.print(f"niaga is running at [bold]http://{host}:{port}/[/bold]  (Ctrl+C stops it)")
    uvicorn.run("niaga.asgi:app", host=host, port=port, workers=workers, access_log=False, proxy_headers=True,
                log_config=None)


@app.command()
def worker(workers: int = typer.Option(2, help="Worker threads.")) -> None:
    """Run background jobs (outbound sends, sweeps, exports) until stopped."""
    from huey.consumer import Consumer

    from niaga.kit.heap import settle_heap
    from niaga.worker import database, load_task_modules, queue

    load_task_modules()
    database()
    settle_heap()  # start-up is done: what is alive now lives as long as the process
    console.print(f"niaga worker: {workers} threads on the {get_settings().queue} queue (Ctrl+C stops it)")
    Consumer(queue, workers=workers, periodic=True).run()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION."""
    from niaga.db import migrate

    database = _database()
    before = migrate.current_revision(database.engine)
    migrate.upgrade(database.engine, revision)
    after = migrate.current_revision(database.engine)
    console.print(f"database at revision {after} (was {before or 'empty'})")


@db_app.command("status")
def db_status() -> None:
    """Show the current and newest migration."""
    from niaga.db import migrate

    database = _database()
    console.print(f"current: {migrate.current_revision(database.engine) or 'empty'}; newest: {migrate.head_revision()}")


@app.command()
def demo(force: bool = typer.Option(False, help="Seed even when the database already has tenants.")) -> None:
    """Seed a demo business (only into an empty database unless --force)."""
    from niaga.db import migrate
    from niaga.demo import seed_demo

    database = _database()
    migrate.upgrade(database.engine)
    settings = get_settings()
    with database.transaction() as session:
        result = seed_demo(session, settings, force=force)
    if result is None:
        from niaga.demo import DEMO_OWNER, DEMO_STAFF

        console.print("demo data already present; nothing seeded. Demo logins:")
        for email, role in [(DEMO_OWNER, "owner"), *((e, r.value) for _, e, _, _, r in DEMO_STAFF)]:
            console.print(f"  login {email} ({role})  password {settings.demo_password}")
        return
    console.print(f"demo business [bold]{result.tenant_name}[/bold] created")
    for email, role in result.logins:
        console.print(f"  login {email} ({role})  password {settings.demo_password}")


@tenant_app.command("create")
def tenant_create(
    name: str = typer.Option(..., help="Business name."),
    owner_email: str = typer.Option(..., help="Owner's email."),
    owner_name: str = typer.Option(..., help="Owner's full name."),
    owner_phone: str = typer.Option(..., help="Owner's mobile phone."),
    owner_birth_date: str = typer.Option(..., help="Owner's date of birth (YYYY-MM-DD)."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a tenant and its owner (as sign-up does)."""
    from niaga.identity.accounts import SignUpForm, sign_up
    from niaga.identity.passwords import Passwords
    from niaga.kit.errors import ValidationFailed
    from niaga.privacy.audit import Actor

    database = _database(migrated=True)
    settings = get_settings()
    form = SignUpForm(full_name=owner_name, company_name=name, position="Owner", email=owner_email,
                      phone=owner_phone, birth_date=owner_birth_date, password=password, accept_terms=True)
    try:
        with database.transaction() as session:
            user = sign_up(session, form, settings, Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
                           Actor.system())
            console.print(f"tenant {user.tenant_id} created with its owner")
    except ValidationFailed as exc:
        for field, message in exc.errors.items():
            err.print(f"[red]{field}[/red]: {message}")
        raise typer.Exit(1) from None


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    from sqlalchemy import select

    from niaga.identity.models import Tenant

    database = _database(migrated=True)
    table = Table("id", "slug", "name", "time zone", "status")
    with database.transaction() as session:
        for t in session.scalars(select(Tenant).order_by(Tenant.created_at)):
            table.add_row(str(t.id), t.slug, t.name, t.timezone, t.status)
    console.print(table)


def _tenant_owner(session, tenant: str):  # noqa: ANN001, ANN202
    from sqlalchemy import select

    from niaga.identity.models import Tenant, User
    from niaga.identity.permissions import ROLE_PERMISSIONS, Role
    from niaga.identity.principal import Principal

    try:
        query = select(Tenant).where(Tenant.id == uuid.UUID(tenant))
    except ValueError:
        query = select(Tenant).where(Tenant.slug == tenant)
    row = session.scalar(query)
    if row is None:
        err.print(f"[red]no tenant {tenant!r}[/red]")
        raise typer.Exit(1)
    owner = session.scalar(select(User).where(User.tenant_id == row.id, User.role == Role.OWNER.value))
    return row, Principal(tenant_id=row.id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                          permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")


@user_app.command("invite")
def user_invite(
    tenant: str = typer.Option(..., help="Tenant slug or id."),
    email: str = typer.Option(..., help="Invitee's email."),
    role: str = typer.Option("agent", help="owner's choice of role: admin, manager, agent, cashier, auditor."),
) -> None:
    """Invite a staff member; prints the single-use link."""
    from niaga.identity import staff
    from niaga.kit.errors import ValidationFailed

    database = _database(migrated=True)
    settings = get_settings()
    try:
        with database.transaction() as session:
            _, principal = _tenant_owner(session, tenant)
            token, _ = staff.invite(session, principal, email, role, settings)
    except ValidationFailed as exc:
        for field, message in exc.errors.items():
            err.print(f"[red]{field}[/red]: {message}")
        raise typer.Exit(1) from None
    console.print(f"{settings.base_url.rstrip('/')}/invite/{token}")


@user_app.command("create")
def user_create(
    tenant: str = typer.Option(..., help="Tenant slug or id."),
    email: str = typer.Option(...),
    full_name: str = typer.Option(...),
    phone: str = typer.Option(...),
    birth_date: str = typer.Option(..., help="YYYY-MM-DD"),
    role: str = typer.Option("agent"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a staff account directly (invite and accept in one step)."""
    from niaga.identity import staff
    from niaga.identity.passwords import Passwords
    from niaga.kit.errors import DomainError, ValidationFailed

    database = _database(migrated=True)
    settings = get_settings()
    try:
        with database.transaction() as session:
            _, principal = _tenant_owner(session, tenant)
            token, _ = staff.invite(session, principal, email, role, settings)
            form = staff.AcceptForm(full_name=full_name, position="", phone=phone, birth_date=birth_date,
                                    password=password, accept_terms=True)
            user = staff.accept_invitation(session, token, form, settings,
                                           Passwords(settings.argon2_time_cost, settings.argon2_memory_kib), None)
            console.print(f"user {user.id} created as {role}")
    except ValidationFailed as exc:
        for field, message in exc.errors.items():
            err.print(f"[red]{field}[/red]: {message}")
        raise typer.Exit(1) from None
    except DomainError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None


@audit_app.command("verify")
def audit_verify(tenant: Optional[str] = typer.Option(None, help="Only this tenant id.")) -> None:  # noqa: UP007
    """Check every audit chain; exits 1 and names the first broken link when one fails."""
    from niaga.privacy import audit

    database = _database(migrated=True)
    with database.transaction() as session:
        checked, breaks = audit.verify(session, uuid.UUID(tenant) if tenant else None)
    if breaks:
        for b in breaks:
            err.print(f"[red]BROKEN[/red] tenant {b.tenant_id} at event {b.seq}: {b.reason}")
        raise typer.Exit(1)
    console.print(f"audit log intact: {checked} events verified")


@inbox_app.command("poll-email")
def inbox_poll_email() -> None:
    """Read every active email channel's mailbox now (the worker does this every minute)."""
    from niaga.inbox.mailbox import poll_all

    for channel_id, result in poll_all(_database(migrated=True)):
        state = f"[red]{result.error}[/red]" if result.error else "ok"
        console.print(f"channel {channel_id}: {result.stored} new, {result.duplicates} seen before ({state})"
                      + (" — more next time" if result.more else ""))


def main() -> None:
    """Entry point used by `python -m niaga`."""
    app(prog_name="niaga")


if __name__ == "__main__":
    sys.exit(main())

"""The record of processing, and the schema walk that keeps every personal column declared and encrypted."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Integer, LargeBinary, MetaData, String, Table
from typer.testing import CliRunner

from niaga.cli import app as cli_app
from niaga.db.registry import metadata
from niaga.identity.permissions import Role
from niaga.privacy.fields import Category, FieldSpec, Purpose, Retention
from niaga.privacy.files import FILE_KINDS
from niaga.privacy.inventory import (
    NOT_PERSONAL, build_inventory, inventory_document, looks_personal, niaga_fields, schema_findings,
)
from tests.conftest import browser_login


def test_every_personal_looking_column_is_declared_and_stored_as_ciphertext():
    findings = schema_findings(metadata)
    assert findings == [], "\n".join(findings)


def test_the_migrated_database_stores_every_declared_field_as_binary(engine):
    inspector = sa.inspect(engine)
    problems = []
    for spec in niaga_fields():
        columns = {c["name"]: c for c in inspector.get_columns(spec.table)}
        column = columns.get(spec.column)
        if column is None:
            problems.append(f"{spec.key}: missing from the migrated schema")
        elif not isinstance(column["type"], sa.LargeBinary):
            problems.append(f"{spec.key}: stored as {column['type']!r}")
    assert problems == []


def _spec(table: str, column: str) -> FieldSpec:
    return FieldSpec(table=table, column=column, category=Category.CONTACT, purposes=(Purpose.U1,),
                     retention=Retention.RELATIONSHIP, python_type=str, index=None, unique=False, scope="tenant",
                     recipients=(), description="")


def test_the_walk_catches_undeclared_and_plaintext_personal_columns():
    md = MetaData()
    Table("customers", md, Column("id", Integer, primary_key=True), Column("contact_id", Integer),
          Column("email", String(200)), Column("nik", LargeBinary), Column("home_address", String(300)),
          Column("bank_account_number", String(30)), Column("description", String(200)),
          Column("is_whatsapp", Boolean), Column("full_name", String(100)), Column("shipping", String(10)),
          Column("label", String(40), info={"not_personal": "a fixed list: home, work"}))
    Table("chats", md, Column("id", Integer, primary_key=True), Column("message_body", sa.Text),
          Column("client_ip", String(45)), Column("user_agent", String(300)))
    findings = schema_findings(md, declared=[_spec("customers", "full_name"), _spec("customers", "gone")],
                               allow={"customers.shipping": "a flag", "old.column": "removed"})
    text = "\n".join(findings)
    for key in ("customers.email", "customers.nik", "customers.home_address", "customers.bank_account_number",
                "chats.message_body", "chats.client_ip", "chats.user_agent"):
        assert f"{key} looks like personal data" in text
    assert "customers.full_name is declared personal but stored as String" in text
    assert "customers.gone is declared personal but no mapped table" in text
    assert "old.column is on the not-personal list but no longer exists" in text
    for quiet in ("customers.id", "customers.contact_id", "customers.description", "customers.is_whatsapp",
                  "customers.label", "customers.shipping"):
        assert quiet + " " not in text


def test_name_hints_match_whole_words():
    assert looks_personal("full_name") and looks_personal("npwp") and looks_personal("ip_address")
    assert looks_personal("account_number") and looks_personal("birth_date") and looks_personal("body")
    assert not looks_personal("description") and not looks_personal("shipping_fee")
    assert not looks_personal("contact_id") and not looks_personal("created_at")


def test_every_allow_list_entry_has_a_reason():
    assert all(len(reason) > 20 for reason in NOT_PERSONAL.values())


def test_the_inventory_lists_every_declared_field_and_file_kind():
    rows = {f"{r.table}.{r.column}": r for r in build_inventory()}
    for spec in niaga_fields():
        assert spec.key in rows
    for kind in FILE_KINDS:
        assert f"stored_files.content:{kind}" in rows
    email = rows["users.email"]
    assert email.category == "contact" and email.purposes == ("U1", "U5", "U9") and email.retention == "account"
    assert email.lookup == "email" and email.unique and email.recipients and email.description
    assert rows["users.birth_date"].lookup is None  # low-entropy: never indexed


def test_cli_prints_the_inventory_as_a_table_and_as_json():
    runner = CliRunner()
    as_json = runner.invoke(cli_app, ["privacy", "inventory", "--json"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert document == json.loads(json.dumps(inventory_document()))
    keys = {f"{f['table']}.{f['column']}" for f in document["fields"]}
    assert {"users.email", "users.full_name", "staff_sessions.ip_address", "stored_files.filename"} <= keys
    assert document["purposes"]["U6"] == "Marketing, with consent"
    table = runner.invoke(cli_app, ["privacy", "inventory"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "Record of processing" in table.output
    assert "totp_secret" in table.output and "identification" in table.output


def test_staff_page_shows_the_inventory_in_both_languages(client, session, tenant_a, settings):
    browser_login(client, session, tenant_a.owner, settings)
    page = client.get("/privacy/inventory")
    assert page.status_code == 200
    assert '<html lang="id">' in page.text
    for spec in niaga_fields():
        assert f'data-field="{spec.key}"' in page.text
    assert "tenants.name" in page.text  # the reviewed not-personal columns, with reasons
    client.cookies.set("niaga_lang", "en")
    english = client.get("/privacy/inventory")
    assert english.status_code == 200 and "Record of processing" in english.text
    assert "Contact details" in english.text and "Marketing, with consent" in english.text


def test_staff_page_needs_the_inventory_permission(client, session, tenant_a, settings):
    assert client.get("/privacy/inventory", follow_redirects=False).status_code in (303, 401)
    agent = tenant_a.add_staff(session, Role.AGENT)
    session.commit()
    browser_login(client, session, agent, settings)
    assert client.get("/privacy/inventory").status_code == 403

"""The raw-storage guarantee: after seeding real Indonesian personal data, the bytes on disk, a plain
pg_dump and the logs written meanwhile contain none of it (DESIGN.md "The privacy kernel", policies K1, K3).

The database is a fresh, migrated one whose transactions really commit (not the rolled-back fixture),
and the data goes in through the same services the pages and the API use.
"""

from __future__ import annotations

import logging
import os
import subprocess
from datetime import date
from pathlib import Path

import pyotp
from sqlalchemy import text

from niaga.demo import DEMO_OWNER, DEMO_STAFF, seed_demo
from niaga.identity import accounts, auth, staff
from niaga.identity.accounts import SignUpForm, sign_up
from niaga.identity.passwords import Passwords
from niaga.identity.permissions import ROLE_PERMISSIONS, Role
from niaga.identity.principal import Principal
from niaga.kit.logging import configure_logging
from niaga.kit.phone import normalize_phone
from niaga.privacy import files
from niaga.privacy.audit import Actor
from tests.conftest import PASSWORD, make_settings

OWNER = {"name": "Siti Nurhaliza", "email": "Siti.Nurhaliza@TokoMelati.example", "phone": "0812-3456-7801",
         "birth": "1979-11-11", "position": "Pemilik Toko"}
STAFF = [
    {"name": "Bambang Pamungkas", "email": "bambang.pamungkas@tokomelati.example", "phone": "+62 813-2222-3344",
     "birth": "1980-06-10", "position": "Kepala Gudang Cabang Bekasi", "role": "admin"},
    {"name": "Ni Luh Putu Ayu Wulandari", "email": "putu.wulandari@tokomelati.example", "phone": "0857 3900 1122",
     "birth": "1996-02-29", "position": "Kasir Senior", "role": "cashier"},
    {"name": "Teuku Rizky Ramadhan", "email": "rizky.ramadhan@tokomelati.example", "phone": "0821-7788-9900",
     "birth": "1993-03-21", "position": "Sales Lapangan", "role": "agent"},
]
NIK = "3171011708450001"
ADDRESS = "Jl. Melati No. 12 RT 03/RW 05, Kel. Menteng, Kec. Menteng, Jakarta Pusat 10310"
MESSAGE = ("Halo kak, pesanan saya atas nama Siti Nurhaliza belum sampai. Tolong dikirim ke Jl. Melati No. 12 "
           "RT 03/RW 05, Kel. Menteng, Kec. Menteng, Jakarta Pusat 10310, NIK 3171011708450001. Terima kasih!")
DEVICE = {"user_agent": "Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 Chrome/119.0 Mobile",
          "ip": "36.68.121.201"}
FILENAME = f"KTP {NIK} Siti Nurhaliza.jpg"


def _forms(value: str, kind: str = "text") -> set[bytes]:
    """The byte strings a leak of `value` would show: as entered, normalised, and its long words."""
    forms = {value, value.lower(), value.casefold()}
    if kind == "phone":
        e164 = normalize_phone(value)
        forms |= {e164, "0" + e164[3:], e164[1:], "".join(ch for ch in value if ch.isdigit())}
    if kind == "name":
        forms |= {w for w in value.split() if len(w) >= 5} | {w.lower() for w in value.split() if len(w) >= 5}
    if kind == "date":
        forms |= {date.fromisoformat(value).strftime("%d-%m-%Y"), date.fromisoformat(value).strftime("%d/%m/%Y")}
    return {f.encode() for f in forms if f}


def _secrets(totp_secret: str) -> dict[bytes, str]:
    wanted: dict[bytes, str] = {}
    for person in [OWNER, *STAFF]:
        for key, kind in (("name", "name"), ("email", "text"), ("phone", "phone"), ("birth", "date"),
                          ("position", "text")):
            for form in _forms(person[key], kind):
                wanted[form] = f"{person['name'].split()[0]}'s {key}"
    for label, value in (("NIK", NIK), ("address", ADDRESS), ("message", MESSAGE), ("file name", FILENAME),
                         ("user agent", DEVICE["user_agent"]), ("IP address", DEVICE["ip"]),
                         ("TOTP secret", totp_secret)):
        for form in _forms(value):
            wanted[form] = label
    wanted[b"Rumah Makan"] = "control"  # business text is plain by design: proves the scan reads real bytes
    return wanted


def _demo_secrets() -> dict[bytes, str]:
    wanted: dict[bytes, str] = {}
    wanted.update({f: "demo owner name" for f in _forms("Rina Kusuma", "name")})
    for form in _forms(DEMO_OWNER):
        wanted[form] = "demo owner email"
    wanted.update({f: "demo owner phone" for f in _forms("081298765432", "phone")})
    for name, email, phone, born, _role in DEMO_STAFF:
        for value, kind in ((name, "name"), (email, "text"), (phone, "phone"), (born, "date")):
            wanted.update({f: f"demo staff {kind}" for f in _forms(value, kind)})
    return wanted


def _seed(session, settings) -> str:  # noqa: ANN001
    """Seed a business, its staff, their sessions, a second factor and two documents; returns the TOTP secret."""
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    owner = sign_up(session, SignUpForm(
        full_name=OWNER["name"], company_name="Rumah Makan Melati", position=OWNER["position"], email=OWNER["email"],
        phone=OWNER["phone"], birth_date=OWNER["birth"], password=PASSWORD, accept_terms=True, industry="food",
    ), settings, passwords, Actor.system())
    principal = Principal(tenant_id=owner.tenant_id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                          permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
    for person in STAFF:
        token, _ = staff.invite(session, principal, person["email"], person["role"], settings)
        user = staff.accept_invitation(session, token, staff.AcceptForm(
            full_name=person["name"], position=person["position"], phone=person["phone"], birth_date=person["birth"],
            password=PASSWORD, accept_terms=True), settings, passwords, None)
        auth.start_session(session, user, settings, user_agent=DEVICE["user_agent"], client=DEVICE["ip"],
                           client_ref=None)
    auth.start_session(session, owner, settings, user_agent=DEVICE["user_agent"], client=DEVICE["ip"],
                       client_ref=None)
    secret = auth.new_totp_secret()
    auth.enable_totp(session, owner, secret, pyotp.TOTP(secret).now(), principal.actor)
    # Profile edits leave old row versions behind in the files: they must be ciphertext too.
    accounts.update_profile(session, owner, full_name=OWNER["name"], position="Pemilik", phone=OWNER["phone"],
                            locale="id", actor=principal.actor)
    store = files.FileStore.from_settings(settings)
    files.store_file(session, principal, owner.subject_id, MESSAGE.encode(), "pesan-whatsapp.txt", store=store)
    files.store_file(session, principal, owner.subject_id, b"\xff\xd8\xff\xe0" + NIK.encode() + ADDRESS.encode(),
                     FILENAME, store=store)
    # Lookups by email and phone work through the blind index: the data is there, just not readable.
    assert accounts.email_taken(session, OWNER["email"].lower())
    return secret


def _sqlite_bytes(path: Path) -> bytes:
    return b"".join(Path(f"{path}{s}").read_bytes() for s in ("", "-wal", "-shm") if Path(f"{path}{s}").exists())


def _pg_dump(fresh) -> bytes:  # noqa: ANN001
    cmd = [fresh.pg.bin("pg_dump"), "--format=plain", "--no-owner", "-h", "127.0.0.1", "-p", str(fresh.pg.port),
           "-U", "niaga", fresh.pg_name]
    if os.geteuid() == 0:  # as the server's own user, the way tests/support/pg.py runs PostgreSQL binaries
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    result = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"CREATE TABLE public.users" in result.stdout
    return result.stdout


def _pg_files(fresh) -> bytes:  # noqa: ANN001
    with fresh.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        oid = conn.scalar(text("SELECT oid FROM pg_database WHERE datname = current_database()"))
    return b"".join(p.read_bytes() for p in sorted((fresh.pg.data / "base" / str(oid)).iterdir()) if p.is_file())


def _raw_views(fresh) -> dict[str, bytes]:  # noqa: ANN001
    if fresh.sqlite_path is not None:
        before = _sqlite_bytes(fresh.sqlite_path)
        raw = fresh.database.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            raw.close()
        return {"SQLite file and WAL": before, "SQLite file and WAL after checkpoint": _sqlite_bytes(fresh.sqlite_path)}
    return {"pg_dump": _pg_dump(fresh), "PostgreSQL data files": _pg_files(fresh)}


def _leaks(views: dict[str, bytes], wanted: dict[bytes, str]) -> list[str]:
    return [f"{what} ({form!r}) found in {where}"
            for where, blob in views.items() for form, what in wanted.items()
            if what != "control" and form in blob]


def _log_everything(caplog) -> None:  # noqa: ANN001
    """Log at DEBUG through niaga's pipeline, SQL statements, parameters and result rows included."""
    configure_logging("DEBUG", json_output=True)
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQLAlchemy keeps its own loggers at WARN


def test_seeded_personal_data_never_reaches_disk_dumps_or_logs(fresh_db, tmp_path, keep_vault, caplog, capsys):
    settings = make_settings(tmp_path / "data", database_url=fresh_db.url)
    _log_everything(caplog)

    with fresh_db.database.transaction() as session:
        totp_secret = _seed(session, settings)
    wanted = _secrets(totp_secret)
    views = _raw_views(fresh_db)
    views["file store"] = b"".join(p.read_bytes() for p in (settings.data_dir / "files").rglob("*") if p.is_file())
    views["file store paths"] = "\n".join(str(p) for p in (settings.data_dir / "files").rglob("*")).encode()
    captured = capsys.readouterr()
    views["logs"] = (caplog.text + captured.out + captured.err).encode()

    assert [w for w, blob in views.items() if not w.startswith("file") and b"Rumah Makan" not in blob] == []
    assert len(caplog.records) > 50  # the SQL really was logged
    leaks = _leaks(views, wanted)
    assert leaks == [], "\n".join(leaks)


def test_the_demo_data_obeys_the_same_rule(fresh_db, tmp_path, keep_vault, caplog, capsys):
    settings = make_settings(tmp_path / "data", database_url=fresh_db.url)
    _log_everything(caplog)

    with fresh_db.database.transaction() as session:
        result = seed_demo(session, settings)
        assert result is not None and (DEMO_STAFF[0][1], "admin") in result.logins
        assert accounts.email_taken(session, DEMO_STAFF[0][1])  # demo logins are found by blind index
    views = _raw_views(fresh_db)
    captured = capsys.readouterr()
    views["logs"] = (caplog.text + captured.out + captured.err).encode()

    assert all(b"Toko Maju Jaya" in blob for blob in views.values() if blob is not views["logs"])
    leaks = _leaks(views, _demo_secrets())
    assert leaks == [], "\n".join(leaks)

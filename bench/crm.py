"""CRM contacts at scale, measured in one run; prints one JSON object.

    .venv/bin/python bench/crm.py                      # 100k contacts (built once, then reused), 10k-row import
    .venv/bin/python bench/crm.py --quick              # 5k contacts, 1k-row import: a smoke test
    .venv/bin/python bench/crm.py --contacts 100000 --import-rows 20000 --rebuild

The tenant's contacts are built once into a SQLite file under --data (default /tmp/niaga-bench-crm) with its
own random master key, through the real models: one data subject (own key) per contact, name, email and
phone sealed and blind-indexed by the before-flush hook, in batches of 2,000 with one commit per batch.
Later runs reuse the file. Figures:

1. `list_page`: `GET /contacts` as the owner (the staff page: 50 rows, names, first email and phone
   decrypted, owners and companies looked up), first page and a page deep in the keyset, and the JSON
   `GET /api/v1/contacts`. In-process (ASGI test client): the app's own time, no network.
   Reference: the same 50 rows loaded without decrypting anything (`page_query_only_ms`).
2. `search_phone`: `POST /contacts/search` with a random contact's phone written the way people type it
   (0812…, +62 812-…, 62812…), and the JSON `POST /api/v1/contacts/search`. Reference: finding the same
   phone by decrypting and scanning the phone rows, timed on a sample and extrapolated to the tenant.
3. `csv_import`: `importer.import_contacts` on a generated file of new people (name, email, phone, city,
   tags), in one transaction in the 100k tenant (so every row's duplicate lookup runs against 100k), then
   the same file again (every row matched, nothing changes). Rolled back afterwards so the file stays as
   built; the commit itself is therefore not in the figure. 100k-row time is extrapolated from the rate.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from niaga.config import Settings  # noqa: E402
from niaga.db import migrate  # noqa: E402
from niaga.db.engine import Database  # noqa: E402
from niaga.privacy.keys import LocalKeyProvider  # noqa: E402
from niaga.privacy.vault import configure_vault, get_vault  # noqa: E402

FIRST = ["Siti", "Budi", "Agus", "Dewi", "Rina", "Andi", "Sri", "Joko", "Wahyu", "Putri", "Ayu", "Bambang", "Eko",
         "Fitri", "Hendra", "Indah", "Kartika", "Lestari", "Made", "Nur", "Putu", "Rahmat", "Slamet", "Teguh",
         "Wulan", "Yusuf", "Yohana", "Dimas", "Anisa", "Bayu"]
LAST = ["Santoso", "Wijaya", "Lestari", "Pratama", "Hidayat", "Saputra", "Rahmawati", "Nugroho", "Kusuma",
        "Siregar", "Simanjuntak", "Setiawan", "Susanti", "Handayani", "Gunawan", "Prasetyo", "Maulana", "Aminah",
        "Wulandari", "Permatasari"]
CITIES = ["Yogyakarta", "Sleman", "Bantul", "Jakarta Selatan", "Bandung", "Surabaya", "Makassar", "Denpasar",
          "Medan", "Semarang"]
BATCH = 2000
OWNER_EMAIL = "pemilik@bench-crm.example"


def machine() -> dict:
    """Where the figures come from."""
    meminfo = Path("/proc/meminfo")
    mem_kib = 0
    if meminfo.exists():
        found = re.search(r"MemTotal:\s+(\d+)", meminfo.read_text())
        mem_kib = int(found.group(1)) if found else 0
    cpuinfo = Path("/proc/cpuinfo")
    cpu = ""
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else ""
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "os": f"{platform.system()} {platform.release()}",
            "load_average_1m_at_start": round(os.getloadavg()[0], 2)}


def phone_of(i: int) -> str:
    """A distinct, valid Indonesian mobile number for person i (E.164)."""
    return f"+62812{i:08d}"


def typed(e164: str, rng: random.Random) -> str:
    """A phone number as a person might type it."""
    national = "0" + e164[3:]
    return rng.choice([national, f"{national[:4]}-{national[4:8]}-{national[8:]}", e164[1:],
                       f"+62 {e164[3:6]} {e164[6:10]} {e164[10:]}"])


def name_of(i: int, rng: random.Random) -> str:
    """A realistic name (not unique: words repeat across the tenant as real names do)."""
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def ms(seconds: float) -> float:
    """Milliseconds, rounded for the report."""
    return round(seconds * 1000, 2)


def summary(samples: list[float]) -> dict:
    """Median, p95 and mean of latencies in seconds, as milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"n": len(samples), "p50_ms": ms(statistics.median(ordered)), "p95_ms": ms(p95),
            "mean_ms": ms(statistics.fmean(ordered))}


def settings_for(data: Path) -> Settings:
    """Settings with the bench's own key file (so the built database can be reused)."""
    key_file = data / "master.key"
    if not key_file.exists():
        key_file.write_text(base64.b64encode(os.urandom(32)).decode())
        key_file.chmod(0o600)
    return Settings(data_dir=data, master_key=key_file.read_text().strip(), argon2_time_cost=1,
                    argon2_memory_kib=8, log_level="WARNING", log_json=True, base_url="http://bench")


def owner_principal(session):  # noqa: ANN001, ANN201
    """The bench tenant's owner as a principal."""
    from niaga.identity.models import User
    from niaga.identity.permissions import ROLE_PERMISSIONS, Role
    from niaga.identity.principal import Principal

    owner = session.scalar(select(User).where(User.role == Role.OWNER.value).order_by(User.created_at).limit(1))
    return owner, Principal(tenant_id=owner.tenant_id, user_id=owner.id, subject_id=owner.subject_id,
                            role=Role.OWNER, permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")


def build(database: Database, settings: Settings, contacts: int) -> dict:
    """Sign up the bench business and add `contacts` contacts in batches, one commit per batch."""
    from niaga.crm.models import Contact, ContactEmail, ContactPhone
    from niaga.identity.accounts import SignUpForm, sign_up
    from niaga.identity.passwords import Passwords
    from niaga.privacy.audit import Actor

    migrate.upgrade(database.engine)
    with database.transaction() as session:
        sign_up(session, SignUpForm(full_name="Rina Kusuma", company_name="Toko Bench CRM", position="Pemilik",
                                    email=OWNER_EMAIL, phone="081298765432", birth_date="1988-06-15",
                                    password="bench-kopi-susu-gula-aren-2026", accept_terms=True),
                settings, Passwords(1, 8), Actor.system())
    rng = random.Random(7)
    vault = get_vault()
    started = time.perf_counter()
    for start in range(0, contacts, BATCH):
        with database.transaction() as session:
            _, principal = owner_principal(session)
            for i in range(start, min(start + BATCH, contacts)):
                subject = vault.new_subject(session, principal.tenant_id, "contact")
                contact = Contact(tenant_id=principal.tenant_id, subject=subject, full_name=name_of(i, rng),
                                  owner_id=principal.user_id, source="import", tags=["grosir"] if i % 10 == 0 else [])
                contact.emails.append(ContactEmail(tenant_id=principal.tenant_id, subject=subject,
                                                   email=f"pelanggan{i}@contoh.example"))
                contact.phones.append(ContactPhone(tenant_id=principal.tenant_id, subject=subject,
                                                   phone=phone_of(i)))
                session.add(contact)
        print(f"built {min(start + BATCH, contacts)}/{contacts}", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    return {"contacts": contacts, "seconds": round(elapsed, 1), "contacts_per_s": round(contacts / elapsed)}


def open_client(app, database: Database, settings: Settings):  # noqa: ANN001, ANN201
    """A test client signed in as the owner, with the CSRF cookie and form token."""
    from fastapi.testclient import TestClient

    from niaga.identity import auth
    from niaga.web.deps import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for

    client = TestClient(app, raise_server_exceptions=True)
    with database.transaction() as session:
        owner, _ = owner_principal(session)
        token, _ = auth.start_session(session, owner, settings, user_agent="bench", client="127.0.0.1",
                                      client_ref=None)
        cookie = "bench-csrf-cookie"
        form_token = csrf_token_for(session, cookie)
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(CSRF_COOKIE, cookie)
    return client, form_token


def timed(call, repeats: int, check=None) -> list[float]:  # noqa: ANN001
    """Latencies of `repeats` calls (after one warm-up call)."""
    result = call(0)
    if check is not None:
        check(result)
    samples = []
    for n in range(1, repeats + 1):
        started = time.perf_counter()
        result = call(n)
        samples.append(time.perf_counter() - started)
        if check is not None:
            check(result)
    return samples


def bench_list(client, database: Database, repeats: int) -> dict:  # noqa: ANN001
    """The contact list page and API, and the same page's rows loaded without decryption."""
    from niaga.crm.contacts.repository import ContactFilter, list_contacts

    def fifty_rows(resp) -> None:  # noqa: ANN001
        assert resp.status_code == 200, resp.status_code
        assert resp.text.count('<td data-label="Nama">') == 50

    def fifty_items(resp) -> None:  # noqa: ANN001
        assert resp.status_code == 200 and len(resp.json()["items"]) == 50

    first = timed(lambda n: client.get("/contacts"), repeats, fifty_rows)
    with database.transaction() as session:
        _, principal = owner_principal(session)
        total = session.scalar(select(func.count()).select_from(select_contact_ids(principal).subquery()))
        middle = session.scalar(select_contact_ids(principal).offset(total // 2).limit(1))
    deep = timed(lambda n: client.get("/contacts", params={"after": str(middle)}), repeats, fifty_rows)
    api = timed(lambda n: client.get("/api/v1/contacts"), repeats, fifty_items)

    def rows_only(n: int) -> None:
        with database.transaction() as session:
            _, principal = owner_principal(session)
            rows, _ = list_contacts(session, principal, ContactFilter())
            assert len(rows) == 50

    reference = timed(rows_only, repeats)
    return {"first_page": summary(first), "deep_page": summary(deep), "api": summary(api),
            "page_query_only_ms": summary(reference)["p50_ms"],
            "page_vs_query_only": round(statistics.median(first) / statistics.median(reference), 1)}


def select_contact_ids(principal):  # noqa: ANN001, ANN201
    """Ids of the tenant's active contacts, newest first."""
    from niaga.crm.models import Contact

    return (select(Contact.id).where(Contact.tenant_id == principal.tenant_id, Contact.status == "active")
            .order_by(Contact.id.desc()))


def bench_search(client, form_token: str, database: Database, contacts: int, repeats: int) -> dict:  # noqa: ANN001
    """Phone search on the page and the API, against decrypt-and-scan."""
    from niaga.crm.models import ContactPhone

    rng = random.Random(11)
    targets = [rng.randrange(contacts) for _ in range(repeats + 1)]

    def page(n: int):  # noqa: ANN202
        return client.post("/contacts/search", data={"q": typed(phone_of(targets[n]), rng), "csrf_token": form_token})

    def found_one(resp) -> None:  # noqa: ANN001
        assert resp.status_code == 200 and resp.text.count('<td data-label="Nama">') == 1, resp.status_code

    on_page = timed(page, repeats, found_one)
    def one_item(resp) -> None:  # noqa: ANN001
        assert resp.status_code == 200 and len(resp.json()["items"]) == 1, resp.text

    api = timed(lambda n: client.post("/api/v1/contacts/search", json={"q": typed(phone_of(targets[n]), rng)},
                                      headers={"X-CSRF-Token": form_token}), repeats, one_item)
    # Reference: open phone rows one by one (a fresh session: keys unwrapped as a new process would).
    sample = min(contacts, 5000)
    wanted = phone_of(contacts - 1)
    with database.transaction() as session:
        started = time.perf_counter()
        scanned = 0
        for row in session.scalars(select(ContactPhone).limit(sample)):
            scanned += 1
            if row.phone == wanted:
                break
        per_row = (time.perf_counter() - started) / scanned
    scan_all = per_row * contacts
    return {"page": summary(on_page), "api": summary(api),
            "decrypt_and_scan": {"sampled_rows": scanned, "per_row_us": round(per_row * 1e6, 1),
                                 "extrapolated_ms": ms(scan_all)},
            "scan_vs_index": round(scan_all / statistics.median(on_page), 1)}


def import_file(rows: int, offset: int) -> bytes:
    """A CSV of new people, with Indonesian headers, as a shop would export it from a spreadsheet."""
    rng = random.Random(offset)
    lines = ["nama;email;no hp;kota;tag"]
    for i in range(offset, offset + rows):
        lines.append(f"{name_of(i, rng)};baru{i}@contoh.example;{typed(phone_of(i), rng)};{rng.choice(CITIES)};"
                     f"{'vip' if i % 7 == 0 else ''}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def bench_import(database: Database, contacts: int, rows: int) -> dict:
    """Import `rows` new people into the big tenant, then the same file again; rolled back."""
    from niaga.crm.contacts.importer import import_contacts

    data = import_file(rows, offset=10_000_000)
    session = database.session()
    try:
        _, principal = owner_principal(session)
        started = time.perf_counter()
        first = import_contacts(session, principal, data, max_rows=rows, max_bytes=len(data) + 1)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        again = import_contacts(session, principal, data, max_rows=rows, max_bytes=len(data) + 1)
        again_s = time.perf_counter() - started
    finally:
        session.rollback()
        session.close()
    assert first.created == rows and again.unchanged == rows, (first.problems[:3], again.problems[:3])
    rate = rows / first_s
    return {"rows": rows, "tenant_contacts": contacts, "new_rows_per_s": round(rate),
            "unchanged_rows_per_s": round(rows / again_s), "seconds": round(first_s, 1),
            "extrapolated_100k_rows_s": round(100_000 / rate), "note": "measured on `rows` rows and extrapolated; "
            "one transaction, rolled back (commit not timed)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per figure")
    parser.add_argument("--data", type=Path, default=Path("/tmp/niaga-bench-crm"))
    parser.add_argument("--rebuild", action="store_true", help="build the contacts again")
    parser.add_argument("--quick", action="store_true", help="5k contacts, 1k import rows, 10 requests")
    args = parser.parse_args()
    if args.quick:
        args.contacts, args.import_rows, args.requests = 5000, 1000, 10
    host = machine()
    args.data.mkdir(parents=True, exist_ok=True)
    settings = settings_for(args.data)
    configure_vault(LocalKeyProvider({1: base64.b64decode(settings.master_key)}))
    path = args.data / f"crm-{args.contacts}.db"
    if args.rebuild:
        for leftover in args.data.glob(f"crm-{args.contacts}.db*"):
            leftover.unlink()
    fresh = not path.exists()
    database = Database.from_url(f"sqlite:///{path}")
    built = build(database, settings, args.contacts) if fresh else {"contacts": args.contacts, "reused": str(path)}

    from niaga.app import create_app

    app = create_app(settings, database)
    client, form_token = open_client(app, database, settings)
    report = {
        "benchmark": "crm-contacts",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": host,
        "engine": "sqlite",
        "database_mb": round(path.stat().st_size / 1e6, 1),
        "built": built,
        "list_page": bench_list(client, database, args.requests),
        "search_phone": bench_search(client, form_token, database, args.contacts, args.requests),
        "csv_import": bench_import(database, args.contacts, args.import_rows),
    }
    client.close()
    database.dispose()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

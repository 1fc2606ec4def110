"""Data-subject requests at scale: one person's access package and one person's erasure; prints one JSON object.

    .venv/bin/python bench/dsr.py              # tenants of 10k and of 1M records (built once, then reused)
    .venv/bin/python bench/dsr.py --quick      # 2k and 20k records: a smoke test
    .venv/bin/python bench/dsr.py --sizes 10000,1000000 --repeats 7 --erasures 7 --rebuild

Each size is one tenant in its own SQLite file under --data (default /tmp/niaga-bench-dsr), with its own
random master key. Its records are 40% contacts (each with an email, a phone and their blind-index rows),
20% deals, 20% tickets and 20% chat messages (in conversations of two), plus one audit event per contact,
deal and ticket. These bulk rows are inserted in batches of plain INSERTs with random bytes where the
ciphertexts, wrapped keys and digests go: the figures never read them (the package reads one person's rows,
erasure deletes one person's key), so only their number and size matter. The audit chain of the bulk
events is therefore not verifiable in these files.

Then a few people are added through the real services (contact with two emails, a phone and an address;
three deals, one won; two tickets with a comment each; three activities; two marketing consents; a 20 kB
file; a chat conversation of ten messages; a few dozen audit events): the same in every tenant.
Figures, per size:

1. `package`: `prepare_access_package` for one person — `build_package` (every record of the person from
   every domain, consents, processing trail), JSON + CSV + HTML rendering, zip, encryption into the file
   store (written and fsynced) and the download row — median of --repeats runs, each rolled back (the
   commit is not in the figure). `build_package_ms` and `render_zip_ms` split it.
2. `erasure`: `delete_person` (end every consent, crypto-shred, log) plus the commit, one person each run,
   in a process whose key cache is full of other people.
Targets: package under 1 s at 1M records; erasure time the same at both sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse
import base64
import importlib.util
import json
import os
import platform
import random
import re
import sqlite3
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from niaga.config import Settings
from niaga.db import migrate, registry  # noqa: F401 - every model mapped before the first query
from niaga.db.base import new_id, utcnow
from niaga.db.engine import Database
from niaga.privacy.keys import LocalKeyProvider
from niaga.privacy.vault import configure_vault

BATCH_CONTACTS = 20_000
OWNER_EMAIL = "pemilik@bench-dsr.example"
HAS_INBOX = importlib.util.find_spec("niaga.inbox.models") is not None


def machine() -> dict:
    """Where the figures come from."""
    mem_kib = 0
    if Path("/proc/meminfo").exists():
        found = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kib = int(found.group(1)) if found else 0
    return {"cores": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "os": f"{platform.system()} {platform.release()}",
            "load_average_1m_at_start": round(os.getloadavg()[0], 2)}


def ms(seconds: float) -> float:
    """Milliseconds, rounded for the report."""
    return round(seconds * 1000, 1)


def settings_for(data: Path) -> Settings:
    """Settings with the bench's own key file (so a built database can be reused)."""
    key_file = data / "master.key"
    if not key_file.exists():
        key_file.write_text(base64.b64encode(os.urandom(32)).decode())
        key_file.chmod(0o600)
    return Settings(data_dir=data, master_key=key_file.read_text().strip(), argon2_time_cost=1,
                    argon2_memory_kib=8, log_level="WARNING", log_json=True, base_url="http://bench")


def owner_principal(session):
    """The bench tenant's owner as a principal."""
    from niaga.identity.models import User
    from niaga.identity.permissions import ROLE_PERMISSIONS, Role
    from niaga.identity.principal import Principal

    owner = session.scalar(select(User).where(User.role == Role.OWNER.value).order_by(User.created_at).limit(1))
    return Principal(tenant_id=owner.tenant_id, user_id=owner.id, subject_id=owner.subject_id, role=Role.OWNER,
                     permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")


def _sealed(length: int) -> bytes:
    """Bytes the size of a sealed value of `length` characters (header, nonce, ciphertext, tag)."""
    return os.urandom(5 + 12 + length + 16)


class BulkLoader:
    """Plain INSERTs of a tenant's records in batches, one transaction per batch."""

    def __init__(self, database: Database, principal, pipeline_id, stage_id, channel_id) -> None:
        self.engine = database.engine
        self.tid, self.owner = principal.tenant_id, principal.user_id
        self.pipeline_id, self.stage_id, self.channel_id = pipeline_id, stage_id, channel_id
        from niaga.privacy.audit import AuditEvent, AuditHead

        self.audit, self.head = AuditEvent.__table__, AuditHead
        with database.transaction() as s:
            head = s.get(AuditHead, self.tid)
            self.seq = head.seq
            self.ticket_number = 1_000_000

    def load(self, records: int) -> dict:
        """Insert `records` records (40/20/20/20 contacts, deals, tickets, messages); returns counts and time."""
        started = time.perf_counter()
        contacts = records * 4 // 10
        counts = {"contacts": 0, "deals": 0, "tickets": 0, "messages": 0, "audit_events": 0}
        done = 0
        while done < contacts:
            n = min(BATCH_CONTACTS, contacts - done)
            self._batch(n, counts)
            done += n
            print(f"  loaded {done}/{contacts} contacts and their records", file=sys.stderr, flush=True)
        from niaga.privacy.audit import AuditHead

        with self.engine.begin() as conn:  # the chain head follows the bulk events so new events append after
            conn.execute(AuditHead.__table__.update().where(AuditHead.tenant_id == self.tid)
                         .values(seq=self.seq, hash=os.urandom(32).hex()))
        counts["seconds"] = round(time.perf_counter() - started, 1)
        counts["records"] = counts["contacts"] + counts["deals"] + counts["tickets"] + counts["messages"]
        return counts

    def _audit_row(self, now, action: str, target: str, row_id, subject_id) -> dict:
        self.seq += 1
        return {"tenant_id": self.tid, "seq": self.seq, "at": now, "actor_type": "user", "actor_id": self.owner,
                "action": action, "outcome": "ok", "target_type": target, "target_id": row_id.hex,
                "subject_id": subject_id, "purpose": "U1", "client_ref": None, "details": {},
                "prev_hash": os.urandom(32).hex(), "hash": os.urandom(32).hex()}

    def _batch(self, n: int, counts: dict) -> None:
        from niaga.crm.models import Contact, ContactEmail, ContactPhone
        from niaga.crm.sales.models import Deal
        from niaga.crm.service_desk.models import Ticket
        from niaga.privacy.models import BlindIndexEntry, DataSubject

        tid, now = self.tid, utcnow()
        rows: dict = {t: [] for t in ("subjects", "contacts", "emails", "phones", "index", "deals", "tickets",
                                      "conversations", "messages", "audit")}
        people = []
        for _ in range(n):
            sid, cid = new_id(), new_id()
            people.append((sid, cid))
            rows["subjects"].append({"tenant_id": tid, "id": sid, "kind": "contact", "key_version": 1,
                                     "tenant_key_version": 1, "key_wrapped": os.urandom(60), "created_at": now})
            rows["contacts"].append({"tenant_id": tid, "id": cid, "subject_id": sid, "owner_id": self.owner,
                                     "source": "import", "tags": [], "status": "active", "created_at": now,
                                     "updated_at": now, "full_name": _sealed(16)})
            eid, pid = new_id(), new_id()
            rows["emails"].append({"tenant_id": tid, "id": eid, "subject_id": sid, "contact_id": cid, "label": "",
                                   "position": 0, "email": _sealed(28)})
            rows["phones"].append({"tenant_id": tid, "id": pid, "subject_id": sid, "contact_id": cid, "label": "",
                                   "whatsapp": True, "position": 0, "phone": _sealed(14)})
            for field, row_id, unique in (("contact_emails.email", eid, True), ("contact_phones.phone", pid, True),
                                          ("contacts.full_name", cid, False), ("contacts.full_name", cid, False)):
                rows["index"].append({"tenant_id": tid, "field": field, "row_id": row_id, "digest": os.urandom(32),
                                      "subject_id": sid, "is_unique": unique})
            rows["audit"].append(self._audit_row(now, "crm.contact_created", "contact", cid, sid))
        for i in range(n // 2):
            sid, cid = people[i * 2]
            deal_id, ticket_id = new_id(), new_id()
            rows["deals"].append({"tenant_id": tid, "id": deal_id, "subject_id": sid, "value": 1_500_000,
                                  "owner_id": self.owner, "contact_id": cid, "pipeline_id": self.pipeline_id,
                                  "stage_id": self.stage_id, "status": "open", "title": _sealed(30),
                                  "created_at": now, "updated_at": now})
            rows["audit"].append(self._audit_row(now, "crm.deal_created", "deal", deal_id, sid))
            sid, cid = people[i * 2 + 1]
            self.ticket_number += 1
            rows["tickets"].append({"tenant_id": tid, "id": ticket_id, "subject_id": sid,
                                    "number": self.ticket_number, "contact_id": cid, "priority": "normal",
                                    "status": "new", "channel": "manual", "owner_id": self.owner,
                                    "response_used_seconds": 0, "response_breached": False,
                                    "resolution_used_seconds": 0, "resolution_breached": False,
                                    "title": _sealed(40), "description": _sealed(200), "created_at": now,
                                    "updated_at": now})
            rows["audit"].append(self._audit_row(now, "ticket.created", "ticket", ticket_id, sid))
        if HAS_INBOX:
            for i in range(n // 4):
                sid, cid = people[i * 4 + 3]
                conv = new_id()
                rows["conversations"].append({
                    "tenant_id": tid, "id": conv, "subject_id": sid, "channel_id": self.channel_id, "contact_id": cid,
                    "thread_key": "", "status": "open", "labels": [], "unread_count": 0, "opened_at": now,
                    "last_message_at": now, "created_at": now, "updated_at": now})
                for direction in ("in", "out"):
                    rows["messages"].append({
                        "tenant_id": tid, "id": new_id(), "subject_id": sid, "conversation_id": conv,
                        "channel_id": self.channel_id, "direction": direction, "kind": "text",
                        "status": "received" if direction == "in" else "sent", "failure_code": "",
                        "failure_reason": "", "private": False, "template": "", "at": now, "attempts": 0,
                        "body": _sealed(80)})
        tables = [("subjects", DataSubject), ("contacts", Contact), ("emails", ContactEmail), ("phones", ContactPhone),
                  ("index", BlindIndexEntry), ("deals", Deal), ("tickets", Ticket)]
        if HAS_INBOX:
            from niaga.inbox.models import Conversation, Message

            tables += [("conversations", Conversation), ("messages", Message)]
        with self.engine.begin() as conn:
            for key, model in tables:
                if rows[key]:
                    conn.execute(insert(model.__table__), rows[key])
            conn.execute(insert(self.audit), rows["audit"])
        counts["contacts"] += n
        counts["deals"] += len(rows["deals"])
        counts["tickets"] += len(rows["tickets"])
        counts["messages"] += len(rows["messages"])
        counts["audit_events"] += len(rows["audit"])


def make_person(session, principal, channel_id, i: int, store) -> uuid.UUID:
    """One customer with records in every domain, through the services; returns their subject id."""
    from niaga.crm.contacts import service as contacts
    from niaga.crm.sales import deals
    from niaga.crm.service_desk import activities
    from niaga.crm.service_desk import service as desk
    from niaga.privacy import files
    from niaga.privacy.audit import Actor
    from niaga.privacy.consent import ConsentMethod, ConsentPurpose, record_consent

    contact = contacts.create_contact(session, principal, {
        "full_name": f"Siti Nurhaliza {i}", "emails": [f"siti{i}@dsr.example", f"siti{i}.kantor@dsr.example"],
        "phones": [f"+62813{i:08d}"], "birth_date": "1990-04-12", "notes": "Pelanggan setia sejak 2019",
        "addresses": {"shipping": {"street": "Jl. Melati No. 12", "city": "Jakarta Pusat", "province": "DKI Jakarta",
                                   "postal_code": "10310"}}})
    for n in range(3):
        deal = deals.create_deal(session, principal, title=f"Pesanan kopi {n}", contact_id=contact.id, value=750_000)
        if n == 0:
            deals.win_deal(session, principal, deal)
    for n in range(2):
        ticket = desk.create_ticket(session, principal, {"title": f"Pesanan belum sampai {n}",
                                                          "description": "Mohon dicek"}, contact=contact)
        desk.add_comment(session, principal, ticket, {"body": "Sudah kami cek, dikirim besok", "public": True})
    for kind in ("call", "meeting", "note"):
        activities.create_activity(session, principal, {"kind": kind, "body": "Menanyakan stok kopi gayo"},
                                   contact=contact)
    for purpose in (ConsentPurpose.MARKETING_WHATSAPP, ConsentPurpose.MARKETING_EMAIL):
        record_consent(session, contact.subject, purpose, True, method=ConsentMethod.FORM, actor=Actor.system())
    files.store_file(session, principal, contact.subject_id, os.urandom(20_000), f"foto-{i}.bin", store=store)
    if HAS_INBOX and channel_id is not None:
        from niaga.inbox.models import Conversation, Message

        # subject_id, not subject=: Conversation declares a personal field named `subject` (the email
        # subject line), which hides SubjectOwned's relationship of that name.
        conv = Conversation(tenant_id=principal.tenant_id, subject_id=contact.subject_id, channel_id=channel_id,
                            contact_id=contact.id)
        session.add(conv)
        session.flush()
        for n in range(10):
            session.add(Message(tenant_id=principal.tenant_id, subject=contact.subject, conversation_id=conv.id,
                                channel_id=channel_id, direction="in" if n % 2 == 0 else "out",
                                status="received" if n % 2 == 0 else "sent", body=f"Halo kak, pesan ke-{n}"))
        session.flush()
    contacts.read_contact(session, principal, contact.id)  # a read is part of the processing trail
    return contact.subject_id


def build(database: Database, settings: Settings, records: int, people: int) -> dict:
    """Sign up the bench business, bulk-load `records` records, add `people` people through the services."""
    from niaga.crm.sales.pipelines import ensure_default_pipeline
    from niaga.identity.accounts import SignUpForm, sign_up
    from niaga.identity.passwords import Passwords
    from niaga.privacy.audit import Actor

    migrate.upgrade(database.engine)
    channel_id = None
    with database.transaction() as session:
        sign_up(session, SignUpForm(full_name="Rina Kusuma", company_name="Toko Bench DSR", position="Pemilik",
                                    email=OWNER_EMAIL, phone="081298765432", birth_date="1988-06-15",
                                    password="bench-kopi-susu-gula-aren-2026", accept_terms=True),
                settings, Passwords(1, 8), Actor.system())
    with database.transaction() as session:
        principal = owner_principal(session)
        pipeline = ensure_default_pipeline(session, principal.tenant_id)
        pipeline_id, stage_id = pipeline.id, pipeline.stages[0].id
        if HAS_INBOX:
            from niaga.inbox.models import Channel

            channel = Channel(tenant_id=principal.tenant_id, kind="whatsapp", name="WhatsApp Toko",
                              webhook_key=uuid.uuid4().hex)
            session.add(channel)
            session.flush()
            channel_id = channel.id
    loaded = BulkLoader(database, principal, pipeline_id, stage_id, channel_id).load(records)
    add_people(database, settings, people)
    return loaded


def add_people(database: Database, settings: Settings, people: int) -> None:
    """Add `people` people through the services, then fold the WAL into the file."""
    from niaga.privacy import files

    store = files.FileStore.from_settings(settings)
    channel_id = None
    if HAS_INBOX:
        from niaga.inbox.models import Channel

        with database.transaction() as session:
            channel_id = session.scalar(select(Channel.id).limit(1))
    start = random.randrange(1000, 90_000_000)  # phones and emails distinct from earlier top-ups
    with database.transaction() as session:
        principal = owner_principal(session)
        for i in range(start, start + people):
            make_person(session, principal, channel_id, i, store)
    raw = database.engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _loaded(database: Database, records: int) -> bool:
    """True when the bulk load of this file finished."""
    from niaga.crm.models import Contact

    try:
        with database.transaction() as session:
            return session.scalar(select(func.count()).select_from(Contact).where(Contact.source == "import")) \
                >= records * 4 // 10
    except Exception:  # noqa: BLE001 - not even migrated
        return False


def targets(database: Database) -> list[uuid.UUID]:
    """Subject ids of the people made through the services (not yet erased), oldest first."""
    from niaga.crm.models import Contact
    from niaga.privacy.models import DataSubject

    with database.transaction() as session:
        return list(session.scalars(
            select(Contact.subject_id).join(DataSubject, (DataSubject.tenant_id == Contact.tenant_id)
                                            & (DataSubject.id == Contact.subject_id))
            .where(Contact.source == "manual", DataSubject.key_wrapped.is_not(None)).order_by(Contact.created_at)))


def bench_package(database: Database, settings: Settings, subject_id: uuid.UUID, repeats: int) -> dict:
    """prepare_access_package for one person, rolled back each time; with build and render split out."""
    from niaga.privacy import files
    from niaga.privacy.access import build_package
    from niaga.privacy.audit import Actor
    from niaga.privacy.rights import prepare_access_package
    from niaga.privacy.rights.package import render_package

    store = files.FileStore.from_settings(settings)
    whole, built, rendered = [], [], []
    size = records = 0
    for n in range(repeats + 1):  # the first run warms the page cache and the key cache
        session = database.session()
        try:
            principal = owner_principal(session)
            t0 = time.perf_counter()
            package = build_package(session, principal.tenant_id, subject_id)
            t1 = time.perf_counter()
            render_package(session, principal.tenant_id, subject_id, actor=Actor.system(), language="id",
                           portable=False, store=store)
            t2 = time.perf_counter()
            row, _token = prepare_access_package(session, principal.tenant_id, subject_id, actor=principal,
                                                 language="id", portable=False, request_id=None, settings=settings,
                                                 store=store)
            t3 = time.perf_counter()
            size, file_id = row.size, row.file_id
            records = sum(len(v) for v in package["records"].values()) + len(package["processing_trail"])
        finally:
            session.rollback()
            session.close()
        store.delete(principal.tenant_id, file_id)  # the rolled-back package's blob
        if n:
            built.append(t1 - t0)
            rendered.append((t2 - t1) - (t1 - t0))  # render_package builds too: the rest is render + zip
            whole.append(t3 - t2)
    return {"runs": repeats, "p50_ms": ms(statistics.median(whole)), "max_ms": ms(max(whole)),
            "build_package_ms": ms(statistics.median(built)), "render_zip_ms": ms(statistics.median(rendered)),
            "zip_bytes": size, "rows_in_package": records}


def bench_erasure(database: Database, people: list[uuid.UUID]) -> dict:
    """delete_person + commit for each given person, with a key cache full of other people."""
    from niaga.crm.models import ContactEmail
    from niaga.privacy.audit import Actor
    from niaga.privacy.rights import delete_person

    with database.transaction() as session:  # a busy process: its key cache is full of other people
        for row in session.scalars(select(ContactEmail).where(ContactEmail.contact_id.is_not(None))
                                   .order_by(ContactEmail.id.desc()).limit(2000)):
            row.email  # noqa: B018 - reading unwraps and caches the person's key (bulk rows read as unreadable)
    times = []
    for subject_id in people:
        session = database.session()
        try:
            principal = owner_principal(session)
            t0 = time.perf_counter()
            delete_person(session, principal.tenant_id, subject_id, actor=Actor.system(), request_id=uuid.uuid4(),
                          notify=None)
            session.commit()
            times.append(time.perf_counter() - t0)
        finally:
            session.close()
    return {"runs": len(times), "mean_ms": ms(statistics.mean(times)), "p50_ms": ms(statistics.median(times)),
            "max_ms": ms(max(times))}


def run_size(data: Path, settings: Settings, records: int, repeats: int, erasures: int, rebuild: bool) -> dict:
    """Build (or reuse) the tenant of `records` records and measure it."""
    path = data / f"dsr-{records}.db"
    if rebuild:
        for leftover in data.glob(f"dsr-{records}.db*"):
            leftover.unlink()
    exists = path.exists()
    database = Database.from_url(f"sqlite:///{path}")
    if exists and not _loaded(database, records):  # a build that stopped half-way: start again
        database.dispose()
        for leftover in data.glob(f"dsr-{records}.db*"):
            leftover.unlink()
        exists = False
        database = Database.from_url(f"sqlite:///{path}")
    built: dict = {"reused": str(path)}
    if not exists:
        built = build(database, settings, records, people=max(8, erasures + 1) * 3)
    people = targets(database)
    if len(people) < erasures + 1:  # earlier runs erased them: add more through the services
        add_people(database, settings, max(8, erasures + 1) * 3)
        people = targets(database)
    with database.transaction() as session:
        from niaga.privacy.audit import AuditEvent

        totals = {"audit_events": session.scalar(select(func.count()).select_from(AuditEvent))}
    report = {"records": records, "database_mb": round(path.stat().st_size / 1e6, 1), "built": built, **totals,
              "package": bench_package(database, settings, people[0], repeats),
              "erasure": bench_erasure(database, people[1:erasures + 1])}
    database.dispose()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="tenant sizes in records, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="timed package runs per size")
    parser.add_argument("--erasures", type=int, default=5, help="people erased per size")
    parser.add_argument("--data", type=Path, default=Path("/tmp/niaga-bench-dsr"))
    parser.add_argument("--rebuild", action="store_true", help="build the tenants again")
    parser.add_argument("--quick", action="store_true", help="2k and 20k records, 3 runs each")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.repeats, args.erasures = "2000,20000", 3, 3
    sizes = [int(s) for s in args.sizes.split(",") if s]
    host = machine()
    args.data.mkdir(parents=True, exist_ok=True)
    settings = settings_for(args.data)
    configure_vault(LocalKeyProvider({1: base64.b64decode(settings.master_key)}))
    results = [run_size(args.data, settings, n, args.repeats, args.erasures, args.rebuild) for n in sizes]
    notes = ["bulk rows hold random bytes of the right size where ciphertexts, keys and digests go (never read)",
             "package figures are rolled back: the commit is not included; erasure figures include the commit"]
    if not HAS_INBOX:
        notes.append("niaga.inbox.models does not exist: no messages in the tenants")
    else:
        notes.append("messages: 20% of the records, in conversations of two; each person has ten")
    first, last = results[0]["erasure"]["p50_ms"], results[-1]["erasure"]["p50_ms"]
    report = {
        "benchmark": "data-subject-requests",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": host,
        "engine": "sqlite",
        "sizes": results,
        "targets": {"package_under_1s_at_largest": results[-1]["package"]["p50_ms"] < 1000,
                    "erasure_largest_vs_smallest": round(last / first, 2) if first else None},
        "notes": notes,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

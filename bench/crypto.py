"""Cost of niaga's per-person encryption, measured in one run; prints one JSON object.

    .venv/bin/python bench/crypto.py             # full run: ORM workload, lookups at 100k and 1M contacts
    .venv/bin/python bench/crypto.py --quick     # small sizes, for a smoke test

Everything runs on SQLite files in a temporary directory (the embedded default engine), with a fresh
random master key. Figures:
1. `field`: sealing and opening one personal value exactly as `niaga.privacy.fields` does it (header,
   random nonce, AES-256-GCM, associated data), in microseconds.
2. `orm`: creating then reading N contacts (name, email, phone and one plain column) through the ORM with
   (a) plain text columns, (b) niaga `personal()` fields with blind indexes on all three, (c) the same
   without blind indexes, and (d) sqlalchemy-utils `StringEncryptedType(AesGcmEngine)` with one global key.
   niaga also creates one data subject (its own wrapped key) per contact, as the CRM does. Reads start
   with an empty key cache, as in a new process. Best of several runs; ratios are against plain text.
2b. `storage_floor`: what SQLite alone spends per contact on niaga's rows (contact, data subject, five
   blind-index entries) vs the plaintext row, written by the driver from prepared values and read back: a
   floor under niaga's extra cost on this engine, against the 1.3 target's budget.
3. `lookup`: one contact by email at 100k and 1M contacts: through the blind index (one statement, then
   decrypting the row found), a plain indexed column, and decrypting and scanning every row; the
   `blind_index_ids_only` figure is the index probe alone (HMAC + index search, no row loaded). The large tables are
   bulk-loaded with ciphertexts and blind-index rows produced by the same key code (only the email index
   is loaded, the one the lookup uses). The scan is timed on a bounded sample and extrapolated.
4. `erasure`: `erase_subject` plus commit with 10k and with 1M contacts in the tenant, in a process whose
   key cache is full.

The bench models live on their own MetaData below, never in src/.

Comparing like with like (changed 2026-11-22, where the earlier bench was unfair): the plaintext model has
the indexes niaga maintains (email and phone unique per tenant, as the CRM declares them, and the name
indexed), niaga's bench model declares email and phone unique as the CRM does, and the sqlalchemy-utils
model gets the same indexes as the plaintext one; every timed ORM run starts from a collected heap; lookups
alternate between methods in blocks of 25. `--clock cpu` times this process's CPU instead of wall time, for
a machine shared with other work. Before the ORM runs the start-up heap is frozen, as `niaga serve` and
`niaga worker` do once started (`--unsettled-heap` leaves it, for comparison).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import gc  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import cryptography  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from sqlalchemy import Index, MetaData, String, func, insert, select  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine, StringEncryptedType  # noqa: E402

from niaga.db import migrate  # noqa: E402
from niaga.db.base import UTCDateTime, new_id, utcnow  # noqa: E402
from niaga.db.engine import make_engine  # noqa: E402
from niaga.identity.models import Tenant  # noqa: E402
from niaga.kit.heap import settle_heap  # noqa: E402
from niaga.privacy import blind_index, erasure  # noqa: E402
from niaga.privacy.audit import Actor  # noqa: E402
from niaga.privacy.fields import (  # noqa: E402
    _ENCODERS, FORMAT_V1, Category, Purpose, Retention, SubjectOwned, _aad, personal,
)
from niaga.privacy.keys import NONCE_BYTES, LocalKeyProvider, seal  # noqa: E402
from niaga.privacy.models import BlindIndexEntry, DataSubject  # noqa: E402
from niaga.privacy.vault import _subject_aad, configure_vault  # noqa: E402

UTILS_KEY = "one-global-key-for-every-row"  # what sqlalchemy-utils users typically configure
SURNAMES = ["Nurhaliza", "Pamungkas", "Wulandari", "Ramadhan", "Siregar", "Hutapea", "Wijaya", "Santoso",
            "Lestari", "Saputra", "Kusuma", "Hidayat", "Nasution", "Purba", "Setiawan", "Gunawan"]


class BenchBase(DeclarativeBase):
    """Bench-only models, on their own MetaData."""

    metadata = MetaData()
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: sa.Uuid()}


class PlainContact(BenchBase):
    """Plain text columns: the reference. Indexed like niaga's contact: email and phone unique per tenant
    (the CRM declares them unique), the name searchable (a plain index: the nearest plaintext equivalent
    of a word index)."""

    __tablename__ = "bench_plain_contacts"
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    full_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    city: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_bench_plain_email", "tenant_id", "email", unique=True),
                      Index("ix_bench_plain_phone", "tenant_id", "phone", unique=True),
                      Index("ix_bench_plain_name", "tenant_id", "full_name"))


class SealedContact(SubjectOwned, BenchBase):
    """niaga: every identifying value sealed under the contact's own key, exact lookups by blind index."""

    __tablename__ = "bench_sealed_contacts"
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    full_name = personal(Category.IDENTITY, [Purpose.U1], retention=Retention.RELATIONSHIP, index="words")
    email = personal(Category.CONTACT, [Purpose.U1], retention=Retention.RELATIONSHIP, index="email", unique=True)
    phone = personal(Category.CONTACT, [Purpose.U1], retention=Retention.RELATIONSHIP, index="phone", unique=True)
    city: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SealedNoIndexContact(SubjectOwned, BenchBase):
    """niaga's sealing without blind indexes: isolates the cost of the indexes."""

    __tablename__ = "bench_sealed_noindex_contacts"
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    full_name = personal(Category.IDENTITY, [Purpose.U1], retention=Retention.RELATIONSHIP)
    email = personal(Category.CONTACT, [Purpose.U1], retention=Retention.RELATIONSHIP)
    phone = personal(Category.CONTACT, [Purpose.U1], retention=Retention.RELATIONSHIP)
    city: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UtilsContact(BenchBase):
    """sqlalchemy-utils StringEncryptedType(AesGcmEngine): one global key for every row and column.

    Given the same indexes as the plaintext model so that it pays the same index writes; with a random
    nonce per value they can neither find a contact nor enforce uniqueness (that is what niaga's blind
    index is for), so this is generous to sqlalchemy-utils in what it gets for the cost."""

    __tablename__ = "bench_utils_contacts"
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    full_name: Mapped[str] = mapped_column(StringEncryptedType(String, UTILS_KEY, AesGcmEngine))
    email: Mapped[str] = mapped_column(StringEncryptedType(String, UTILS_KEY, AesGcmEngine))
    phone: Mapped[str] = mapped_column(StringEncryptedType(String, UTILS_KEY, AesGcmEngine))
    city: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_bench_utils_email", "tenant_id", "email", unique=True),
                      Index("ix_bench_utils_phone", "tenant_id", "phone", unique=True),
                      Index("ix_bench_utils_name", "tenant_id", "full_name"))


def _spec(model: type, column: str):  # noqa: ANN202
    return getattr(model, column).spec


def person(i: int) -> dict[str, str]:
    """A deterministic, realistic-looking contact."""
    return {"full_name": f"Pelanggan {i} {SURNAMES[i % len(SURNAMES)]}",
            "email": f"pelanggan.{i}@contoh-toko.example", "phone": f"+62812{i:08d}", "city": "Yogyakarta"}


SQLITE_TUNING: list[str] = []  # extra PRAGMAs per connection (--sqlite-pragma), to compare tunings


POSTGRES: dict = {}  # --engine postgresql: the throwaway server (tests/support/pg.py) the databases live on


def database(path: Path):  # noqa: ANN201
    """A migrated niaga schema plus the bench tables: a SQLite file (WAL, as niaga runs it) or a PostgreSQL database."""
    if POSTGRES:
        engine = make_engine(POSTGRES["server"].create_database(f"bench_{path.stem}"))
        migrate.upgrade(engine)
        BenchBase.metadata.create_all(engine)
        return engine
    engine = make_engine(f"sqlite:///{path}")
    if SQLITE_TUNING:
        @sa.event.listens_for(engine, "connect")
        def _tune(dbapi_connection, _record) -> None:  # noqa: ANN001
            for pragma in SQLITE_TUNING:
                dbapi_connection.execute(f"PRAGMA {pragma}")
    migrate.upgrade(engine)
    BenchBase.metadata.create_all(engine)
    return engine


def new_tenant(engine, vault) -> uuid.UUID:  # noqa: ANN001
    """A tenant row and its keys."""
    with Session(engine) as s:
        tenant = Tenant(slug=f"bench-{uuid.uuid4().hex[:10]}", name="Toko Bench")
        s.add(tenant)
        s.flush()
        vault.create_tenant_keys(s, tenant.id)
        s.commit()
        return tenant.id


CLOCK = {"now": time.perf_counter}  # --clock cpu: process CPU time instead of wall time


def timed(fn) -> float:  # noqa: ANN001
    # Every timed run starts from a collected heap: a full collection that the previous run's garbage
    # makes due is otherwise charged to whichever run happens to come next.
    gc.collect()
    start = CLOCK["now"]()
    fn()
    return CLOCK["now"]() - start


# -- 1. one field ---------------------------------------------------------------------------------
def bench_field(iterations: int) -> dict:
    """Seal and open one value the way fields.py does."""
    cipher = AESGCM(os.urandom(32))
    spec = _spec(SealedContact, "email")
    row = SimpleNamespace(tenant_id=uuid.uuid4(), subject_id=uuid.uuid4(), id=uuid.uuid4())
    value = "siti.nurhaliza@tokomelati.example"
    header = FORMAT_V1 + (1).to_bytes(4, "big")

    def seal_once() -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + cipher.encrypt(nonce, _ENCODERS[str](value), _aad(row, spec))

    def open_once(sealed: bytes) -> str:
        body = sealed[5:]
        return cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(row, spec)).decode()

    sealed = seal_once()
    assert open_once(sealed) == value
    enc = min(timed(lambda: [seal_once() for _ in range(iterations)]) for _ in range(3)) / iterations
    dec = min(timed(lambda: [open_once(sealed) for _ in range(iterations)]) for _ in range(3)) / iterations
    return {"encrypt_us": round(enc * 1e6, 2), "decrypt_us": round(dec * 1e6, 2),
            "encrypt_plus_decrypt_us": round((enc + dec) * 1e6, 2), "value_bytes": len(value),
            "stored_bytes": len(sealed), "iterations": iterations}


# -- 2. ORM create + read ---------------------------------------------------------------------------
def orm_round(engine, vault, model: type, n: int) -> tuple[float, float]:  # noqa: ANN001
    """(create seconds, read seconds) for n contacts of one model in a new tenant."""
    tenant_id = new_tenant(engine, vault)
    needs_subject = issubclass(model, SubjectOwned)

    def create() -> None:
        with Session(engine) as s:
            for i in range(n):
                values = person(i)
                if needs_subject:
                    values["subject"] = vault.new_subject(s, tenant_id, "contact")
                s.add(model(tenant_id=tenant_id, **values))
                if i % 500 == 499:
                    s.flush()
            s.commit()

    def read() -> None:
        vault._subject_ciphers.clear()  # a new process: every person's key is unwrapped again
        with Session(engine) as s:
            rows = s.scalars(select(model).where(model.tenant_id == tenant_id)).all()
            got = [(r.full_name, r.email, r.phone, r.city) for r in rows]
        assert len(got) == n and {g[1] for g in got} >= {person(0)["email"], person(n - 1)["email"]}

    return timed(create), timed(read)


def bench_orm(engine, vault, n: int, repeats: int) -> dict:  # noqa: ANN001
    """Best of `repeats` interleaved runs per model, and the ratios against plain text."""
    models = {"plain": PlainContact, "niaga": SealedContact, "niaga_no_blind_index": SealedNoIndexContact,
              "sqlalchemy_utils_aesgcm": UtilsContact}
    best: dict[str, list[float]] = {name: [float("inf"), float("inf")] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            create, read = orm_round(engine, vault, model, n)
            best[name] = [min(best[name][0], create), min(best[name][1], read)]
    out: dict = {"contacts": n, "repeats": repeats, "note": "best of interleaved runs; reads start with a cold key cache"}
    plain_total = sum(best["plain"])
    for name, (create, read) in best.items():
        out[name] = {"create_ms": round(create * 1e3, 1), "read_ms": round(read * 1e3, 1),
                     "create_us_per_contact": round(create / n * 1e6, 1), "read_us_per_contact": round(read / n * 1e6, 1),
                     "ratio_vs_plain": round((create + read) / plain_total, 2)}
    out["niaga_vs_sqlalchemy_utils"] = round(sum(best["niaga"]) / sum(best["sqlalchemy_utils_aesgcm"]), 2)
    out["niaga_no_blind_index_vs_sqlalchemy_utils"] = round(
        sum(best["niaga_no_blind_index"]) / sum(best["sqlalchemy_utils_aesgcm"]), 2)
    return out


# -- 2b. the storage floor ---------------------------------------------------------------------------
def _driver_rows(engine, table, rows: list[dict]) -> tuple[str, list[tuple]]:  # noqa: ANN001
    """(SQL, parameter tuples) for a driver-level executemany, bind-processed before any timing."""
    compiled = insert(table).compile(dialect=engine.dialect, column_keys=list(rows[0]))
    names = list(compiled.positiontup)
    processors = {n: table.c[n].type.bind_processor(engine.dialect) for n in names}
    return compiled.string, [tuple(processors[n](r[n]) if processors[n] else r[n] for n in names) for r in rows]


def bench_storage_floor(engine, vault, n: int, plain_orm_us: float) -> dict:  # noqa: ANN001
    """What SQLite alone spends per contact storing niaga's rows vs the plaintext row (no Python, no ORM).

    The same rows the ORM writes — niaga: the contact with three sealed values, its data subject, and its five
    blind-index entries (email, phone, three name words); plaintext: one row — inserted by the driver's
    executemany from values prepared beforehand (the commit, one either way, not timed), then read back
    (niaga's read joins the subject).
    The difference is a floor under niaga's extra cost on this engine, whatever the Python above it does.
    """
    tenant_id = new_tenant(engine, vault)
    sealed = lambda size: os.urandom(size)  # noqa: E731 - ciphertexts are random bytes of the sealed sizes
    now = utcnow()
    plain, contacts, subjects, entries = [], [], [], []
    for i in range(n):
        values, cid, sid = person(i), new_id(), new_id()
        plain.append({"tenant_id": tenant_id, "id": new_id(), "created_at": now, **values})
        subjects.append({"tenant_id": tenant_id, "id": sid, "kind": "contact", "key_version": 1,
                         "tenant_key_version": 1, "key_wrapped": sealed(60), "created_at": now})
        contacts.append({"tenant_id": tenant_id, "id": cid, "subject_id": sid, "city": values["city"], "created_at": now,
                         **{c: sealed(len(values[c]) + 33) for c in ("full_name", "email", "phone")}})
        for field, count in (("bench_sealed_contacts.email", 1), ("bench_sealed_contacts.phone", 1),
                             ("bench_sealed_contacts.full_name", 3)):
            for _ in range(count):
                entries.append({"tenant_id": tenant_id, "field": field, "row_id": cid, "digest": os.urandom(32),
                                "subject_id": sid, "is_unique": field != "bench_sealed_contacts.full_name"})
    plain_sql = _driver_rows(engine, PlainContact.__table__, plain)
    niaga_sql = [_driver_rows(engine, DataSubject.__table__, subjects),
                 _driver_rows(engine, SealedContact.__table__, contacts),
                 _driver_rows(engine, BlindIndexEntry.__table__, entries)]
    tid = sa.Uuid().bind_processor(engine.dialect)(tenant_id)
    reads = {"plain": ("SELECT * FROM bench_plain_contacts WHERE tenant_id = ?", ),
             "niaga": ("SELECT c.*, s.key_wrapped FROM bench_sealed_contacts c JOIN data_subjects s "
                       "ON s.tenant_id = c.tenant_id AND s.id = c.subject_id WHERE c.tenant_id = ?", )}

    def store(statements) -> float:  # noqa: ANN001
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            gc.collect()
            cursor.execute("BEGIN IMMEDIATE")
            start = CLOCK["now"]()
            for sql, params in statements:
                cursor.executemany(sql, params)
            elapsed = CLOCK["now"]() - start
            cursor.execute("COMMIT")  # one commit either way: left out, it is mostly the disk's time
            return elapsed
        finally:
            raw.close()

    def read(sql: str) -> float:
        raw = engine.raw_connection()
        try:
            start = CLOCK["now"]()
            rows = raw.cursor().execute(sql, (tid,)).fetchall()
            assert len(rows) == n
            return CLOCK["now"]() - start
        finally:
            raw.close()

    plain_us = (store([plain_sql]) + read(reads["plain"][0])) / n * 1e6
    niaga_us = (store(niaga_sql) + read(reads["niaga"][0])) / n * 1e6
    budget = 0.3 * plain_orm_us
    return {"contacts": n, "plain_us_per_contact": round(plain_us, 1), "niaga_us_per_contact": round(niaga_us, 1),
            "extra_us_per_contact": round(niaga_us - plain_us, 1),
            "plain_orm_create_read_us_per_contact": round(plain_orm_us, 1),
            "budget_for_1_3_us_per_contact": round(budget, 1),
            "floor_ratio_vs_plain_orm": round((plain_orm_us + niaga_us - plain_us) / plain_orm_us, 2)}


# -- 3 and 4. bulk-loaded tenant: lookups and erasure -----------------------------------------------
class BulkTenant:
    """One tenant grown in steps with sealed contacts (plus their email blind-index rows) and plain twins."""

    def __init__(self, engine, vault) -> None:  # noqa: ANN001
        self.engine, self.vault = engine, vault
        self.tenant_id = new_tenant(engine, vault)
        self.size = 0
        self.email_spec = _spec(SealedContact, "email")
        with Session(engine) as s:
            self.tenant_key = vault.tenant_key(s, self.tenant_id, "data", 1)
            self.index_key = vault.index_key(s, self.tenant_id, self.email_spec.key)
            s.commit()
        self.specs = {c: _spec(SealedContact, c) for c in ("full_name", "email", "phone")}

    def grow_to(self, target: int, batch: int = 20_000) -> float:
        """Add contacts up to `target`; returns the seconds it took."""
        start = time.perf_counter()
        tables = (DataSubject.__table__, SealedContact.__table__, BlindIndexEntry.__table__, PlainContact.__table__)
        tid, header, now = self.tenant_id, FORMAT_V1 + (1).to_bytes(4, "big"), utcnow()
        while self.size < target:
            rows: tuple[list, list, list, list] = ([], [], [], [])
            for i in range(self.size, min(target, self.size + batch)):
                values, sid, cid = person(i), new_id(), new_id()
                key = os.urandom(32)
                rows[0].append({"tenant_id": tid, "id": sid, "kind": "contact", "key_version": 1, "created_at": now,
                                "tenant_key_version": 1, "key_wrapped": seal(self.tenant_key, key, _subject_aad(tid, sid, 1))})
                cipher, ident = AESGCM(key), SimpleNamespace(tenant_id=tid, subject_id=sid, id=cid)
                sealed = {}
                for column, spec in self.specs.items():
                    nonce = os.urandom(NONCE_BYTES)
                    sealed[column] = header + nonce + cipher.encrypt(nonce, values[column].encode(), _aad(ident, spec))
                rows[1].append({"tenant_id": tid, "id": cid, "subject_id": sid, "city": values["city"],
                                "created_at": now, **sealed})
                digest = hmac.new(self.index_key, values["email"].encode(), hashlib.sha256).digest()
                rows[2].append({"tenant_id": tid, "field": self.email_spec.key, "row_id": cid, "digest": digest,
                                "subject_id": sid, "is_unique": self.email_spec.unique})
                rows[3].append({"tenant_id": tid, "id": new_id(), "created_at": now, **values})
            with self.engine.begin() as conn:
                for table, chunk in zip(tables, rows):
                    conn.execute(insert(table), chunk)
            self.size += len(rows[0])
        elapsed = time.perf_counter() - start
        # Fold the load into the database file so the figures after it do not pay for its checkpoint.
        if POSTGRES:  # fresh statistics for the planner (as autovacuum would give), outside a transaction
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
                conn.exec_driver_sql("CHECKPOINT")
            return elapsed
        raw = self.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return elapsed

    def lookups(self, count: int, scan_sample: int, full_scan: bool) -> dict:
        """Mean time of `count` random lookups per method, plus a (sampled) decrypt-and-scan."""
        targets = [person(random.randrange(self.size))["email"] for _ in range(count)]
        tid = self.tenant_id

        def by_blind_index(session: Session, email: str) -> None:
            ids = blind_index.match_ids(session, tid, self.email_spec, email)
            row = session.scalar(select(SealedContact).where(SealedContact.tenant_id == tid, SealedContact.id.in_(ids)))
            assert row.email == email  # the row found is decrypted, as a page or the API would show it

        def ids_only(session: Session, email: str) -> None:
            assert len(session.scalars(blind_index.match_ids(session, tid, self.email_spec, email)).all()) == 1

        def by_plain_index(session: Session, email: str) -> None:
            row = session.scalar(select(PlainContact).where(PlainContact.tenant_id == tid, PlainContact.email == email))
            assert row.email == email

        out = {}
        methods = (("blind_index", by_blind_index), ("plain_index", by_plain_index), ("blind_index_ids_only", ids_only))
        times: dict[str, list[float]] = {name: [] for name, _ in methods}
        with Session(self.engine) as s:
            for email in targets[:20]:  # warm the page cache the same way for every method
                for _, fn in methods:
                    fn(s, email)
                    s.expunge_all()
            # In alternating blocks of 25 lookups, so that every method meets the same stretches of a shared
            # machine's load, while each still runs warm as a busy server's code path would.
            for start in range(0, len(targets), 25):
                for name, fn in methods:
                    for email in targets[start:start + 25]:
                        t0 = CLOCK["now"]()
                        fn(s, email)
                        times[name].append(CLOCK["now"]() - t0)
                        s.expunge_all()
        for name, _ in methods:
            out[f"{name}_us"] = round(statistics.mean(times[name]) * 1e6, 1)
            out[f"{name}_p50_us"] = round(statistics.median(times[name]) * 1e6, 1)
        out["blind_vs_plain_p50_ratio"] = round(out["blind_index_p50_us"] / out["plain_index_p50_us"], 2)
        out["blind_vs_plain_ratio"] = round(out["blind_index_us"] / out["plain_index_us"], 2)
        out.update(self.scan(targets[0], scan_sample, full_scan))
        out["scan_vs_blind_ratio"] = round(out["decrypt_scan_ms"] * 1e3 / out["blind_index_us"])
        out["lookups"] = count
        return out

    def scan(self, email: str, sample: int, full: bool) -> dict:
        """Decrypt every row's email and compare: timed on `sample` rows (or all) and extrapolated."""
        rows = self.size if full else min(sample, self.size)
        self.vault._subject_ciphers.clear()  # a scan of a large tenant cannot be served from the key cache
        with Session(self.engine) as s:
            query = select(SealedContact).where(SealedContact.tenant_id == self.tenant_id).limit(rows)
            t0 = CLOCK["now"]()
            seen = found = 0
            for row in s.scalars(query.execution_options(yield_per=2000)):
                seen += 1
                found += row.email == email  # every row is decrypted: a scan cannot stop at the first hit
            elapsed = CLOCK["now"]() - t0
        per_row = elapsed / seen
        return {"decrypt_scan_ms": round(per_row * self.size * 1e3, 1), "decrypt_scan_rows_timed": seen,
                "decrypt_scan_extrapolated": seen < self.size, "decrypt_scan_us_per_row": round(per_row * 1e6, 2)}

    def erasures(self, count: int) -> dict:
        """Mean and median time of erase_subject + commit over `count` random people of the tenant."""
        with Session(self.engine) as s:
            subjects = s.scalars(select(DataSubject.id).where(DataSubject.tenant_id == self.tenant_id,
                                                              DataSubject.key_wrapped.is_not(None))
                                 .order_by(func.random()).limit(count)).all()
        with Session(self.engine) as s:  # a busy process: its key cache is full of other people
            for row in s.scalars(select(SealedContact).where(SealedContact.tenant_id == self.tenant_id)
                                 .limit(20_000).execution_options(yield_per=2000)):
                row.email  # noqa: B018 - reading unwraps and caches the person's key
        times = []
        for subject_id in subjects:
            with Session(self.engine) as s:
                t0 = CLOCK["now"]()
                erasure.erase_subject(s, self.tenant_id, subject_id, Actor.system(), "subject-request")
                s.commit()
                times.append(CLOCK["now"]() - t0)
        return {"contacts_in_tenant": self.size, "erasures": len(times), "mean_ms": round(statistics.mean(times) * 1e3, 2),
                "p50_ms": round(statistics.median(times) * 1e3, 2), "max_ms": round(max(times) * 1e3, 2)}


def main() -> None:
    """Run every figure and print the JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes (smoke test).")
    parser.add_argument("--orm-contacts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="100000,1000000", help="Tenant sizes for the lookup figures.")
    parser.add_argument("--erase-sizes", default="10000,1000000", help="Tenant sizes for the erasure figures.")
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--scan-sample", type=int, default=50_000, help="Rows decrypted when the full scan is skipped.")
    parser.add_argument("--full-scan-up-to", type=int, default=100_000, help="Scan every row up to this size.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory (prints its path).")
    parser.add_argument("--sqlite-pragma", action="append", default=[],
                        help="Extra PRAGMA for every connection, e.g. --sqlite-pragma 'mmap_size=2147483648'.")
    parser.add_argument("--skip-orm", action="store_true", help="Only the field, lookup and erasure figures.")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: a throwaway server from the machine's binaries, as the test suite starts "
                             "it (the storage floor is SQLite-only).")
    parser.add_argument("--unsettled-heap", action="store_true",
                        help="Do not freeze the start-up heap before the ORM runs (the servers do; for comparison).")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="Time ORM runs, lookups and erasures by wall time or by this process's CPU time "
                             "(steadier on a machine shared with other work; leaves out waits for the disk).")
    args = parser.parse_args()
    if args.clock == "cpu":
        CLOCK["now"] = time.process_time
    SQLITE_TUNING.extend(args.sqlite_pragma)
    if args.engine == "postgresql":
        from tests.support.pg import PostgresServer

        POSTGRES["server"] = PostgresServer().start()
    if args.quick:
        args.orm_contacts, args.repeats, args.sizes, args.erase_sizes = 300, 1, "5000,20000", "2000,20000"
        args.lookups, args.scan_sample, args.full_scan_up_to = 50, 2000, 5000
    random.seed(2026)
    vault = configure_vault(LocalKeyProvider({1: os.urandom(32)}))
    work = Path(tempfile.mkdtemp(prefix="niaga-bench-crypto-"))
    started = time.perf_counter()
    try:
        result: dict = {
            "benchmark": "crypto", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "clock": args.clock, "engine": args.engine,
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                        "sqlite": sqlite3.sqlite_version, "sqlalchemy": sa.__version__,
                        "cryptography": cryptography.__version__},
        }
        result["field"] = bench_field(20_000 if not args.quick else 2000)
        if not args.skip_orm:
            orm_engine = database(work / "orm.db")
            # As `niaga serve` and `niaga worker` do once started (niaga/kit/heap.py); the same for every model.
            result["heap_settled_objects"] = settle_heap() if not args.unsettled_heap else 0
            result["orm"] = bench_orm(orm_engine, vault, args.orm_contacts, args.repeats)
            plain_orm_us = result["orm"]["plain"]["create_us_per_contact"] + result["orm"]["plain"]["read_us_per_contact"]
            if not POSTGRES:
                result["storage_floor"] = bench_storage_floor(orm_engine, vault, args.orm_contacts, plain_orm_us)
            orm_engine.dispose()
        result["sqlite_pragmas"] = ["niaga defaults", *SQLITE_TUNING]

        engine = database(work / "bulk.db")
        bulk = BulkTenant(engine, vault)
        lookup_sizes = [int(x) for x in args.sizes.split(",")]
        erase_sizes = [int(x) for x in args.erase_sizes.split(",")]
        result["lookup"], result["erasure"], loads = {}, {}, {}
        for size in sorted(set(lookup_sizes) | set(erase_sizes)):
            loads[str(size)] = round(bulk.grow_to(size), 1)
            if size in lookup_sizes:
                result["lookup"][str(size)] = bulk.lookups(args.lookups, args.scan_sample,
                                                           full_scan=size <= args.full_scan_up_to)
            if size in erase_sizes:
                result["erasure"][str(size)] = bulk.erasures(20 if not args.quick else 5)
        erase_figures = [result["erasure"][str(s)]["mean_ms"] for s in erase_sizes]
        result["erasure"]["largest_vs_smallest_ratio"] = round(erase_figures[-1] / erase_figures[0], 2)
        result["bulk_load_seconds_cumulative"] = loads
        result["bulk_database_bytes"] = sum(p.stat().st_size for p in work.glob("bulk.db*"))
        result["bulk_note"] = ("bulk-loaded tenant: sealed name/email/phone per contact, one data subject each, "
                               "email blind-index rows only, plus a plain-text twin table with an email index")
        engine.dispose()
        result["total_seconds"] = round(time.perf_counter() - started, 1)
    finally:
        if POSTGRES:
            POSTGRES["server"].stop()
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

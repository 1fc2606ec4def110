"""Webhook ingest: signed WhatsApp deliveries over HTTP to niaga served as in production.

    .venv/bin/python bench/ingest.py                  # 2,000 deliveries, each sent 3 times, 16 connections
    .venv/bin/python bench/ingest.py --deliveries 300 # a quick run
    .venv/bin/python bench/ingest.py --engine postgresql  # the same against a throwaway PostgreSQL (OS binaries)

What it does, all on this machine and on loopback only:
1. a fresh data dir and master key, `niaga db upgrade`, one business with a WhatsApp channel (app secret,
   token, phone number id) seeded through the services (`--seed` mode of this script);
2. `niaga serve` and `niaga worker` in child processes, exactly as an operator starts them (SQLite, the
   embedded queue file);
3. a separate load process (`--load` mode) sends N distinct signed deliveries — one text message from one of
   50 customers each, in the Cloud API's format, `X-Hub-Signature-256` over the exact bytes — and sends every
   delivery three times (the second and third rounds after the first, as a provider's redeliveries);
4. before those rounds, while the worker is idle, the same load process drives `POST /webhooks/ping` on the
   same server with the same bodies and connections: the reference (middleware, body read, JSON answer; no
   storage) — measured when it has the machine to itself, so the ratio is the strict one;
5. waits until the worker has processed every stored event, then counts messages: zero lost (one message per
   distinct delivery) and zero duplicated (no provider id twice, events stored once).
Prints one JSON object; exits 1 when a delivery was lost or duplicated or a request failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # the repository, never bench/

import argparse  # noqa: E402
import asyncio  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"
CUSTOMERS = 50


# -- seeding (runs in a child with the server's environment) ------------------------------------------
def seed() -> int:
    """One business and its WhatsApp channel; prints the webhook path."""
    from niaga.app import bootstrap
    from niaga.config import load_settings
    from niaga.identity.accounts import SignUpForm, sign_up
    from niaga.identity.passwords import Passwords
    from niaga.identity.permissions import ROLE_PERMISSIONS, Role
    from niaga.identity.principal import Principal
    from niaga.inbox import service
    from niaga.privacy.audit import Actor

    settings = load_settings()
    database = bootstrap(settings)
    form = SignUpForm(full_name="Bench Owner", company_name="Toko Benchmark", position="Pemilik",
                      email="owner@bench.example", phone="081200001111", birth_date="1985-05-05",
                      password="bench-kopi-susu-gula-aren-2026", accept_terms=True)
    with database.transaction() as session:
        user = sign_up(session, form, settings, Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
                       Actor.system())
        owner = Principal(tenant_id=user.tenant_id, user_id=user.id, subject_id=user.subject_id, role=Role.OWNER,
                          permissions=ROLE_PERMISSIONS[Role.OWNER], via="session")
        channel = service.create_channel(session, owner, kind="whatsapp", name="WhatsApp Toko",
                                         account_ref=PHONE_NUMBER_ID,
                                         secrets={"app_secret": APP_SECRET, "access_token": "bench-token"})
        path = service.webhook_path(channel)
    database.dispose()
    print(path)
    return 0


# -- the load process -----------------------------------------------------------------------------------
def delivery(n: int) -> bytes:
    """Delivery number n: one text message from one of the customers, as Meta sends it."""
    customer = n % CUSTOMERS
    wa_id = f"6281{customer:09d}"
    body = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100001111", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": f"Pelanggan {customer}"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.BENCH{n:010d}", "timestamp": str(1_790_000_000 + n),
                          "type": "text", "text": {"body": f"Halo kak, pesanan nomor {n} sudah dikirim?"}}],
        }}]}]}
    return json.dumps(body, separators=(",", ":")).encode()


def signed_request(path: str, body: bytes, port: int) -> bytes:
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


async def _drive(port: int, requests: list[bytes], connections: int) -> dict:
    """Send every request once over `connections` keep-alive connections; latency of each, in µs."""
    latencies: list[int] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                started = time.perf_counter()
                try:
                    writer.write(request)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
                    lines = head.decode("latin-1").split("\r\n")
                    status = lines[0].split(" ", 2)[1]
                    length = next((int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                                   if k.strip().lower() == "content-length"), 0)
                    await reader.readexactly(length)
                    latencies.append(int((time.perf_counter() - started) * 1_000_000))
                    statuses[status] = statuses.get(status, 0) + 1
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - began
    latencies.sort()
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    return {"requests": len(requests), "wall_s": round(wall, 3), "rps": round(ok / wall, 1) if wall else 0.0,
            "p50_ms": round(_pct(latencies, 0.5) / 1000, 2), "p99_ms": round(_pct(latencies, 0.99) / 1000, 2),
            "statuses": statuses, "errors": errors}


def _pct(values: list[int], fraction: float) -> float:
    if not values:
        return float("nan")
    return float(values[max(1, min(len(values), round(fraction * len(values) + 0.5))) - 1])


def load(port: int, path: str, deliveries: int, connections: int) -> int:
    """Rounds 1-3 of the signed deliveries, then the same bodies to /webhooks/ping; JSON on stdout."""
    bodies = [delivery(n) for n in range(deliveries)]
    webhook = [signed_request(path, body, port) for body in bodies]
    reference = [signed_request("/webhooks/ping", body, port) for body in bodies]
    # The reference first, while the worker has nothing to do: the strictest comparison (the webhook rounds
    # then share the machine with the worker processing them). A short warm-up is not counted.
    asyncio.run(_drive(port, reference[:500], connections))
    out = {"ping": asyncio.run(_drive(port, reference, connections))}
    out["started_at"] = time.time()
    out["round1"] = asyncio.run(_drive(port, webhook, connections))
    out["round1_done_at"] = time.time()
    out["redeliveries"] = asyncio.run(_drive(port, webhook + webhook, connections))
    json.dump(out, sys.stdout)
    return 0


# -- the orchestrator -------------------------------------------------------------------------------------
def _counts(url: str) -> dict:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            one = lambda sql: conn.exec_driver_sql(sql).scalar_one()  # noqa: E731
            return {
                "events": one("SELECT count(*) FROM inbound_events"),
                "events_pending": one("SELECT count(*) FROM inbound_events WHERE status = 'pending'"),
                "events_failed": one("SELECT count(*) FROM inbound_events WHERE status = 'failed'"),
                "messages": one("SELECT count(*) FROM messages"),
                "distinct_provider_ids": one("SELECT count(DISTINCT provider_message_id) FROM messages"),
                "contacts": one("SELECT count(*) FROM contacts"),
                "conversations": one("SELECT count(*) FROM conversations"),
            }
    finally:
        engine.dispose()


def run(args: argparse.Namespace) -> dict:
    from tests.ops.server import NIAGA, Niaga, random_master_key

    root = Path(tempfile.mkdtemp(prefix="niaga-ingest-"))
    worker = postgres = None
    try:
        settings = {"master_key": random_master_key()}
        if args.engine == "postgresql":  # a throwaway server from the OS binaries, as the test suite starts it
            from tests.support.pg import PostgresServer

            postgres = PostgresServer().start()
            settings["database_url"] = postgres.create_database("niaga_ingest")
        niaga = Niaga(root / "var", **settings)
        db_url = settings.get("database_url") or f"sqlite:///{niaga.data_dir / 'niaga.db'}"
        upgrade = niaga.cli("db", "upgrade")
        if upgrade.returncode != 0:
            raise RuntimeError(f"niaga db upgrade failed:\n{upgrade.stderr[-3000:]}")
        seeded = subprocess.run([sys.executable, __file__, "--seed"], env=niaga.env, cwd=niaga.data_dir,
                                capture_output=True, text=True, timeout=120)
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")
        path = seeded.stdout.strip().splitlines()[-1]
        niaga.start(workers=args.server_workers)
        worker_log = (niaga.data_dir / "worker.log").open("ab")
        worker = subprocess.Popen([*NIAGA, "worker", "--workers", str(args.worker_threads)], env=niaga.env,
                                  cwd=niaga.data_dir, stdout=worker_log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            loaded = subprocess.run(
                [sys.executable, __file__, "--load", "--port", str(niaga.port), "--path", path,
                 "--deliveries", str(args.deliveries), "--connections", str(args.connections)],
                capture_output=True, text=True, timeout=1800)
            if loaded.returncode != 0:
                raise RuntimeError(f"load process failed:\n{loaded.stderr[-3000:]}")
            figures = json.loads(loaded.stdout)
            deadline = time.time() + args.drain_timeout
            counts = _counts(db_url)
            while (counts["events_pending"] or counts["events"] < args.deliveries) and time.time() < deadline:
                time.sleep(0.25)
                counts = _counts(db_url)
            drained_at = time.time()
        finally:
            os.killpg(worker.pid, 2)
            worker.wait(30)
            niaga.stop()
        ratio = figures["round1"]["rps"] / figures["ping"]["rps"] if figures["ping"]["rps"] else None
        lost = args.deliveries - counts["messages"]
        duplicated = counts["messages"] - counts["distinct_provider_ids"] + max(0, counts["events"] - args.deliveries)
        return {
            "benchmark": "ingest",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "sqlite": sqlite3.sqlite_version, "platform": platform.platform()},
            "server": {"command": f"niaga serve --workers {args.server_workers}; niaga worker --workers "
                                  f"{args.worker_threads}", "engine": args.engine, "queue": "sqlite (huey)"},
            "load": {"deliveries": args.deliveries, "sends_per_delivery": 3, "connections": args.connections},
            "acknowledge": {"first_delivery": figures["round1"], "redeliveries": figures["redeliveries"],
                            "ping_reference": figures["ping"]},
            "ratio_webhook_vs_ping_rps": round(ratio, 3) if ratio else None,
            "processed": {
                "seconds_after_first_round_started": round(drained_at - figures["started_at"], 2),
                "seconds_after_first_round_acknowledged": round(drained_at - figures["round1_done_at"], 2),
                "messages_per_s_end_to_end": round(counts["messages"] / (drained_at - figures["started_at"]), 1),
            },
            "counts": counts,
            "lost": lost,
            "duplicated": duplicated,
        }
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        if postgres is not None:
            postgres.stop()
        if args.keep:
            print(f"bench: data dir kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int)
    parser.add_argument("--path")
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--worker-threads", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: a throwaway server from the OS binaries (NIAGA_DATABASE_URL for both processes)")
    args = parser.parse_args()
    if not 0 < args.deliveries <= 100_000 or not 0 < args.connections <= 256:
        parser.error("deliveries must be in (0, 100000] and connections in (0, 256]")
    if args.seed:
        return seed()
    if args.load:
        return load(args.port, args.path, args.deliveries, args.connections)
    result = run(args)
    print(json.dumps(result, indent=2))
    failed = result["lost"] or result["duplicated"] or any(
        k != "200" for part in ("first_delivery", "redeliveries") for k in result["acknowledge"][part]["statuses"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""HTTP throughput and latency of niaga served as in production.

    .venv/bin/python bench/http.py                       # SQLite, 1 server worker, 16 connections, 10 s each
    .venv/bin/python bench/http.py --engine postgresql --server-workers 2
    make bench                                           # the same as the first line

What it does, all on this machine and on loopback only:
1. a fresh data dir and master key; with `--engine postgresql` a throwaway PostgreSQL server from the OS
   binaries (the test suite's `tests/support/pg.py`, which runs it with fsync off);
2. `niaga db upgrade`, then one business, its owner and an API token, seeded through the services
   (`bench/_seed.py`);
3. `niaga serve` in a child process, exactly as an operator starts it (INFO logs to a file);
4. for each target (`GET /healthz`, and `GET /api/v1/me` with `Authorization: Bearer …`), a warm-up, then
   load from separate processes (`bench/_load.py`: keep-alive connections, bounded in time);
5. one JSON object on stdout: requests/s, p50/p90/p99 latency, errors, server CPU time per request, and the
   ratio of the authenticated read to the health check measured on the same server in the same run.

Exits 1 when a request failed or answered anything but 2xx (for instance SQLite "database is locked"),
after printing the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # the repository, never bench/: this file's name would shadow the stdlib's http

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from tests.ops.server import Niaga, random_master_key  # noqa: E402

LOAD = str(REPO / "bench" / "_load.py")
SEED = str(REPO / "bench" / "_seed.py")
TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    """The machine the figures come from."""
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _process_tree(pid: int) -> list[int]:
    """pid and all its descendants (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    tree, stack = [], [pid]
    while stack:
        current = stack.pop()
        tree.append(current)
        stack.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process tree."""
    total = 0
    for member in _process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS


def percentile(sorted_values: list[int], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return float(sorted_values[rank - 1])


def drive(port: int, path: str, headers: list[str], connections: int, duration: float, processes: int) -> dict:
    """Run the load processes against one path; merge what they measured."""
    share = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    procs = []
    for count in filter(None, share):
        cmd = [sys.executable, LOAD, "--port", str(port), "--path", path, "--connections", str(count),
               "--duration", str(duration)]
        for header in headers:
            cmd += ["--header", header]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    latencies: list[int] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    wall = 0.0
    for proc in procs:
        out, err = proc.communicate(timeout=duration + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed: {err.strip()[-2000:]}")
        part = json.loads(out)
        latencies += part["latencies_us"]
        wall = max(wall, part["wall_s"])
        for key, value in part["statuses"].items():
            statuses[key] = statuses.get(key, 0) + value
        for key, value in part["errors"].items():
            errors[key] = errors.get(key, 0) + value
    latencies.sort()
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    return {
        "path": path,
        "requests": len(latencies),
        "rps": round(ok / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) / 1000, 2),
        "p90_ms": round(percentile(latencies, 0.90) / 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) / 1000, 2),
        "max_ms": round(latencies[-1] / 1000, 2) if latencies else None,
        "statuses": statuses,
        "non_2xx": len(latencies) - ok,
        "errors": errors,
    }


def run(args: argparse.Namespace) -> dict:
    root = Path(tempfile.mkdtemp(prefix="niaga-bench-"))
    pg = None
    try:
        settings = {"master_key": random_master_key()}
        if args.engine == "postgresql":
            from tests.support.pg import PostgresServer

            pg = PostgresServer().start()
            settings["database_url"] = pg.create_database("niaga_bench")
        niaga = Niaga(root / "var", **settings)
        upgrade = niaga.cli("db", "upgrade")
        if upgrade.returncode != 0:
            raise RuntimeError(f"niaga db upgrade failed:\n{upgrade.stderr[-3000:]}")
        seeded = subprocess.run([sys.executable, SEED], env=niaga.env, cwd=niaga.data_dir, capture_output=True,
                                text=True, timeout=120)
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{seeded.stderr[-3000:]}")
        token = seeded.stdout.strip().splitlines()[-1]
        niaga.start(workers=args.server_workers)
        try:
            import httpx

            me = httpx.get(f"{niaga.base_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
            if me.status_code != 200:
                raise RuntimeError(f"GET /api/v1/me answered {me.status_code}: {me.text[:500]}")
            targets = {
                "healthz": ("/healthz", []),
                "api_me": ("/api/v1/me", [f"Authorization: Bearer {token}"]),
            }
            results = {}
            for name, (path, headers) in targets.items():
                if args.warmup > 0:
                    drive(niaga.port, path, headers, args.connections, args.warmup, args.load_processes)
                cpu_before = cpu_seconds(niaga.process.pid)
                figures = drive(niaga.port, path, headers, args.connections, args.duration, args.load_processes)
                cpu_used = cpu_seconds(niaga.process.pid) - cpu_before
                figures["server_cpu_ms_per_request"] = (
                    round(cpu_used * 1000 / figures["requests"], 3) if figures["requests"] else None
                )
                results[name] = figures
        finally:
            niaga.stop()
        log = niaga.log_text()
        return {
            "benchmark": "http",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine(),
            "server": {
                "command": f"niaga serve --workers {args.server_workers}",
                "engine": args.engine,
                "workers": args.server_workers,
                "note": "PostgreSQL runs with fsync off (tests/support/pg.py)" if pg else "SQLite WAL in the data dir",
            },
            "load": {"connections": args.connections, "processes": args.load_processes,
                     "duration_s": args.duration, "warmup_s": args.warmup, "address": "127.0.0.1"},
            "results": results,
            "ratios": {
                "api_me_vs_healthz_rps": round(results["api_me"]["rps"] / results["healthz"]["rps"], 3)
                if results["healthz"]["rps"] else None,
            },
            "server_log": {
                "database_locked": log.count("database is locked"),
                "error_lines": sum(1 for line in log.splitlines() if '"level": "error"' in line),
            },
        }
    finally:
        if pg is not None:
            pg.stop()
        if args.keep:
            print(f"bench: data dir and server log kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--server-workers", type=int, default=1, help="niaga serve --workers")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--load-processes", type=int, default=1, help="processes sharing the connections")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load per target first")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log (path on stderr)")
    args = parser.parse_args()
    if not 0 < args.duration <= 300 or not 0 <= args.warmup <= 60:
        parser.error("--duration must be in (0, 300] and --warmup in [0, 60] seconds")
    if not 1 <= args.server_workers <= 16 or not 1 <= args.load_processes <= args.connections <= 1000:
        parser.error("need 1 <= server workers <= 16 and 1 <= load processes <= connections <= 1000")
    started = time.monotonic()
    host = machine()  # before the run: the load average says how busy the machine already was
    report = run(args)
    report["machine"] = host
    report["bench_wall_s"] = round(time.monotonic() - started, 1)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    failed = any(r["non_2xx"] or r["errors"] for r in report["results"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

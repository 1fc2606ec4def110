"""Load generator for bench/http.py: N keep-alive HTTP/1.1 connections in one process, for a bounded time.

    python bench/_load.py --port 8123 --path /healthz --connections 8 --duration 10 [--header 'K: V']

Speaks just enough HTTP/1.1 by hand (Content-Length and chunked bodies) so that the client costs far less
CPU than the server it measures. Only loopback addresses are accepted. Prints one JSON object: the
latency of every completed request (microseconds), status counts, errors, and the measured wall time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repository, never bench/ (http.py would shadow http)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402


class Stats:
    """What all connections of this process saw."""

    def __init__(self) -> None:
        self.latencies_us: list[int] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)


async def _connection(host: str, port: int, request: bytes, deadline: float, stats: Stats) -> None:
    reader = writer = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=max(deadline - started, 0) + 30)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            await _read_body(reader, headers)
            stats.latencies_us.append(int((time.perf_counter() - started) * 1_000_000))
            stats.statuses[status] += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError) as exc:
            stats.errors[type(exc).__name__] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run(host: str, port: int, path: str, headers: list[str], connections: int, duration: float) -> dict:
    """Drive `connections` connections until `duration` seconds have passed; returns the raw figures."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "User-Agent: niaga-bench", "Accept: */*", *headers]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    stats = Stats()
    began = time.perf_counter()
    deadline = began + duration
    await asyncio.gather(*(_connection(host, port, request, deadline, stats) for _ in range(connections)))
    return {
        "wall_s": time.perf_counter() - began,
        "latencies_us": stats.latencies_us,
        "statuses": {str(k): v for k, v in stats.statuses.items()},
        "errors": dict(stats.errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--header", action="append", default=[], help="extra request header 'Name: value'")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("load is only ever sent to a loopback address")
    if not 0 < args.duration <= 600 or not 0 < args.connections <= 1000:
        parser.error("duration must be in (0, 600] seconds and connections in (0, 1000]")
    try:
        import uvloop  # installed with uvicorn[standard]

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args.host, args.port, args.path, args.header, args.connections, args.duration))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Put bench/http.py results into the README's benchmark section.

    .venv/bin/python bench/http.py --engine sqlite > bench/results/http-sqlite-w1.json
    .venv/bin/python scripts/bench_figures.py bench/results/http-*.json            # print the block
    .venv/bin/python scripts/bench_figures.py --write bench/results/http-*.json    # rewrite it in README.md

One table row per run and target; the machine and date come from the runs themselves.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

START = "<!-- bench-figures:start -->"
END = "<!-- bench-figures:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"
TARGETS = {"healthz": "`GET /healthz`", "api_me": "`GET /api/v1/me` (bearer token)"}


def render(reports: list[dict], note: str = "") -> str:
    """The markdown block for a list of bench/http.py reports."""
    first = reports[0]
    m = first["machine"]
    dates = sorted({r["date"][:10] for r in reports})
    loads = [r["machine"]["load_average_1m_at_start"] for r in reports if "load_average_1m_at_start" in r["machine"]]
    busy = (f"The machine was shared with other work (1-minute load average {min(loads):g}–{max(loads):g} "
            "when the runs started), so take the absolute numbers as a floor and the ratios as the figures to "
            "compare." if loads else "")
    lines = [
        f"Measured {', '.join(dates)} on {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), "
        f"{round(m['memory_gib'])} GiB, Python {m['python']}, SQLite {m['sqlite']}, {m['os']}; "
        f"{first['load']['connections']} keep-alive connections from one load process, "
        f"{first['load']['duration_s']:g} s per target after {first['load']['warmup_s']:g} s of warm-up. {busy}",
        "",
        "| Engine | Server workers | Target | requests/s | p50 ms | p99 ms | server CPU ms/request | errors |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for report in reports:
        server = report["server"]
        for key, label in TARGETS.items():
            r = report["results"][key]
            errors = r["non_2xx"] + sum(r["errors"].values())
            lines.append(
                f"| {server['engine']} | {server['workers']} | {label} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['server_cpu_ms_per_request']:.2f} | {errors} |"
            )
    lines += ["", "Ratio of the authenticated read to the health check (requests/s, same server, same run): " +
              "; ".join(f"{r['server']['engine']} with {r['server']['workers']} worker{'s' if r['server']['workers'] > 1 else ''} "
                        f"{r['ratios']['api_me_vs_healthz_rps']:.2f}" for r in reports) + "."]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="JSON files written by bench/http.py")
    parser.add_argument("--write", action="store_true", help="rewrite the block in README.md")
    parser.add_argument("--note", default="", help="a paragraph to add under the table")
    args = parser.parse_args(argv)
    reports = [json.loads(p.read_text()) for p in args.results]
    block = render(reports, args.note)
    if not args.write:
        print(block)
        return 0
    text = README.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise SystemExit("README.md: the bench-figures markers are missing")
    README.write_text(text[: start + len(START)] + "\n" + block + "\n" + text[end:], encoding="utf-8")
    print("README.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

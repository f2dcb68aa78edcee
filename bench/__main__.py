"""Run every benchmark, print one table, record it in docs/benchmarks.md.

    python -m bench                 # all benchmarks at full size
    python -m bench --quick         # smaller sizes, for a quick look (not for the record)
    python -m bench --only backtest --write-docs

Each benchmark module exposes ``measure(quick: bool) -> list[Result]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import Result

BENCHMARKS = {
    "monitor": "bench.bench_monitor",
    "decisions": "bench.bench_decisions",
    "ingest": "bench.bench_ingest",
    "backtest": "bench.bench_backtest",
    "amlsim": "bench.bench_amlsim",
    "console": "bench.bench_console",
    "intel": "bench.bench_intel",
    "screening": "bench.bench_screening",
    "links": "bench.bench_links",
    "rating": "bench.bench_rating",
    "delivery": "bench.bench_delivery",
    "reports": "bench.bench_reports",
    "learn": "bench.bench_learn",
    "anomaly": "bench.bench_anomaly",
    "learn_live": "bench.bench_learn_live",
    "cluster": "bench.bench_cluster",
    "cluster_ceiling": "bench.bench_cluster_ceiling",
    "workbench": "bench.bench_workbench",
    "learn_sim": "bench.bench_learn_sim",
}
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
MARK = "<!-- bench:results -->"


def run_isolated(module: str, quick: bool) -> list[Result]:
    """Run one benchmark in a fresh interpreter, so none inherits another's heap or state."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        code = (
            "import json, importlib, pathlib\n"
            f"results = importlib.import_module({module!r}).measure(quick={quick!r})\n"
            f"pathlib.Path({str(out)!r}).write_text(json.dumps([r.__dict__ for r in results]))\n"
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return [Result(**fields) for fields in json.loads(out.read_text())]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; commit {commit or 'n/a'}"
    )


def render_markdown(results: list[Result], when: str, where: str) -> str:
    lines = [
        f"Measured {when} on: {where}.",
        "",
        "| benchmark | measure | value | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        met = "—" if r.ok is None else ("yes" if r.ok else "**no**")
        lines.append(f"| {r.bench} | {r.name} | {r.shown} | {r.target or '—'} | {met} |")
    return "\n".join(lines) + "\n"


def write_docs(markdown: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{MARK}\n{MARK}\n"
    head, _, rest = text.partition(MARK)
    _, _, tail = rest.partition(MARK)
    DOCS.write_text(f"{head}{MARK}\n{markdown}{MARK}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (not for the record)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    parser.add_argument("--write-docs", action="store_true", help="record in docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    console = Console(stderr=True)
    results: list[Result] = []
    for name in args.only or list(BENCHMARKS):
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        results.extend(run_isolated(BENCHMARKS[name], args.quick))
        console.print(f"{name}: {time.perf_counter() - started:.1f} s")
    table = Table(title="riskops benchmarks" + (" (quick)" if args.quick else ""))
    for column in ("benchmark", "measure", "value", "target", "met"):
        table.add_column(column)
    for r in results:
        met = "—" if r.ok is None else ("[green]yes" if r.ok else "[red]no")
        table.add_row(r.bench, r.name, r.shown, r.target or "—", met)
    Console().print(table)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    if args.write_docs:
        write_docs(render_markdown(results, when, machine()))
        console.print(f"recorded in {DOCS}")
    return 0 if all(r.ok is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

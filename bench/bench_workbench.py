"""The workbench's backtest of a draft against the stored history (ADR 0040): a simulated
month ingested into the event log (SQLite), then one rule's draft and its live version run
over the default cap of stored events (200,000) by ``authoring.backtests.run_backtest``
(read from the database in keyset pages, decoded, run in DuckDB, compared with case
outcomes and labels), in a fresh process whose peak memory is the backtest's.

    python -m bench.bench_workbench [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Result, at_most

FULL_EVENTS = 200_000  # authoring.backtests.DEFAULT_CAP
RULE = "PT-001"  # pass-through: a deposit then a withdrawal, 1 h and 24 h windows
CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime, timedelta
from riskops.authoring.backtests import DEFAULT_CAP, run_backtest
from riskops.kernel.db import make_engine, session_factory
from riskops.rules import repository as rules_repo
from riskops.rules.service import to_rule
engine = make_engine(sys.argv[1])
rule = sys.argv[2]
with session_factory(engine)() as session:
    live = rules_repo.with_status(session, ["live"], rule)[0]
    draft = rules_repo.get_version(session, rule, live.version + 1)
    now = datetime.now(UTC)
    started = time.perf_counter()
    out = run_backtest(session, to_rule(draft), to_rule(live), now - timedelta(days=30), now,
                       DEFAULT_CAP)
    elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"elapsed": elapsed, "events": out.events, "hits": out.draft.hits,
                  "added": len(out.added), "removed": len(out.removed), "peak_mb": peak}))
"""


def _prepare(directory: Path, target: int) -> str:
    """A migrated SQLite database holding a simulated last month, and a draft of ``RULE``."""
    import msgspec

    from riskops.events.adapters import read_events
    from riskops.events.service import ingest
    from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
    from riskops.rules import repository as rules_repo
    from riskops.rules import service as rules
    from riskops.sim import SimConfig, simulate

    start = (datetime.now(UTC) - timedelta(days=30)).date()
    simulate(SimConfig(accounts=max(200, target // 40), days=30, seed=3, start=start), directory)
    url = f"sqlite:///{directory / 'riskops.db'}"
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(session_factory(engine)) as session:
        rules.seed_default_pack(session)
        ingest(session, read_events(directory / "events.ndjson", "ndjson"), source="file")
        live = rules_repo.with_status(session, ["live"], RULE)[0]
        doc: dict[str, Any] = msgspec.json.decode(live.body)
        # the draft: from USD 500 rather than 1,000, and a 2 h window (adds and removes hits)
        text = msgspec.json.encode(doc).decode()
        text = text.replace('"gte":100000', '"gte":50000').replace('"window":"1h"', '"window":"2h"')
        rules.save_drafts(session, [msgspec.json.decode(text)], "bench")
    engine.dispose()
    return url


def measure(quick: bool = False) -> list[Result]:
    target = 20_000 if quick else FULL_EVENTS
    with tempfile.TemporaryDirectory() as tmp:
        url = _prepare(Path(tmp), target)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, url, RULE], check=True, capture_output=True, text=True
        )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    label = f"draft vs live {RULE} over {got['events']:,} stored events"
    elapsed = float(got["elapsed"])
    return [
        at_most("workbench", f"backtest, {label}", elapsed, "s", 60.0)
        if not quick
        else Result("workbench", f"backtest, {label} (quick)", elapsed, "s"),
        Result("workbench", "backtest events per second", got["events"] / elapsed, "events/s"),
        Result("workbench", "backtest process peak memory", got["peak_mb"], "MB"),
        Result(
            "workbench",
            f"draft hits {got['hits']:,}, added {got['added']:,}, removed {got['removed']:,}",
            got["hits"],
            "",
        ),
    ]


if __name__ == "__main__":
    for r in measure(quick="--quick" in sys.argv):
        verdict = "" if r.ok is None else (" ok" if r.ok else " MISSED")
        print(f"{r.bench:10} {r.name:70} {r.shown:>16} {r.target}{verdict}")

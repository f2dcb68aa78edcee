"""Monitor throughput and per-event decision latency with the default rule pack.

Three measures over simulated exchange traffic (``riskops.sim``), each on one core:
the rules engine alone on pre-flattened rows, the monitor (flatten + evaluate + combine +
the account's restrictions, no database), and the monitor with its database batch writes
(SQLite file, batches of 2,000 events, decisions + alerts + holds + checkpoint per
transaction).

"Evaluator only" looks every event's account up in a table of active restrictions shaped
like the worker's (one account in ``RESTRICTED_EVERY`` restricted), so blocked events and
the lookup are in its figures. "With SQLite writes" times each batch from its read to its
commit, and gives each event of the batch that time: an event's decision is not done until
its batch is committed, so its latency is the batch's, writes and commit included.

    python -m bench.bench_monitor [N_EVENTS]
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from bench.common import Result, at_least, at_most, monitor_on_sqlite, percentile

NAME = "monitor"
RESTRICTED_EVERY = 50  # one account in this many has an active restriction


def restrictions_table(events: list[Any]) -> dict[str, set[Any]]:
    """Active restriction kinds by account, as ``accounts.active_kinds`` gives the worker:
    one account in ``RESTRICTED_EVERY``, the kinds in turn."""
    from riskops.accounts.models import RestrictionKind

    # A full freeze first: it blocks every type that restrictions block, so even a short
    # run has blocked events.
    kinds = [RestrictionKind.FULL_FREEZE, *(k for k in RestrictionKind if k != "full_freeze")]
    accounts = sorted({e.account_id for e in events})
    return {
        account: {kinds[i % len(kinds)]} for i, account in enumerate(accounts[::RESTRICTED_EVERY])
    }


def sim_events(n_events: int) -> list[Any]:
    """About ``n_events`` validated events from the exchange simulator, in time order."""
    from riskops.events.validation import from_obj
    from riskops.sim import SimConfig, generate

    accounts = max(50, n_events // 11)  # the simulator yields about 11 events per account
    events = [from_obj(obj) for obj in generate(SimConfig(accounts=accounts, days=10, seed=7))]
    return events[:n_events]


def _rates(name: str, n: int, seconds: float, lat_us: list[int]) -> dict[str, float]:
    lat_us = sorted(lat_us)
    return {
        f"{name} events/s": n / seconds,
        f"{name} p50 ms": percentile(lat_us, 50) / 1000,
        f"{name} p99 ms": percentile(lat_us, 99) / 1000,
    }


def run(n_events: int = 100_000) -> dict[str, float]:
    """Measure; returns ``{measure: value}``."""
    from riskops.events.flat import to_rows
    from riskops.monitor.engine import Monitor
    from riskops.monitor.evaluators import RulesEvaluatorFactory
    from riskops.monitor.runtime import tune_gc

    tune_gc()  # as the worker and the server do
    events = sim_events(n_events)
    n = len(events)
    factory = RulesEvaluatorFactory.load(None)
    out: dict[str, float] = {"events": n}

    # The pre-loaded input stands in for a stream: it is not the monitor's state, so the
    # collector should not rescan it (a worker holds one batch of events, not a million).
    gc.collect()
    gc.freeze()
    rows = [r for seq, e in enumerate(events, 1) for r in to_rows(e, seq)]
    evaluator = factory.new()
    started = time.perf_counter()
    for row in rows:
        evaluator.process(row)
    out["rules engine rows/s"] = len(rows) / (time.perf_counter() - started)
    # One monitor state at a time, as in the worker: drop the first pass's state and rows.
    del evaluator, rows
    gc.collect()

    # The lookup the worker gives the monitor (MonitorRuntime._restrictions), over a table
    # where some accounts are restricted: decide() times it with the rest.
    table = restrictions_table(events)
    monitor = Monitor(factory.new(), lambda account_id: table.get(account_id) or set())
    latencies = []
    blocked = 0
    started = time.perf_counter()
    for seq, event in enumerate(events, 1):
        first = monitor.decide(event, seq)[0]
        latencies.append(first.latency_us)
        blocked += first.restricted is not None
    out.update(_rates("evaluator only", n, time.perf_counter() - started, latencies))
    out["evaluator only blocked by a restriction"] = blocked

    del monitor
    gc.collect()
    out.update(_with_db(events, factory))
    gc.unfreeze()
    return out


def _with_db(events: list[Any], factory: Any) -> dict[str, float]:
    from riskops.monitor import service

    with monitor_on_sqlite(events, factory) as (_, _, runtime):
        # Each step is one transaction: read the batch, decide it, write decisions,
        # alerts, holds and the timeline, commit. Its wall time is each of its events'
        # latency (the monitor's own latency_us stops before the writes).
        latencies: list[int] = []
        batches_ms: list[float] = []
        done = service.BatchResult()
        started = time.perf_counter()
        while True:
            batch_started = time.perf_counter_ns()
            result = runtime.step()
            took_ns = time.perf_counter_ns() - batch_started
            if not result.read:
                break
            done.merge(result, latencies=False)
            batches_ms.append(took_ns / 1e6)
            latencies.extend([took_ns // 1000] * result.events)
        seconds = time.perf_counter() - started
    rates = _rates("with SQLite writes", done.events, seconds, latencies)
    rates["with SQLite writes batches"] = len(batches_ms)
    rates["with SQLite writes batch p99 ms"] = percentile(sorted(batches_ms), 99)
    rates["stored decisions"] = done.stored
    rates["alerts"] = sum(done.alerts.values())
    return rates


def measure(quick: bool = False) -> list[Result]:
    """The benchmark harness entry point (``python -m bench``)."""
    m = run(20_000 if quick else 1_000_000)
    return [
        Result(NAME, "events", m["events"], "events"),
        Result(NAME, "rules engine alone", m["rules engine rows/s"], "rows/s"),
        at_least(NAME, "evaluator only", m["evaluator only events/s"], "events/s", 50_000),
        Result(NAME, "evaluator only p50", m["evaluator only p50 ms"], "ms"),
        at_most(NAME, "evaluator only p99", m["evaluator only p99 ms"], "ms", 2),
        Result(NAME, "with SQLite writes", m["with SQLite writes events/s"], "events/s"),
        Result(
            NAME,
            "with SQLite writes p99 (batch read to commit)",
            m["with SQLite writes p99 ms"],
            "ms",
        ),
    ]


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    for key, value in run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000).items():
        print(f"{key:32} {value:>14,.3f}")

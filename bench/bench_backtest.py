"""Backtest of the default pack over 5M simulated events on DuckDB (target: under 30 s), and
the same on local Spark beside it (issue 13: reported, no target; ADR 0043).

The events are simulated once into a Parquet file under bench/out and reused. The Spark
run is skipped (with a row saying why) when pyspark or Java is missing; its hits must
equal DuckDB's, rule for rule.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

from bench.common import OUT, Result, at_most

FULL_EVENTS = 5_000_000


def events_file(target_events: int) -> Path:
    """A cached simulated Parquet event file with about ``target_events`` events."""
    from riskops.sim import SimConfig, simulate

    # About 45 events per account over 30 days; size up so the file holds at least the target.
    accounts = max(500, target_events // 42)
    out = OUT / f"sim-{accounts}a-30d"
    path = out / "events.parquet"
    if not path.exists():
        simulate(SimConfig(accounts=accounts, days=30, seed=11), out, "parquet")
    return path


def measure(quick: bool = False) -> list[Result]:
    import pyarrow.parquet as pq

    from riskops.rules.backtest import backtest
    from riskops.rules.definition import load_default_pack
    from riskops.rules.lists import default_lists

    path = events_file(500_000 if quick else FULL_EVENTS)
    events = pq.ParquetFile(path).metadata.num_rows
    started = time.perf_counter()
    result = backtest(load_default_pack(), path, lists=default_lists(), out=OUT / "bt_hits.csv")
    elapsed = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux; it includes the simulation when the file was just made.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hits = sum(result.hits_per_rule.values())
    label = f"default pack over {events / 1e6:.2f}M events"
    if not quick and events < FULL_EVENTS:
        raise RuntimeError(f"the simulated file has {events:,} events, fewer than {FULL_EVENTS:,}")
    return [
        at_most("backtest", label, elapsed, "s", 30.0)
        if not quick
        else Result("backtest", label, elapsed, "s"),
        Result("backtest", "throughput", events / elapsed, "events/s"),
        Result("backtest", "hits", float(hits), "hits"),
        Result("backtest", "peak memory (process)", peak_mb, "MB"),
        *_spark(path, label, result.hits_per_rule),
    ]


def _spark(path: Path, label: str, want: dict[str, int]) -> list[Result]:
    """The same backtest on local Spark (the session's start-up included)."""
    from riskops.rules import spark
    from riskops.rules.definition import load_default_pack
    from riskops.rules.lists import default_lists

    if spark.unavailable() is not None:
        return [Result("backtest", f"spark: skipped ({spark.unavailable()})", 0.0, "")]
    started = time.perf_counter()
    with spark.session(memory="4g") as session:
        ready = time.perf_counter()
        result = spark.backtest_spark(
            load_default_pack(), path, lists=default_lists(), spark=session
        )
    done = time.perf_counter()
    if result.hits_per_rule != want:
        raise RuntimeError("Spark's hits differ from DuckDB's")
    return [
        Result("backtest", f"spark: {label}", done - ready, "s"),
        Result("backtest", "spark: session start", ready - started, "s"),
        Result("backtest", "spark: throughput", result.total_events / (done - ready), "events/s"),
        Result("backtest", "spark: hits (= DuckDB's, rule for rule)", float(result.hits), "hits"),
    ]

"""What the anomaly score costs the monitor per money event, and what it flags on the
simulator (ADR 0039).

The simulator's money rows go through the feature state (``learn.stream``, untimed) and
then ``AnomalyState.observe`` (timed, one call at a time: the monitor calls it once per
money row, and once more for a transfer's receiver through ``receiver_view``). The first
half of the rows warms the state untimed; the second half is timed. Also: the snapshot's
size and time, and how many rows and accounts score at or above ``THRESHOLD``, and how
many of those accounts take part in a planted scenario (the simulator's labels).

    python -m bench.bench_anomaly [--accounts N] [--days N] [--seed N]
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from bench.common import Result, at_most, percentile

NAME = "anomaly"


def money_rows(accounts: int, days: int, seed: int) -> tuple[list[tuple[Any, ...]], set[str]]:
    """(account, peer, ts_us, vector) of every money row of a simulation, and the accounts
    of its planted scenarios."""
    from riskops.events.flat import to_rows
    from riskops.events.validation import Rejection, from_obj
    from riskops.learn.anomaly import peer_of, receiver_view
    from riskops.learn.stream import FeatureState, is_money
    from riskops.sim import SimConfig, Simulation

    sim = Simulation(SimConfig(accounts=accounts, days=days, seed=seed))
    features = FeatureState()
    out: list[tuple[Any, ...]] = []
    vector: Any = None
    for seq, obj in enumerate(sim.events(), start=1):
        event = from_obj(obj)
        if isinstance(event, Rejection):
            raise SystemExit(f"the simulator made an invalid event: {event}")
        for row in to_rows(event, seq):
            if not is_money(row):
                continue
            vector = features.update(row) if row["row"] == 0 else receiver_view(vector)
            out.append((row["account_id"], peer_of(row), row["ts_us"], vector))
    planted = {account for account, *_ in sim.account_labels()}
    return out, planted


def observe_cost(rows: list[tuple[Any, ...]], planted: set[str]) -> dict[str, float]:
    """Per-call latency on the second half of the rows, the snapshot, and the flags."""
    from riskops.learn.anomaly import THRESHOLD, AnomalyState

    state = AnomalyState()
    half = len(rows) // 2
    flagged_rows = 0
    flagged: set[str] = set()
    for account, peer, ts, vector in rows[:half]:
        if state.observe(account, peer, ts, vector).score >= THRESHOLD:
            flagged_rows += 1
            flagged.add(account)
    gc.collect()
    gc.disable()
    timings: list[float] = []
    clock = time.perf_counter_ns
    cpu = time.process_time()
    try:
        for account, peer, ts, vector in rows[half:]:
            started = clock()
            found = state.observe(account, peer, ts, vector)
            timings.append((clock() - started) / 1000)
            if found.score >= THRESHOLD:
                flagged_rows += 1
                flagged.add(account)
                _ = [d.words for d in found.deviations]  # what the decision's reason costs
    finally:
        gc.enable()
    cpu_us = (time.process_time() - cpu) * 1e6 / max(1, len(timings))
    timings.sort()
    began = time.perf_counter()
    blob = state.snapshot()
    snapshot_ms = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    AnomalyState.restore(blob)
    restore_ms = (time.perf_counter() - began) * 1000
    return {
        "rows": len(rows),
        "accounts": state.accounts,
        "p50 us": percentile(timings, 50),
        "p99 us": percentile(timings, 99),
        "mean us": sum(timings) / len(timings),
        "cpu us": cpu_us,
        "snapshot bytes/account": len(blob) / max(1, state.accounts),
        "snapshot ms": snapshot_ms,
        "restore ms": restore_ms,
        "flagged rows %": 100 * flagged_rows / len(rows),
        "flagged accounts": len(flagged),
        "flagged accounts planted": len(flagged & planted),
    }


def measure(quick: bool = False) -> list[Result]:
    """The benchmark harness entry point (``python -m bench``)."""
    rows, planted = money_rows(300 if quick else 2_000, 10 if quick else 30, 7)
    m = observe_cost(rows, planted)
    return [
        Result(NAME, "money rows", m["rows"], "rows"),
        Result(NAME, "observe p50", m["p50 us"], "us"),
        at_most(NAME, "observe p99", m["p99 us"], "us", 50),
        Result(NAME, "observe mean", m["mean us"], "us"),
        Result(NAME, "observe CPU per event", m["cpu us"], "us"),
        Result(NAME, "snapshot per account", m["snapshot bytes/account"], "bytes"),
        Result(NAME, "snapshot", m["snapshot ms"], "ms"),
        Result(NAME, "restore", m["restore ms"], "ms"),
        Result(NAME, "rows at threshold", m["flagged rows %"], "%"),
        Result(NAME, "accounts at threshold", m["flagged accounts"], "accounts"),
        Result(NAME, "of which planted", m["flagged accounts planted"], "accounts"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rows, planted = money_rows(args.accounts, args.days, args.seed)
    for key, value in observe_cost(rows, planted).items():
        print(f"{key:28s} {value:,.2f}")


if __name__ == "__main__":
    main()

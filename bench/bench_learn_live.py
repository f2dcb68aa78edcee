"""Live scoring in the monitor, and ``riskops train`` at 5M transactions.

- ``monitor p50/p99 without / with live scoring``: ``Monitor.decide`` over simulated
  exchange traffic (``riskops.sim``) with the default pack, first as it is, then with a live
  model (``LearnEvaluator``: features, the model, the anomaly step, hits and reasons).
- ``added per event p50/p99``: the learning step alone, timed inside the monitor for each
  money event (features + model + anomaly + the model's hits with reasons when it alerts):
  the target is at most 0.2 ms at p99 (CPU time: a busy machine's preemption left out;
  wall time beside it). The model is trained on the same traffic with a synthetic label,
  up to 400 rounds without early stopping (its tree count is in the row's name).
- ``train 5M``: ``riskops train --events FILE --format amlworld`` on a generated AMLworld
  file of 5M transactions (``bench.bench_learn.generate``) in a child process under
  ``/usr/bin/time -v``: wall time (target 10 minutes on 2 cores) and peak memory.

    python -m bench --only learn_live
    python -m bench.bench_learn_live [--quick]
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import Result, at_most, percentile

NAME = "learn_live"


class _Timed:
    """The scoring step with stopwatches around it: ``scoring`` (features, model, anomaly)
    and ``total`` (with the hits, whose reasons ask ``pred_contrib`` when the model alerts)."""

    def __init__(self, scoring: Any) -> None:
        self.inner = scoring
        self.scoring: list[int] = []  # wall ns
        self.cpu: list[int] = []  # this thread's CPU ns (a busy machine's preemption left out)
        self.total: list[int] = []
        self.alerts = 0
        self._step = self._cpu = 0

    @property
    def active(self) -> bool:
        return bool(self.inner.active)

    def step(self, row: dict[str, Any]) -> None:
        cpu, started = time.thread_time_ns(), time.perf_counter_ns()
        self.inner.step(row)
        self._step = time.perf_counter_ns() - started
        self._cpu = time.thread_time_ns() - cpu

    def hits(self, row: dict[str, Any]) -> list[Any]:
        started = time.perf_counter_ns()
        out = list(self.inner.hits(row))
        if row["row"] == 0 and self.inner._vector is not None:
            self.scoring.append(self._step)
            self.cpu.append(self._cpu)
            self.total.append(self._step + time.perf_counter_ns() - started)
            self.alerts += any(h.rule_id.startswith("MODEL:") for h in out)
        return out

    def snapshot(self) -> bytes:
        return bytes(self.inner.snapshot())


def _model(events: list[Any]) -> Any:
    """A two-stage model (ADR 0051) of up to 400 trees a stage on the traffic's own
    features, with a synthetic label: the costlier kind to score live."""
    import msgspec
    import pyarrow as pa

    from riskops.events.flat import to_rows
    from riskops.learn import model as m
    from riskops.learn import stacking
    from riskops.learn.features import FEATURE_NAMES, STACKED_NAMES
    from riskops.learn.stream import FeatureState, counterparty_account, is_money

    state = FeatureState()
    xs, who = [], []
    for seq, event in enumerate(events, 1):
        row = to_rows(event, seq)[0]
        if is_money(row):
            xs.append(state.update(row))
            who.append((state.clock, row["account_id"], counterparty_account(row)))
    x = np.array(xs)
    rng = np.random.default_rng(1)
    signal = np.log1p(x[:, 0]) + 0.5 * np.log1p(x[:, 7]) + rng.normal(size=len(x))
    y = (signal > np.quantile(signal, 0.995)).astype(np.float64)  # rare, as in life
    cut = int(len(x) * 0.7)
    fit = m.train(x[:cut], y[:cut], x[cut:], y[cut:], FEATURE_NAMES, rounds=400, early_stopping=400)
    ts, own, other = zip(*who, strict=True)
    parties = stacking.Parties(np.array(ts), pa.array(own), pa.array(other, pa.string()))
    wide, first = stacking.widen(fit.artifact, x, parties)
    names = list(FEATURE_NAMES + STACKED_NAMES)
    second = m.train(
        wide[:cut], y[:cut], wide[cut:], y[cut:], names, rounds=400, early_stopping=400
    )
    return m.Model(msgspec.structs.replace(second.artifact, **first))


def _parts(events: list[Any], model: Any) -> list[Result]:
    """CPU time per money event of each part alone: features, the model, the anomaly."""
    from riskops.events.flat import to_rows
    from riskops.learn.anomaly import AnomalyState, peer_of
    from riskops.learn.scoring import LoadedModel
    from riskops.learn.stream import FeatureState, is_money

    state, anomaly = FeatureState(), AnomalyState()
    loaded = LoadedModel("bench", 1, False, model)
    spent: dict[str, list[int]] = {"features": [], "model": [], "anomaly": []}
    clock = time.thread_time_ns
    for seq, event in enumerate(events, 1):
        row = to_rows(event, seq)[0]
        if not is_money(row):
            continue
        t0 = clock()
        vector = state.update(row)
        t1 = clock()
        loaded.observe(row, vector, state.clock)  # the first stage and the memory
        loaded.predict(vector)
        t2 = clock()
        anomaly.observe(row["account_id"], peer_of(row), row["ts_us"], vector)
        t3 = clock()
        spent["features"].append(t1 - t0)
        spent["model"].append(t2 - t1)
        spent["anomaly"].append(t3 - t2)
    out = []
    for name, values in spent.items():
        values.sort()
        out.append(Result(NAME, f"{name} alone CPU p50", percentile(values, 50) / 1e6, "ms"))
        out.append(Result(NAME, f"{name} alone CPU p99", percentile(values, 99) / 1e6, "ms"))
    both = sorted(f + m for f, m in zip(spent["features"], spent["model"], strict=True))
    out.append(at_most(NAME, "features + model CPU p99", percentile(both, 99) / 1e6, "ms", 0.2))
    return out


def _decide_all(monitor: Any, events: list[Any]) -> list[int]:
    latencies = []
    for seq, event in enumerate(events, 1):
        latencies.append(monitor.decide(event, seq)[0].latency_us)
    return sorted(latencies)


def _live(quick: bool) -> list[Result]:
    from bench.bench_monitor import sim_events
    from riskops.learn.scoring import LoadedModel, ModelSet, Scoring
    from riskops.monitor.engine import Monitor
    from riskops.monitor.evaluators import LearnEvaluator, RulesEvaluatorFactory
    from riskops.monitor.runtime import tune_gc

    tune_gc()
    events = sim_events(20_000 if quick else 100_000)
    model = _model(events)
    factory = RulesEvaluatorFactory.load(None)
    gc.collect()
    gc.freeze()
    plain = _decide_all(Monitor(factory.new()), events)
    gc.collect()
    models = ModelSet([LoadedModel("bench", 1, False, model)])
    timed = _Timed(Scoring(models))
    learning = LearnEvaluator(factory.new(), timed)
    scored = _decide_all(Monitor(learning), events)
    step, cpu, total = sorted(timed.scoring), sorted(timed.cpu), sorted(timed.total)
    gc.unfreeze()
    n = f"{len(events):,} sim events"
    trees = model.artifact.model_text.count("Tree=")
    first = model.artifact.first_text.count("Tree=")
    print(f"{len(step):,} money events scored by {first} + {trees} trees", file=sys.stderr)
    trees += first
    ms = 1e6
    return [
        Result(NAME, f"monitor p50 without live scoring ({n})", percentile(plain, 50) / 1e3, "ms"),
        Result(NAME, "monitor p99 without live scoring", percentile(plain, 99) / 1e3, "ms"),
        Result(NAME, "monitor p50 with live scoring", percentile(scored, 50) / 1e3, "ms"),
        Result(NAME, "monitor p99 with live scoring", percentile(scored, 99) / 1e3, "ms"),
        Result(NAME, f"added per money event p50 ({trees} trees)", percentile(step, 50) / ms, "ms"),
        Result(NAME, "added per money event p99 (wall)", percentile(step, 99) / ms, "ms"),
        Result(NAME, "added per money event CPU p50", percentile(cpu, 50) / ms, "ms"),
        at_most(NAME, "added per money event CPU p99", percentile(cpu, 99) / ms, "ms", 0.2),
        Result(NAME, "model alerts per money event", 100 * timed.alerts / max(1, len(step)), "%"),
        Result(NAME, "added p99 with reasons on alerts", percentile(total, 99) / ms, "ms"),
        Result(NAME, "added max with reasons on alerts", total[-1] / ms, "ms"),
        *_parts(events, model),
    ]


def _train_at_scale(quick: bool) -> list[Result]:
    from bench.bench_learn import generated_file, run_timed

    n_rows = 200_000 if quick else 5_000_000
    riskops = Path(sys.executable).with_name("riskops")
    with tempfile.TemporaryDirectory() as tmp:
        events = generated_file(Path(tmp), n_rows)
        env = dict(os.environ, RISKOPS_DATA_DIR=str(Path(tmp) / "data"))
        env.pop("RISKOPS_DATABASE_URL", None)
        command = [str(riskops), "train", "--events", str(events), "--format", "amlworld"]
        command += ["--threads", "2", "--by", "bench"]
        run = run_timed("train", command, env)
        print(run.stdout[-1500:], file=sys.stderr)
        label = f"{n_rows / 1e6:g}M generated rows"
        return [
            at_most(NAME, f"train end to end, {label}", run.seconds, "s", 600),
            Result(NAME, f"train CPU time (user + system), {label}", run.cpu_s, "s"),
            Result(NAME, f"train peak memory, {label}", run.peak_mb, "MB"),
        ]


def measure(quick: bool = False) -> list[Result]:
    return _live(quick) + _train_at_scale(quick)


if __name__ == "__main__":
    only = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--only" else None
    quick = "--quick" in sys.argv
    results = (
        _live(quick)
        if only == "live"
        else (_train_at_scale(quick) if only == "train" else measure(quick))
    )
    for result in results:
        print(f"{result.name}: {result.shown} {result.target}")

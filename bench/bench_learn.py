"""Learning: the stream features' cost per event, AMLSim 10K F1, and evaluate at 5M rows.

- ``features p50/p99``: ``learn.stream.FeatureState.update`` per money event, over the
  start of AMLSim 10K (the feature part of the monitor's 0.2 ms budget for features+model).
- ``amlsim F1``: ``riskops evaluate``'s protocol on AMLSim 10K, causal features only, the
  mean of seeds 1-3 with the spread, and recall per typology (mean of the seeds).
- ``evaluate 5M``: a generated AMLworld file (``generate``: background transfers with
  planted fan-out, fan-in and cycle laundering), ``riskops evaluate`` end to end in a child
  process under ``/usr/bin/time -v`` (wall time and peak memory).
- ``features on Spark``: the batch features of the same file on DuckDB and on local Spark
  (``learn.spark``, ADR 0045), side by side: wall and CPU seconds (this process, plus the
  Spark JVM's from /proc), and whether the vectors are the same bit for bit.

    python -m bench --only learn
    python -m bench.bench_learn generate OUT.csv 5000000   # the file alone
    python -m bench.bench_learn spark 1000000              # the Spark row alone, 1M rows
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from bench.common import Result, at_least, at_most, percentile

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "amlsim-10k"
TRANSACTIONS = DATA / "AMLSIM10K_Trans.csv.gz"
PATTERNS = DATA / "AMLSIM10K_Patterns.csv"
CURRENCIES = ["US Dollar"] * 8 + ["Euro", "Yuan", "UK Pound", "Rupee", "Bitcoin", "Yen"]
FORMATS = ["Wire", "ACH", "Cheque", "Credit Card", "Cash", "Reinvestment", "Bitcoin"]
HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
    "Amount Paid,Payment Currency,Payment Format,Is Laundering"
)
DAYS = 18
START = 1_661_990_400  # 2022-09-01 00:00 UTC


def _patterns(rng: np.random.Generator, n_rows: int, n_accounts: int) -> list[np.ndarray]:
    """Planted laundering rows (sender, receiver, second) as arrays: fan-out, fan-in, cycles
    over fresh accounts (ids above the background's), about 0.1% of the rows."""
    senders: list[int] = []
    receivers: list[int] = []
    seconds: list[int] = []
    fresh = n_accounts
    target = max(30, n_rows // 1000)
    while len(senders) < target:
        kind = rng.integers(3)
        start = int(rng.integers(0, (DAYS - 3) * 86_400))
        width = int(rng.integers(5, 13))
        if kind == 0:  # fan-out from a fresh account within hours
            for k in range(width):
                senders.append(fresh)
                receivers.append(int(rng.integers(n_accounts)))
                seconds.append(start + k * int(rng.integers(60, 3600)))
            fresh += 1
        elif kind == 1:  # fan-in to a fresh account within a day
            for k in range(width):
                senders.append(int(rng.integers(n_accounts)))
                receivers.append(fresh)
                seconds.append(start + k * int(rng.integers(60, 7200)))
            fresh += 1
        else:  # a cycle of fresh accounts over one to three days
            ring = list(range(fresh, fresh + min(width, 6)))
            fresh += len(ring)
            for k, a in enumerate(ring):
                senders.append(a)
                receivers.append(ring[(k + 1) % len(ring)])
                seconds.append(start + k * int(rng.integers(3600, 14 * 3600)))
    return [np.array(senders), np.array(receivers), np.array(seconds)]


def generate(path: Path, n_rows: int, seed: int = 1) -> int:
    """Write an AMLworld-format file of ``n_rows`` transactions; return laundering rows."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n_accounts = max(100, n_rows // 10)
    laundering = _patterns(rng, n_rows, n_accounts)
    n_bg = n_rows - len(laundering[0])
    # skewed activity: a few busy accounts, many quiet ones
    sender = (rng.random(n_bg) ** 2.5 * n_accounts).astype(np.int64)
    receiver = (rng.random(n_bg) ** 1.5 * n_accounts).astype(np.int64)
    second = rng.integers(0, DAYS * 86_400, n_bg)
    sender = np.concatenate([sender, laundering[0]])
    receiver = np.concatenate([receiver, laundering[1]])
    second = np.concatenate([second, laundering[2]])
    label = np.concatenate([np.zeros(n_bg, np.int8), np.ones(len(laundering[0]), np.int8)])
    order = np.argsort(second // 60, kind="stable")
    sender, receiver, second, label = sender[order], receiver[order], second[order], label[order]
    amount = np.round(rng.lognormal(6.0, 1.6, n_rows), 2)
    amount[label == 1] = np.round(rng.uniform(5_000, 9_900, int(label.sum())), 2)
    n_ids = int(max(sender.max(), receiver.max())) + 1
    ids = pa.array([f"{i:09X}" for i in range(n_ids)])
    banks = pa.array([str(i % 997 + 1) for i in range(n_ids)])
    stamp = pc.strftime(
        pa.array((START + second // 60 * 60) * 1_000, pa.timestamp("ms")), format="%Y/%m/%d %H:%M"
    )
    currency = pa.array(CURRENCIES).take(pa.array(rng.integers(0, len(CURRENCIES), n_rows)))
    fmt = pa.array(FORMATS).take(pa.array(rng.integers(0, len(FORMATS), n_rows)))
    amounts = pc.cast(pa.array(amount), pa.string())
    table = pa.table(
        [
            stamp,
            banks.take(pa.array(sender)),
            ids.take(pa.array(sender)),
            banks.take(pa.array(receiver)),
            ids.take(pa.array(receiver)),
            amounts,
            currency,
            amounts,
            currency,
            fmt,
            pc.cast(pa.array(label), pa.string()),
        ],
        names=[f"c{i}" for i in range(11)],
    )
    with path.open("wb") as handle:
        handle.write((HEADER + "\n").encode())
        pacsv.write_csv(
            table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none")
        )
    return int(label.sum())


def _feature_cost(quick: bool) -> list[Result]:
    from riskops.events.adapters import read_events
    from riskops.events.flat import to_rows
    from riskops.events.schemas import Event
    from riskops.learn.stream import FeatureState

    limit = 20_000 if quick else 100_000
    rows = []
    for source_row, event in read_events(TRANSACTIONS, "amlworld"):
        if source_row >= limit:
            break
        assert isinstance(event, Event)
        rows.append(to_rows(event, source_row + 1, source_row)[0])
    state = FeatureState()
    clock = time.perf_counter_ns
    spent: list[float] = []
    for row in rows:
        began = clock()
        state.update(row)
        spent.append((clock() - began) / 1_000)
    spent = sorted(spent[len(spent) // 10 :])  # after a warm-up tenth
    return [
        Result(
            "learn",
            f"features p50 per event ({len(rows):,} AMLSim rows)",
            percentile(spent, 50),
            "µs",
        ),
        at_most("learn", "features p99 per event", percentile(spent, 99), "µs", 200),
    ]


def _amlsim(quick: bool) -> list[Result]:
    from riskops.learn.evaluate import evaluate

    seeds = [1] if quick else [1, 2, 3]
    f1s: list[float] = []
    recalls: dict[str, list[float]] = {}
    for seed in seeds:
        r = evaluate(TRANSACTIONS, seed=seed, patterns=PATTERNS)
        f1s.append(r.test.f1)
        for name, m in r.by_typology.items():
            recalls.setdefault(name, []).append(m.recall)
        print(f"amlsim seed {seed}: {r.test}", file=sys.stderr)
    mean = statistics.fmean(f1s)
    out = [
        at_least("learn", f"amlsim test F1, mean of seeds {seeds}", mean, "", 0.85),
        Result("learn", "amlsim test F1 spread (max - min)", max(f1s) - min(f1s), ""),
    ]
    for name, values in sorted(recalls.items()):
        out.append(Result("learn", f"amlsim test recall {name}", statistics.fmean(values), ""))
    return out


class Timed(NamedTuple):
    """A command run under ``/usr/bin/time -v``: wall seconds, peak memory, CPU, output."""

    seconds: float
    peak_mb: float
    cpu_s: float
    stdout: str


def generated_file(folder: Path, n_rows: int) -> Path:
    """``generate`` n_rows into ``folder`` (saying how long it took)."""
    events = folder / "generated_Trans.csv"
    started = time.perf_counter()
    generate(events, n_rows)
    print(f"generated {n_rows:,} rows in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return events


def run_timed(what: str, command: list[str], env: dict[str, str] | None = None) -> Timed:
    """Run ``command`` under ``/usr/bin/time -v``; raise with its output if it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False, env=env
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = sum(
        float(m.group(1))
        for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", done.stderr)
    )
    return Timed(seconds, int(peak.group(1)) / 1024 if peak else float("nan"), cpu, done.stdout)


def _evaluate_at_scale(events: Path, label: str) -> list[Result]:
    riskops = Path(sys.executable).with_name("riskops")
    command = [str(riskops), "evaluate", "--events", str(events)]
    command += ["--out", str(events.with_name("scores.csv")), "--seed", "1"]
    run = run_timed("evaluate", command)
    print(run.stdout, file=sys.stderr)
    return [
        at_most("learn", f"evaluate end to end, {label}", run.seconds, "s", 900),
        Result("learn", f"evaluate CPU time (user + system), {label}", run.cpu_s, "s"),
        at_most("learn", f"evaluate peak memory, {label}", run.peak_mb, "MB", 8192),
    ]


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _jvm_cpu(session: Any) -> float:
    """CPU seconds of the Spark JVM so far (pyspark starts it as a child, ``gateway.proc``)."""
    pid = session.sparkContext._gateway.proc.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _digest(reader: pa.RecordBatchReader) -> tuple[int, str]:
    """(rows, a digest of every column's values in order) of a feature reader, batch by batch
    (batch sizes do not change it)."""
    hashes: dict[str, Any] = {}
    rows = 0
    for got in reader:
        rows += got.num_rows
        for name, column in zip(got.schema.names, got.columns, strict=True):
            h = hashes.setdefault(name, hashlib.blake2b(digest_size=16))
            values = column.to_numpy(zero_copy_only=False)
            if values.dtype == object:  # strings: each ended, so batch edges do not matter
                data = "".join(f"{v}\x00" for v in values).encode()
            else:
                data = values.tobytes()
            h.update(data)
    return rows, "".join(h.hexdigest() for h in hashes.values())


def _features_side_by_side(events: Path, label: str) -> list[Result]:
    """The batch features of ``events`` on DuckDB, then on local Spark (driver 4 GB): the
    DuckDB reading of the CSV is common and not counted; Spark's count includes handing the
    flat rows over as Parquet and reading the vectors back."""
    from riskops.learn import batch
    from riskops.learn import spark as learn_spark
    from riskops.rules import spark as rules_spark

    con = batch.connect(2, memory_limit="3GB")
    batch.read_amlworld(con, events)
    began, cpu = time.perf_counter(), _own_cpu()
    reader, _n = batch.feature_reader(con, "flat", drop_source=True)
    duck_rows, duck_digest = _digest(reader)
    duck_s, duck_cpu = time.perf_counter() - began, _own_cpu() - cpu
    batch.drop_work(con)
    con.close()
    out = [
        Result("learn", f"features on DuckDB, {label}", duck_s, "s"),
        Result("learn", f"features on DuckDB, CPU (user + system), {label}", duck_cpu, "s"),
    ]
    if (reason := rules_spark.unavailable()) is not None:
        return [*out, Result("learn", f"features on Spark: skipped ({reason})", 0.0, "")]
    started = time.perf_counter()
    with rules_spark.session(memory="4g") as session, tempfile.TemporaryDirectory() as tmp:
        ready = time.perf_counter()
        con = batch.connect(2, memory_limit="3GB")
        batch.read_amlworld(con, events)
        began, cpu, jvm = time.perf_counter(), _own_cpu(), _jvm_cpu(session)
        flat = learn_spark.flat_parquet(con, "flat", Path(tmp) / "flat.parquet")
        con.close()
        with learn_spark.feature_files(flat, spark=session) as (files, _count):
            spark_rows, spark_digest = _digest(learn_spark.read_features(files))
        spark_s = time.perf_counter() - began
        spark_cpu = _own_cpu() - cpu + _jvm_cpu(session) - jvm
    same = (spark_rows, spark_digest) == (duck_rows, duck_digest)
    return [
        *out,
        Result("learn", f"features on Spark, {label}", spark_s, "s"),
        Result("learn", f"features on Spark, CPU (this process + JVM), {label}", spark_cpu, "s"),
        Result("learn", "features on Spark: session start", ready - started, "s"),
        Result("learn", "features on Spark: vectors", float(spark_rows), "rows"),
        Result("learn", "features on Spark = DuckDB's, bit for bit", float(same), "", "= 1", same),
    ]


def _at_scale(quick: bool, *, evaluate: bool = True, n_rows: int | None = None) -> list[Result]:
    n_rows = n_rows or (200_000 if quick else 5_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        events = generated_file(Path(tmp), n_rows)
        label = f"{n_rows / 1e6:g}M generated rows"
        out = _evaluate_at_scale(events, label) if evaluate else []
        return out + _features_side_by_side(events, label)


def measure(quick: bool = False) -> list[Result]:
    return _feature_cost(quick) + _amlsim(quick) + _at_scale(quick)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "generate":
        print(generate(Path(sys.argv[2]), int(sys.argv[3])))
    elif len(sys.argv) in (2, 3) and sys.argv[1] == "spark":
        rows = int(sys.argv[2]) if len(sys.argv) == 3 else 5_000_000
        for result in _at_scale(False, evaluate=False, n_rows=rows):
            print(f"{result.name}: {result.shown} {result.target}")
    else:
        for result in measure(quick="--quick" in sys.argv):
            print(f"{result.name}: {result.shown} {result.target}")

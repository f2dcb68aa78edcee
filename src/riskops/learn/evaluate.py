"""``riskops evaluate``: the AMLworld protocol on a transaction file, end to end.

Read the file into DuckDB, compute the causal features (``learn.batch``, or the same steps
on Spark with ``engine="spark"``, ``learn.spark``), split whole days, train on the train
days (a first stage out of fold and the counterparties' own scores, ``learn.stacking``;
one or two stages, the better on the validation days), choose the threshold on the
validation days, score everything, and measure on the test days. The labels of the
validation and test days are hidden from training by construction: ``train_model``
receives only the train rows, ``best_threshold`` only the validation rows, and the test
labels are read after every score is fixed.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from riskops.learn import protocol, stacking
from riskops.learn.batch import MalformedFile, connect, drop_work, feature_reader, read_amlworld
from riskops.learn.features import FEATURE_NAMES, STACKED_NAMES, US_PER_DAY

Progress = Callable[[str], None]
# The columns the protocol's model reads: the catalogue, then the counterparties' own scores.
STAGE_TWO: tuple[str, ...] = FEATURE_NAMES + STACKED_NAMES

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "verbose": -1,
    "deterministic": True,
    "force_col_wise": True,
}
ROUNDS = 300
FIRST_ROUNDS = 150
# Above this many train rows, every laundering row is kept and the others are sampled (with
# the seed) down to it: training time and memory stay bounded on a 5M-row file; the
# threshold is still chosen on every validation row, so the sampling cannot bias it.
MAX_TRAIN = 1_000_000


@dataclass
class Evaluation:
    source_row: npt.NDArray[np.int64]
    split: npt.NDArray[np.int8]
    score: npt.NDArray[np.float64]
    threshold: float
    val_f1: float
    test: protocol.Metrics
    by_typology: dict[str, protocol.Metrics] = field(default_factory=dict)
    days: tuple[int, int, int] = (0, 0, 0)

    @property
    def flagged(self) -> npt.NDArray[np.bool_]:
        return self.score >= self.threshold


def train_model(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.bool_],
    seed: int,
    threads: int,
    names: Sequence[str] = FEATURE_NAMES,
    rounds: int = ROUNDS,
) -> Any:
    """A LightGBM booster on the train rows only (deterministic for a seed and thread count)."""
    import lightgbm as lgb

    params = dict(PARAMS, seed=seed, num_threads=threads)
    data = lgb.Dataset(x, label=y.astype(np.float64), feature_name=list(names))
    return lgb.train(params, data, num_boost_round=rounds)


def first_stage_trainer(seed: int, threads: int) -> stacking.Trainer:
    """How the first stage of a two-stage model is fitted (``learn.stacking``): fewer
    rounds than the second (it only has to rank the neighbours)."""
    return lambda x, y: train_model(
        x, np.asarray(y, dtype=bool), seed, threads, rounds=FIRST_ROUNDS
    )


def matrix(table: pa.Table, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
    """The feature columns of ``learn.batch.features``' table as one float32 matrix (the
    model's input; half the memory of float64 on a 5M-row file), with the second stage's
    columns after them (``STAGE_TWO``; 0 until ``learn.stacking.first_stage`` fills them).
    ``out``: rows to fill instead of a new matrix."""
    if out is None:
        out = np.zeros((table.num_rows, len(STAGE_TWO)), dtype=np.float32)
    for j, name in enumerate(FEATURE_NAMES):
        out[:, j] = table.column(name).to_numpy(zero_copy_only=False)
    return out


Features = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32], stacking.Parties
]


def _read_features(con: Any, engine: str = "duckdb", spark: Any = None) -> Features:
    """(source_row, day, matrix, parties) of the loaded file ``flat``, on DuckDB or Spark."""
    if engine == "spark":
        from riskops.learn import spark as learn_spark

        with tempfile.TemporaryDirectory(prefix="riskops-flat-") as tmp:
            flat = learn_spark.flat_parquet(con, "flat", Path(tmp) / "flat.parquet")
            with learn_spark.feature_files(flat, spark=spark) as (out, n):
                return _gather(learn_spark.read_features(out), n)
    reader, n = feature_reader(con, "flat", drop_source=True)
    try:
        return _gather(reader, n)
    finally:
        drop_work(con)


def _gather(reader: pa.RecordBatchReader, n: int) -> Features:
    """(source_row, day, matrix, parties) read batch by batch into one float32 matrix (the
    Arrow result is never held whole)."""
    try:
        x = np.zeros((n, len(STAGE_TWO)), dtype=np.float32)
        source_row = np.empty(n, dtype=np.int64)
        parts: list[stacking.Parties] = []
        at = 0
        for batch in reader:
            size = batch.num_rows
            table = pa.Table.from_batches([batch])
            matrix(table, x[at : at + size])
            source_row[at : at + size] = table.column("source_row").to_numpy()
            parts.append(stacking.parties_of(table))
            at += size
    finally:
        reader.close()
    if at != n:
        raise RuntimeError(f"expected {n} feature vectors, read {at}")
    parties = stacking.concat_parties(parts)
    return source_row, parties.ts // US_PER_DAY, x, parties


def score_days(
    x: npt.NDArray[np.float32],
    parties: stacking.Parties,
    labels: npt.NDArray[np.bool_],
    seed: int,
    threads: int = 2,
    progress: Progress | None = None,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64], float, float]:
    """(split, score, threshold, validation F1): the protocol up to the test measurement,
    on ``matrix``'s columns (the second stage's filled here). Reads only the train and
    validation labels."""
    say = progress or (lambda _: None)
    days = parties.ts // US_PER_DAY
    split = protocol.split_days(days)
    train = split == protocol.TRAIN
    if not labels[train].any():
        raise ValueError("the train days hold no laundering transaction: nothing to learn")
    rows = protocol.thinned(np.flatnonzero(train), labels, MAX_TRAIN, seed)
    say("scoring the counterparties (the first stage, out of fold on the train days)")
    trainer = first_stage_trainer(seed, threads)
    first = stacking.first_stage(x, labels, split, days, rows, parties, trainer, threads, seed)
    if first is None:
        say("the train days cannot be cut in two blocks with both labels: one stage only")
    say(f"training on {len(rows):,} transactions of the {int(train.sum()):,} of the train days")
    val = split == protocol.VAL

    def fit_stages(stages: int) -> tuple[tuple[float, float, npt.NDArray[np.float64]], float]:
        base = len(FEATURE_NAMES) if stages == 1 else len(STAGE_TWO)
        model = train_model(
            stacking.columns(x, rows, base), labels[rows], seed, threads, STAGE_TWO[:base]
        )
        score = stacking.predict_columns(model, x, base, threads)
        threshold, val_f1 = protocol.best_threshold(labels[val], score[val])
        return (threshold, val_f1, score), val_f1

    (threshold, val_f1, score), _ = stacking.better_stages(
        (1, 2) if first is not None else (1,), fit_stages, say
    )
    return split, score, threshold, val_f1


def read_patterns(path: Path) -> dict[int, str]:
    """``row -> typology`` from an AMLSim patterns file (``row,typology``)."""
    if not path.is_file():
        raise MalformedFile(path, ["no such file"])
    out: dict[int, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["row", "typology"]:
            raise MalformedFile(path, ["expected the header 'row,typology'"])
        for line, fields in enumerate(reader, start=2):
            if len(fields) < 2 or not fields[0].strip().isdigit() or not fields[1].strip():
                raise MalformedFile(
                    path, [f"line {line}: expected a data row number and a typology"]
                )
            out[int(fields[0])] = fields[1].strip()
    return out


def evaluate(
    events: Path,
    *,
    seed: int = 1,
    patterns: Path | None = None,
    threads: int = 2,
    progress: Progress | None = None,
    engine: str = "duckdb",
    spark: Any = None,
) -> Evaluation:
    """The whole protocol on an AMLworld file, the features computed by ``engine`` (duckdb,
    or spark: a local session unless ``spark`` is one). Raises ``MalformedFile``/``ValueError``
    (and ``rules.spark.SparkUnavailable`` without pyspark or Java)."""
    say = progress or (lambda _: None)
    typologies = read_patterns(patterns) if patterns is not None else None
    con = connect(threads, memory_limit="3GB")
    try:
        say(f"reading {events.name}")
        labels_arrow = read_amlworld(con, events)
        say("computing features" + (" on Spark" if engine == "spark" else ""))
        source_row, days, x, parties = _read_features(con, engine, spark)
    finally:
        con.close()
    labels = labels_arrow.to_numpy(zero_copy_only=False).astype(bool)[source_row]
    split, score, threshold, val_f1 = score_days(x, parties, labels, seed, threads, say)
    flagged = score >= threshold
    test = split == protocol.TEST
    result = Evaluation(
        source_row=source_row,
        split=split,
        score=score,
        threshold=threshold,
        val_f1=val_f1,
        test=protocol.metrics(labels[test], flagged[test]),
        days=tuple(len(np.unique(days[split == s])) for s in range(3)),  # type: ignore[arg-type]
    )
    if typologies is not None:
        groups = [typologies.get(int(r)) for r in source_row[test]]
        result.by_typology = protocol.recall_by(groups, labels[test], flagged[test])
    return result


def write_scores(result: Evaluation, out: Path) -> None:
    """SCORES.csv: source_row, split, score, flagged; one row per transaction, by row."""
    import pyarrow.csv as pacsv

    order = np.argsort(result.source_row, kind="stable")
    names = pa.array(protocol.SPLIT_NAMES)
    table = pa.table(
        {
            "source_row": pa.array(result.source_row[order]),
            "split": names.take(pa.array(result.split[order].astype(np.int64))),
            "score": pa.array(result.score[order]),
            "flagged": pa.array(result.flagged[order].astype(np.int8)),
        }
    )
    with out.open("wb") as handle:
        handle.write(b"source_row,split,score,flagged\n")
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        pacsv.write_csv(table, handle, options)

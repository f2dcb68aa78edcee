"""``riskops train``: labelled feature vectors from a source, the time split, a fitted model.

Sources of events and labels (``Dataset``):

- an AMLworld file (``from_amlworld``): its ``Is Laundering`` column labels every row;
- a simulator output directory (``from_sim``): ``events.parquet`` (or ``events.ndjson``)
  and ``labels_events.csv``, the planted scenarios' events (positive); every other money
  event is negative;
- the stored event history and the ``labels`` table (``from_store``): case outcomes and
  imports; an event's own label wins, else its account's; unlabelled events are left out
  unless ``unlabelled_negative`` (a population where everything unflagged is known good).

The features are ``learn.batch.features`` (the same catalogue the monitor computes live), on
DuckDB or, with ``engine="spark"``, the same steps on Spark (``learn.spark``).
``fit`` splits by whole days in time order (``learn.protocol.split_days``, about 60/20/20 of
the transactions): it trains on the earliest days (every positive and, past
``MAX_TRAIN_ROWS``, an even seeded sample of the negatives), stops early, calibrates and
chooses the threshold on the next ones, and measures on the last ones, whose labels nothing
else reads. With the rows' parties it also fits a first stage (``learn.stacking``, ADR
0051) and a second model that reads the counterparties' own scores; the validation days
keep the better of one and two stages.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from riskops.learn import model as m
from riskops.learn import stacking

if TYPE_CHECKING:
    from riskops.learn.registry import Trained

Say = Callable[[str], None]
# Training rows beyond this are thinned (negatives only): 5M transactions train in minutes.
MAX_TRAIN_ROWS = 1_000_000
Tick = Callable[[int, int], None]


class Dataset(msgspec.Struct):
    """Row-aligned feature matrix, labels and event times (row 0 of each money event).

    ``x`` holds the catalogue's columns then the second stage's (0 until ``fit`` fills
    them); ``parties`` say who took part in each row, in processing order
    (``learn.stacking``); without them (a matrix of its own) the model has one stage.
    Unlabelled rows stay (``known``): their first-stage scores count for their neighbours."""

    x: Any  # float64 (n, features)
    y: Any  # float64 (n,) of 0/1
    ts_us: Any  # int64 (n,)
    source: str
    seconds: float = 0.0  # spent reading and computing features
    parties: Any = None  # learn.stacking.Parties of the rows
    known: Any = None  # bool (n,): which rows are labelled (None: all); only they train


class Fitted(msgspec.Struct):
    artifact: m.Artifact
    metrics: dict[str, Any]
    span_first: datetime
    span_last: datetime
    seconds: float

    def trained(self, note: str = "") -> Trained:
        """What the registry stores of this fit (``registry.register``)."""
        from riskops.learn.registry import Trained

        artifact = self.artifact
        return Trained(
            artifact.encode(), artifact.threshold, self.span_first, self.span_last,
            self.metrics, note,
        )  # fmt: skip


def _matrix(table: pa.Table) -> npt.NDArray[np.float64]:
    """The catalogue's columns, then the second stage's (0 until ``fit``)."""
    from riskops.learn.features import FEATURE_NAMES, STACKED_NAMES

    out = np.zeros((table.num_rows, len(FEATURE_NAMES) + len(STACKED_NAMES)))
    for j, name in enumerate(FEATURE_NAMES):
        out[:, j] = table.column(name).to_numpy(zero_copy_only=False)
    return out


def from_amlworld(
    path: Path,
    threads: int = 2,
    say: Say | None = None,
    *,
    engine: str = "duckdb",
    spark: Any = None,
) -> Dataset:
    """An AMLworld transaction file. Raises ``learn.batch.MalformedFile``."""
    from riskops.learn import batch

    started = time.perf_counter()
    (say or _quiet)(f"reading {path.name}")
    con = batch.connect(threads)
    try:
        labels = batch.read_amlworld(con, path)
        (say or _quiet)(_computing(engine))
        if engine == "spark":
            from riskops.learn import spark as learn_spark

            with tempfile.TemporaryDirectory(prefix="riskops-flat-") as tmp:
                flat = learn_spark.flat_parquet(con, "flat", Path(tmp) / "flat.parquet")
                table = learn_spark.features(flat, spark=spark)
        else:
            table = batch.features(con, "flat")
    finally:
        con.close()
    rows = table.column("source_row").to_numpy().astype(np.int64)
    y = labels.to_numpy(zero_copy_only=False).astype(np.float64)[rows]
    parties = stacking.parties_of(table)
    x = _matrix(table)
    del table
    seconds = time.perf_counter() - started
    return Dataset(x, y, parties.ts, f"amlworld {path.name}", seconds, parties)


def _computing(engine: str) -> str:
    return "computing features" + (" on Spark" if engine == "spark" else "")


def _features_of_flat(flat: pa.Table, threads: int, engine: str, spark: Any) -> pa.Table:
    """The feature table of flat rows, on ``engine`` (duckdb or spark)."""
    from riskops.learn import batch

    if engine == "spark":
        from riskops.learn import spark as learn_spark

        return learn_spark.features(flat, spark=spark)
    con = batch.connect(threads)
    try:
        con.register("flat_in", flat)
        con.execute("CREATE TEMP TABLE flat AS SELECT * FROM flat_in")
        return batch.features(con, "flat")
    finally:
        con.close()


def _labelled(
    table: pa.Table,
    events: dict[str, int],
    accounts: dict[str, int],
    unlabelled_negative: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Labels of the table's rows (an event's own, else its account's) and which are known."""
    ids = table.column("event_id").to_pylist()
    owners = table.column("account_id").to_pylist()
    y = np.zeros(len(ids), dtype=np.float64)
    known = np.zeros(len(ids), dtype=np.bool_)
    for i, (event_id, account_id) in enumerate(zip(ids, owners, strict=True)):
        label = events.get(event_id)
        if label is None:
            label = accounts.get(account_id)
        if label is not None:
            y[i], known[i] = label, True
    if unlabelled_negative:
        known[:] = True
    return y, known


def from_sim(
    directory: Path,
    threads: int = 2,
    say: Say | None = None,
    *,
    engine: str = "duckdb",
    spark: Any = None,
) -> Dataset:
    """A ``riskops sim`` output directory: its events and planted event labels."""
    from riskops.rules.backtest import adapted_flat
    from riskops.sim import load_event_labels

    started = time.perf_counter()
    labels_file = directory / "labels_events.csv"
    if not labels_file.is_file():
        raise ValueError(f"{directory}: no labels_events.csv (not a simulator output directory)")
    path = directory / "events.ndjson"
    if not path.is_file():
        path = directory / "events.parquet"
    if not path.is_file():
        raise ValueError(f"{directory}: no events.ndjson or events.parquet")
    (say or _quiet)(f"reading {path.name}")
    flat, _events, _rejected = adapted_flat(path, None)
    planted = {event_id: 1 for event_id in load_event_labels(directory)}
    (say or _quiet)(_computing(engine))
    table = _features_of_flat(flat, threads, engine, spark)
    y, _ = _labelled(table, planted, {}, unlabelled_negative=True)
    seconds = time.perf_counter() - started
    parties = stacking.parties_of(table)
    source = f"simulation {directory.name}"
    return Dataset(_matrix(table), y, parties.ts, source, seconds, parties)


def from_store(
    session: Any,
    threads: int = 2,
    *,
    unlabelled_negative: bool = False,
    say: Say | None = None,
    batch_size: int = 20_000,
    engine: str = "duckdb",
    spark: Any = None,
) -> Dataset:
    """The stored event history with the ``labels`` table's labels."""
    from riskops.events import schemas as s
    from riskops.events.flat import FLAT_SCHEMA, to_rows
    from riskops.events.repository import read_after
    from riskops.learn.labels import training_labels

    started = time.perf_counter()
    labels = training_labels(session)
    if not len(labels):
        raise ValueError("no stored labels: import some (riskops labels import) or decide cases")
    decoder = msgspec.json.Decoder(s.AnyEvent)
    (say or _quiet)("reading the stored events")
    batches: list[pa.Table] = []
    seq = 0
    while True:
        records = read_after(session, seq, batch_size)
        if not records:
            break
        rows: list[dict[str, Any]] = []
        for record in records:
            rows.extend(to_rows(decoder.decode(record.payload), record.seq, record.source_row))
        batches.append(pa.Table.from_pylist(rows, schema=FLAT_SCHEMA))
        seq = records[-1].seq
    if not batches:
        raise ValueError("no stored events")
    (say or _quiet)(_computing(engine))
    table = _features_of_flat(pa.concat_tables(batches), threads, engine, spark)
    y, known = _labelled(table, labels.events, labels.accounts, unlabelled_negative)
    seconds = time.perf_counter() - started
    parties = stacking.parties_of(table)
    source = "stored events and labels"
    return Dataset(_matrix(table), y, parties.ts, source, seconds, parties, known)


def fit(
    data: Dataset,
    *,
    seed: int = 7,
    threads: int = 2,
    rounds: int = 400,
    tick: Tick | None = None,
    say: Say | None = None,
    max_train_rows: int = MAX_TRAIN_ROWS,
    stages: int | None = None,
) -> Fitted:
    """Split by whole days, fit the first stage (with ``parties``), train, calibrate and
    threshold on validation, measure on test. ``stages``: 1 or 2 (two needs ``parties``
    and train days that can be cut in two); None: the better on the validation days."""
    from riskops.learn import protocol
    from riskops.learn.evaluate import first_stage_trainer
    from riskops.learn.features import FEATURE_NAMES, STACKED_NAMES, US_PER_DAY

    started = time.perf_counter()
    known = np.ones(len(data.y), dtype=bool) if data.known is None else data.known
    if not known.any():
        raise ValueError("no labelled money events to train on")
    days = data.ts_us // US_PER_DAY
    if len(np.unique(days[known])) < 3:
        raise ValueError("the events span fewer than 3 days: no time split is possible")
    split = np.full(len(days), -1, dtype=np.int8)  # -1: unlabelled, never trained on
    split[known] = protocol.split_days(days[known])
    train, valid, test = (
        (split == protocol.TRAIN),
        (split == protocol.VAL),
        (split == protocol.TEST),
    )
    for name, mask in (("train", train), ("validation", valid)):
        if not data.y[mask].any() or data.y[mask].all():
            raise ValueError(f"the {name} days need both positive and negative labels")
    rows = protocol.thinned(np.flatnonzero(train), data.y, max_train_rows, seed)
    first = None
    if data.parties is not None and stages != 1:
        (say or _quiet)("scoring the counterparties (the first stage, out of fold)")
        trainer = first_stage_trainer(seed, threads)
        first = stacking.first_stage(
            data.x, data.y, split, days, rows, data.parties, trainer, threads, seed
        )
        if first is None:
            (say or _quiet)("the train days cannot be cut in two blocks with both labels")
    (say or _quiet)(
        f"training on {len(rows):,} of {int(train.sum()):,} transactions, "
        f"validating on {int(valid.sum()):,}"
    )
    # One stage, and two when there is a first stage: the validation days choose (the
    # counterparties' scores help where laundering runs through networks of accounts).
    candidates = [s for s in (1, 2) if stages in (None, s) and (s == 1 or first is not None)]

    def fit_stages(n_stages: int) -> tuple[tuple[m.Fit, dict[str, float]], float]:
        names = list(FEATURE_NAMES) + (list(STACKED_NAMES) if n_stages == 2 else [])
        fitted = m.train(
            stacking.columns(data.x, rows, len(names)),
            data.y[rows],
            stacking.columns(data.x, np.flatnonzero(valid), len(names)),
            data.y[valid],
            names,
            seed=seed,
            num_threads=threads,
            rounds=rounds,
            progress=tick,
        )
        scored = m.metrics(fitted.valid_scores, data.y[valid], fitted.artifact.threshold)
        return (fitted, scored), scored["f1"]

    (fitted, validation), used_stages = stacking.better_stages(
        candidates or [1], fit_stages, say or _quiet
    )
    artifact = fitted.artifact
    if used_stages == 2 and first is not None:
        artifact = msgspec.structs.replace(
            artifact, first_text=first.text, first_names=list(FEATURE_NAMES)
        )
    (say or _quiet)(f"measuring on {int(test.sum()):,} test transactions")
    scorer = m.Model(artifact)
    x = data.x[:, : len(artifact.feature_names)]
    test_scores = scorer.predict_many(x[test]) if test.any() else np.zeros(0)
    metrics: dict[str, Any] = {
        "validation": validation,
        "test": m.metrics(test_scores, data.y[test], artifact.threshold),
        "labels": {
            "positive": int(data.y[known].sum()),
            "negative": int(known.sum() - data.y[known].sum()),
        },
        "days": {
            name: len(np.unique(days[mask]))
            for name, mask in (("train", train), ("validation", valid), ("test", test))
        },
        "source": data.source,
        "seed": seed,
        "rounds": artifact.best_iteration,
        "train_rows": len(rows),
        "stages": used_stages,
    }
    used = train | valid
    first_ts, last_ts = int(data.ts_us[used].min()), int(data.ts_us[used].max())
    return Fitted(
        artifact,
        metrics,
        datetime.fromtimestamp(first_ts / 1e6, UTC),
        datetime.fromtimestamp(last_ts / 1e6, UTC),
        time.perf_counter() - started,
    )


def _quiet(_: str) -> None:
    return None

"""Counterparties' own scores (``learn.stacking``, ADR 0051): the monitor's memory and the
batch window agree on every row; a two-stage model scores the same live and in batch, and
after a snapshot; no train row's columns come from a booster that saw its label."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from riskops.learn import batch, protocol, stacking, training
from riskops.learn import model as m
from riskops.learn.evaluate import first_stage_trainer
from riskops.learn.features import FEATURE_NAMES, SCORE_WINDOW, STACKED_NAMES, US_PER_DAY, words
from riskops.learn.scoring import LoadedModel, ModelSet, Scoring
from riskops.learn.stream import is_money
from riskops.rules.parity import sort_rows
from support import simulated_rows

HOUR = 3_600_000_000


def _random_history(seed: int, n: int = 3_000) -> tuple[stacking.Parties, np.ndarray]:
    """Rows in time order with many equal times, transfers to oneself, rows with no
    counterparty account, and gaps longer than the window."""
    rng = random.Random(seed)
    ts, own, cp = [], [], []
    now = 1_700_000_000_000_000
    for _ in range(n):
        now += rng.choice([0, 0, 1, HOUR, 6 * HOUR, SCORE_WINDOW - 1, SCORE_WINDOW, 9 * US_PER_DAY])
        a = f"a{rng.randrange(25)}"
        kind = rng.random()
        b = None if kind < 0.2 else (a if kind < 0.25 else f"a{rng.randrange(25)}")
        ts.append(now)
        own.append(a)
        cp.append(b)
    scores = np.array([rng.choice([0.0, 0.5, rng.random()]) for _ in range(n)])
    parties = stacking.Parties(
        np.array(ts, dtype=np.int64), pa.array(own), pa.array(cp, pa.string())
    )
    return parties, scores


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_memory_and_the_window_agree_on_every_row(seed: int) -> None:
    parties, scores = _random_history(seed)
    memory = stacking.Memory()
    live = np.array(
        [
            memory.step(own, other, int(ts), float(score))
            for ts, own, other, score in zip(
                parties.ts, parties.own.to_pylist(), parties.cp.to_pylist(), scores, strict=True
            )
        ]
    )
    window = stacking.best_before(parties, scores)
    assert np.array_equal(live, window)
    assert (window > 0).any() and (window == 0).any()
    # a row's own score never counts for itself; a row SCORE_WINDOW later no longer counts
    assert memory.best("nobody", int(parties.ts[-1])) == 0.0


def test_the_memory_window_by_hand() -> None:
    memory = stacking.Memory()
    t = 1_000 * US_PER_DAY
    assert memory.step("a", "b", t, 0.9) == (0.0, 0.0)
    assert memory.step("b", None, t, 0.2) == (0.9, 0.0)  # same instant, earlier row
    assert memory.step("c", "b", t + 1, 0.5) == (0.0, 0.9)
    assert memory.step("b", "a", t + SCORE_WINDOW - 1, 0.1) == (0.9, 0.9)
    # the 0.9 of time t is out of b's window now; b's 0.5 (t + 1) is not
    assert memory.step("b", "b", t + SCORE_WINDOW, 0.0) == (0.5, 0.5)
    blob = memory.snapshot()
    assert stacking.Memory.restore(blob).best("b", t + SCORE_WINDOW) == 0.5
    assert (
        words("cp.score_7d", 0.93)
        == "the counterparty's other payments in the last 7 days scored up to 0.93"
    )


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Any]:
    out = tmp_path_factory.mktemp("stacking-sim")
    rows = sort_rows(simulated_rows(out, accounts=500, days=30, seed=11))
    con = batch.connect()
    try:
        con.register("flat", batch.rows_table(rows))
        table = batch.features(con, "flat")
    finally:
        con.close()
    return rows, table


def _labels(table: Any) -> np.ndarray:
    # a label the first stage can learn and the neighbours carry: large sums paid on
    usd = np.asarray(table.column("own.out_usd_7d").to_numpy(), dtype=np.float64)
    labels: np.ndarray = (usd > np.quantile(usd, 0.9)).astype(np.float64)
    return labels


@pytest.fixture(scope="module")
def two_stage(history: tuple[list[dict[str, Any]], Any]) -> m.Artifact:
    _, table = history
    ts = table.column("ts_us").to_numpy().astype(np.int64)
    data = training.Dataset(
        training._matrix(table), _labels(table), ts, "sim", parties=stacking.parties_of(table)
    )
    fitted = training.fit(data, seed=2, rounds=40, stages=2)
    assert fitted.metrics["stages"] == 2
    assert fitted.artifact.feature_names == list(FEATURE_NAMES + STACKED_NAMES)
    return fitted.artifact


def _live_scores(
    rows: list[dict[str, Any]], artifact: m.Artifact, cut: int | None = None
) -> list[float]:
    def loaded() -> ModelSet:
        return ModelSet([LoadedModel("aml", 1, False, m.Model(artifact))])

    scoring = Scoring(loaded())
    out: list[float] = []
    for i, original in enumerate(rows):
        if cut is not None and i == cut:
            scoring = Scoring.restore(loaded(), scoring.snapshot())
        row = dict(original)
        scoring.step(row)
        if row["row"] == 0 and is_money(row):
            out.append(row["model.score"])
    return out


def test_a_two_stage_model_scores_alike_live_and_in_batch(
    history: tuple[list[dict[str, Any]], Any], two_stage: m.Artifact
) -> None:
    rows, table = history
    model = m.Model(two_stage)
    assert model.stages == 2
    want = stacking.score_table(model, table)
    live = np.array(_live_scores(rows, two_stage))
    assert live.shape == want.shape
    assert np.allclose(live, want, rtol=0, atol=1e-12)
    # the counterparties' columns move the scores: the same model with them at 0 differs
    base = np.column_stack([table.column(n).to_numpy() for n in FEATURE_NAMES])
    blank = model.predict_many(np.hstack([base, np.zeros((len(base), 2))]))
    assert not np.allclose(blank, want)
    # and a restored snapshot carries on like the live state
    again = np.array(_live_scores(rows, two_stage, cut=len(rows) // 2))
    assert np.array_equal(again, live)


def test_a_reload_keeps_a_running_version_s_memory(
    history: tuple[list[dict[str, Any]], Any], two_stage: m.Artifact
) -> None:
    rows, _ = history
    first = LoadedModel("aml", 1, False, m.Model(two_stage))
    scoring = Scoring(ModelSet([first]))
    for row in rows[: len(rows) // 2]:
        scoring.step(dict(row))
    assert first.memory is not None and len(first.memory)
    reloaded = LoadedModel("aml", 1, False, m.Model(two_stage))
    scoring.swap(ModelSet([reloaded]))
    assert reloaded.memory is first.memory
    other = LoadedModel("aml", 2, True, m.Model(two_stage))
    scoring.swap(ModelSet([reloaded, other]))
    assert other.memory is not None and not len(other.memory)  # a new version starts empty


def test_no_train_row_is_scored_by_a_booster_that_saw_its_label(
    history: tuple[list[dict[str, Any]], Any],
) -> None:
    _, table = history
    parties = stacking.parties_of(table)
    days = parties.ts // US_PER_DAY
    y = _labels(table)
    split = protocol.split_days(days)
    rows = np.flatnonzero(split == protocol.TRAIN)
    trainer = first_stage_trainer(seed=1, threads=2)

    def first(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = training._matrix(table)
        found = stacking.first_stage(x, labels, split, days, rows, parties, trainer)
        assert found is not None
        return found.scores, x[:, -2:]

    scores, stacked = first(y)
    assert (stacked > 0).any()
    cut = stacking._middle_day(days[split == protocol.TRAIN])
    assert cut is not None
    for block in (days <= cut, days > cut):
        inside = block & (split == protocol.TRAIN)
        flipped = y.copy()
        flipped[inside] = 1 - flipped[inside]
        again, _ = first(flipped)
        assert np.array_equal(again[inside], scores[inside])  # out of fold
        assert not np.array_equal(again, scores)  # the labels do reach the other rows
    # the validation and test days' labels reach nothing
    hidden = y.copy()
    hidden[split != protocol.TRAIN] = 0
    again, again_stacked = first(hidden)
    assert np.array_equal(again, scores) and np.array_equal(again_stacked, stacked)


def test_better_stages_keeps_the_best_on_validation_and_the_fewer_on_a_tie() -> None:
    said: list[str] = []
    f1 = {1: 0.80, 2: 0.85}
    assert stacking.better_stages((1, 2), lambda n: (f"model {n}", f1[n]), said.append) == (
        "model 2",
        2,
    )
    assert said == ["1 stage: validation F1 0.800", "2 stages: validation F1 0.850"]
    tie = stacking.better_stages((1, 2), lambda n: (n, 0.5), lambda _: None)
    assert tie == (1, 1)
    with pytest.raises(ValueError):
        stacking.better_stages((), lambda n: (n, 0.5), lambda _: None)

"""A model trained on one simulator seed catches the money-laundering scenarios of another.

``riskops train --sim``'s functions fit a model on seed A; seed B's money events, whose
planted scenarios the model never saw, are scored through the batch features. A scenario
is caught when any of its events scores at or above the model's threshold. The floors were
measured (bench/bench_learn_sim.py, ``python -m bench --only learn_sim``) with margin.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from riskops.learn import batch, training
from riskops.learn import model as m
from riskops.learn.stacking import score_table
from riskops.rules.backtest import adapted_flat
from riskops.sim import SimConfig, load_event_labels, simulate

# 1,600 accounts: at 1,200 (generator 1.2.0) seed 101's validation days hold so few
# laundering events that the threshold chosen on them falls to 0.27 and flags 453 events of
# seed 303 at 0.33 precision; at 1,600 the threshold is 0.66.
ACCOUNTS, DAYS = 1_600, 30
TRAIN_SEED, TEST_SEED = 101, 303
LAUNDERING = ("mule", "pass_through", "sanctions_exposure", "structuring")
RECALL_FLOOR = 0.75  # measured 0.93: 14 of 15 laundering scenarios of seed 303 caught
PRECISION_FLOOR = 0.5  # measured 0.87 (138 of 159 alerted events planted)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("simprec")
    a, b = root / "a", root / "b"
    simulate(SimConfig(accounts=ACCOUNTS, days=DAYS, seed=TRAIN_SEED), a, "ndjson")
    simulate(SimConfig(accounts=ACCOUNTS, days=DAYS, seed=TEST_SEED), b, "ndjson")
    return a, b


def _scores(directory: Path, artifact: m.Artifact) -> dict[str, float]:
    flat, _, _ = adapted_flat(directory / "events.ndjson", None)
    con = batch.connect(2)
    try:
        con.register("flat_in", flat)
        con.execute("CREATE TEMP TABLE flat AS SELECT * FROM flat_in")
        table = batch.features(con, "flat")
    finally:
        con.close()
    scores = score_table(m.Model(artifact), table)
    return dict(zip(table.column("event_id").to_pylist(), scores.tolist(), strict=True))


def test_model_from_one_seed_catches_laundering_of_another(runs: tuple[Path, Path]) -> None:
    train_dir, test_dir = runs
    fitted = training.fit(training.from_sim(train_dir, 2), seed=7, threads=2, rounds=150)
    scores = _scores(test_dir, fitted.artifact)
    labels = load_event_labels(test_dir)
    threshold = fitted.artifact.threshold
    planted: dict[str, set[str]] = defaultdict(set)
    caught: dict[str, set[str]] = defaultdict(set)
    for event_id, label in labels.items():
        if label.typology not in LAUNDERING:
            continue
        planted[label.typology].add(label.scenario_id)
        if scores.get(event_id, 0.0) >= threshold:
            caught[label.typology].add(label.scenario_id)
    assert set(planted) == set(LAUNDERING)  # every laundering typology is planted on seed B
    total = sum(len(s) for s in planted.values())
    found = sum(len(s) for s in caught.values())
    assert found / total >= RECALL_FLOOR, {t: (len(caught[t]), len(s)) for t, s in planted.items()}
    alerted = [e for e, s in scores.items() if s >= threshold]
    true = sum(1 for e in alerted if e in labels)
    assert alerted and true / len(alerted) >= PRECISION_FLOOR, (true, len(alerted))
    # the model is not a constant: planted events score higher than the rest on the unseen seed
    bad = np.array([s for e, s in scores.items() if e in labels])
    good = np.array([s for e, s in scores.items() if e not in labels])
    assert np.median(bad) > np.median(good)


def test_the_gated_shape_rules_agree_in_both_engines_with_scores(tmp_path: Path) -> None:
    """With ``model.score`` filled (null, below and above the gate), the streaming and SQL
    engines agree on every row, and the gated shape rules hit less than with no score: only
    on rows scored null or at least the gate."""
    from riskops.rules.definition import load_default_pack, walk
    from riskops.rules.lists import ListStore, default_lists
    from riskops.rules.parity import parity_check

    simulate(SimConfig(accounts=300, days=10, seed=7), tmp_path, "ndjson")
    flat, _, _ = adapted_flat(tmp_path / "events.ndjson", None)
    rows = flat.to_pylist()
    for row in rows:  # one transfer's two rows carry the same score, as in the monitor
        row["model.score"] = [None, 0.01, 0.5][int(row["source_row"]) % 3]
    pack = load_default_pack()
    gated = [r for r in pack if any(p.name == "model.score" for p in walk(r.cond))]
    assert {r.id for r in gated} >= {"PT-001", "PT-004", "MU-002", "MU-005", "MU-006"}
    lists = default_lists().merged(ListStore.from_dir(tmp_path / "lists"))
    assert parity_check(pack, lists, rows, features=True) == []
    rows_by_key = {(r["event_id"], int(r["row"])): r for r in rows}
    ids = {r.id for r in gated}
    scored = _shape_hits(pack, lists, pa.Table.from_pylist(rows, schema=flat.schema), ids)
    plain = _shape_hits(pack, lists, flat, ids)
    assert scored and 0 < len(scored) < len(plain)
    # a hit with a score is one of the hits without, on a row scored null or at the gate
    assert scored <= plain
    assert all(rows_by_key[(e, n)]["model.score"] in (None, 0.5) for _, e, n in scored)


def _shape_hits(
    rules: list[Any], lists: Any, flat: pa.Table, ids: set[str]
) -> set[tuple[str, str, int]]:
    import duckdb

    from riskops.rules.sql import compile_rules

    con = duckdb.connect()
    try:
        con.register("flat", flat)
        found = con.execute(f'SELECT rule_id, event_id, "row" FROM ({compile_rules(rules, lists)})')
        return {(r, e, int(n)) for r, e, n in found.fetchall() if r in ids}
    finally:
        con.close()

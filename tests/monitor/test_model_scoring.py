"""Live scoring in the monitor: a live model scores every money event before the rules
(``model.score``, usable in a rule), alerts with its reasons in words, records the shadow's
hits without acting, survives a restart through the snapshot with the same scores, and is
swapped when a version is promoted. With no model running nothing changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal
from riskops.events import schemas as s
from riskops.events.flat import to_rows
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.learn import model as m
from riskops.learn import registry
from riskops.learn.features import FEATURE_NAMES
from riskops.learn.scoring import hit_rule_id
from riskops.learn.stream import FeatureState
from riskops.monitor.evaluators import LearnEvaluator, LearnSource, RulesEvaluatorFactory
from riskops.monitor.models import Alert
from riskops.monitor.runtime import MonitorRuntime
from riskops.rules.definition import parse_rules
from riskops.rules.lists import ListStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SYSTEM = Principal.system("test")
BIG = 5_000  # dollars: the planted "laundering" is a transfer above this


def transfers(n: int, seed: int, start: int = 0) -> list[s.Event]:
    rng = np.random.default_rng(seed)
    out: list[s.Event] = []
    for i in range(start, start + n):
        usd = Decimal(int(rng.integers(10, 9_000)))
        out.append(
            s.TransferInternal(
                event_id=f"t{i}",
                account_id=f"acc-{rng.integers(0, 30)}",
                occurred_at=T0 + timedelta(minutes=7 * i),
                asset="USDT",
                amount=usd,
                usd_value=usd,
                counterparty_id=f"acc-{rng.integers(30, 60)}",
            )
        )
    return out


def vectors(events: list[s.Event]) -> tuple[np.ndarray, np.ndarray]:
    state = FeatureState()
    xs, ys = [], []
    for seq, event in enumerate(events, 1):
        row = to_rows(event, seq)[0]
        xs.append(state.update(row))
        ys.append(1.0 if row["usd_cents"] > BIG * 100 else 0.0)
    return np.array(xs), np.array(ys)


@pytest.fixture(scope="module")
def artifact() -> bytes:
    x, y = vectors(transfers(900, seed=1))
    params = {"min_data_in_leaf": 5, "bagging_freq": 0, "bagging_fraction": 1.0}
    fit = m.train(x[:600], y[:600], x[600:], y[600:], FEATURE_NAMES, rounds=30, params=params)
    return fit.artifact.encode()


def put_model(engine: Engine, artifact: bytes, status: str = "live") -> int:
    with unit_of_work(session_factory(engine)) as session:
        trained = registry.Trained(artifact, 0.5, T0, T0, {"test": {}})
        version = registry.register(session, SYSTEM, "aml", trained).version
        registry.set_status(session, SYSTEM, "aml", version, status, "test")
    return version


MODEL_RULE = {
    "id": "ML-1",
    "version": 1,
    "status": "live",
    "typology": "structuring",
    "when": ["transfer.internal"],
    "if": {"field": "model.score", "gte": 0.5},  # set to the model's threshold below
    "action": "hold",
    "score": 50,
    "reason": "the model scores this transfer high",
}


def factory(engine: Engine, rules: list[dict[str, Any]] | None = None) -> RulesEvaluatorFactory:
    return RulesEvaluatorFactory(parse_rules(rules or []), ListStore({}), LearnSource(engine))


def test_a_live_model_scores_alerts_with_reasons_and_rules_see_the_score(
    engine: Engine, tmp_path: Path, artifact: bytes
) -> None:
    version = put_model(engine, artifact)
    events = transfers(200, seed=2)
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in events], source="file")
    threshold = m.Artifact.decode(artifact).threshold
    rule = dict(MODEL_RULE, **{"if": {"field": "model.score", "gte": threshold}})
    rt = MonitorRuntime(
        engine, factory(engine, [rule]), snapshot_path=tmp_path / "snap", batch_size=50
    )
    rt.catch_up()
    with session_factory(engine)() as session:
        alerts = session.execute(select(Alert.rule_id, Alert.event_id, Alert.reason)).all()
    model_alerts = {e: r for rule, e, r in alerts if rule == hit_rule_id("aml", version)}
    rule_alerts = {e for rule, e, _ in alerts if rule == "ML-1"}
    big = {e.event_id for e in events if isinstance(e, s.Money) and e.usd_value > BIG}
    found = len(set(model_alerts) & big)  # it learnt the planted pattern
    assert found >= 0.9 * len(model_alerts) and found >= 0.8 * len(big)
    assert rule_alerts == set(model_alerts)  # the rule on model.score, at the threshold
    reason = next(iter(model_alerts.values()))
    assert reason.startswith(f"model aml v{version} score ")
    assert "$" in reason or "payment" in reason  # the top contributions, in words


def run(evaluator: Any, events: list[s.Event], start_seq: int = 1) -> list[Any]:
    scores = []
    for seq, event in enumerate(events, start_seq):
        for row in to_rows(event, seq):
            evaluator.process(row)
            if row["row"] == 0:
                scores.append((row["model.score"], row["anomaly.score"]))
    return scores


def test_the_learn_state_survives_a_restart(engine: Engine, artifact: bytes) -> None:
    put_model(engine, artifact)
    events = transfers(300, seed=3)
    made = factory(engine)
    reference = run(made.new(), events)
    first = made.new()
    run(first, events[:180])
    blob = first.snapshot()
    restored = factory(engine).restore(blob)  # a new process: the factory loads again
    assert isinstance(restored, LearnEvaluator)
    assert run(restored, events[180:], start_seq=181) == reference[180:]
    assert all(score is not None for score, _ in reference)


def test_without_a_model_nothing_changes(engine: Engine) -> None:
    evaluator = factory(engine).new()
    assert isinstance(evaluator, LearnEvaluator) and not evaluator.scoring.active
    rows = to_rows(transfers(1, seed=4)[0], 1)
    evaluation = evaluator.process(rows[0])
    assert rows[0]["model.score"] is None and rows[0]["anomaly.score"] is None
    assert evaluation.hits == []


def test_a_promotion_is_noticed_and_shadow_hits_never_act(engine: Engine, artifact: bytes) -> None:
    evaluator = factory(engine).new()
    assert isinstance(evaluator, LearnEvaluator) and evaluator.watch is not None
    version = put_model(engine, artifact, status="shadow")
    evaluator.watch.expire()  # check at the next row (every 5 s in the monitor)
    hits = []
    for seq, event in enumerate(transfers(120, seed=5), 1):
        for row in to_rows(event, seq):
            hits += evaluator.process(row).hits
            assert row["model.score"] is None  # a shadow model does not fill model.score
    assert evaluator.scoring.active
    model_hits = [h for h in hits if h.rule_id == hit_rule_id("aml", version)]
    assert model_hits and all(h.shadow for h in model_hits)
    with unit_of_work(session_factory(engine)) as session:
        registry.set_status(session, SYSTEM, "aml", version, "live", "shadow looked right")
    evaluator.watch.expire()
    row = to_rows(transfers(1, seed=6, start=500)[0], 500)[0]
    evaluator.process(row)
    assert row["model.score"] is not None


def test_rules_on_the_learned_fields_agree_in_both_engines() -> None:
    from riskops.rules.parity import parity_check

    rules = parse_rules(
        [
            dict(MODEL_RULE, **{"if": {"field": "model.score", "gte": 0.7}}),
            dict(MODEL_RULE, id="AN-1", **{"if": {"field": "anomaly.score", "gt": 0.8}}),
        ]
    )
    rows = []
    for seq, event in enumerate(transfers(40, seed=7), 1):
        for row in to_rows(event, seq):
            row["model.score"] = None if seq % 5 == 0 else (seq % 10) / 10
            row["anomaly.score"] = (seq % 7) / 7
            rows.append(row)
    assert parity_check(rules, ListStore({}), rows) == []
    evaluator = factory_free_hits(rules, rows)
    assert evaluator == {"ML-1": 24, "AN-1": 10}  # rows: a transfer has two


def factory_free_hits(rules: list[Any], rows: list[dict[str, Any]]) -> dict[str, int]:
    from collections import Counter

    from riskops.rules.stream import StreamEvaluator

    evaluator = StreamEvaluator(rules, ListStore({}))
    return dict(Counter(h.rule_id for r in rows for h in evaluator.process(r).hits))

"""The cross-key observer of events a partition does not own (``cluster.crosskey``): rows
built from the event with only the columns it reads leave the features exactly as the full
flat rows do, decoded either way (the event, or its printable twin)."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
from cluster_support import history

from riskops.cluster.crosskey import CrossKeyObserver
from riskops.events import validation
from riskops.events.flat import to_rows
from riskops.monitor.evaluators import RulesEvaluatorFactory
from riskops.rules.definition import All, Feature, Not, Pred, Ref, Rule
from riskops.rules.stream import StreamEvaluator
from riskops.rules.types import Action, RuleStatus


def _evaluator() -> StreamEvaluator:
    factory = RulesEvaluatorFactory.load(None)
    return StreamEvaluator(factory.rules, factory.lists)


def test_rows_from_the_event_update_the_features_as_the_flat_rows_do() -> None:
    by_rows, by_event = CrossKeyObserver(_evaluator()), CrossKeyObserver(_evaluator())
    assert by_event.slim
    state = _same_state(by_rows, by_event)
    assert any(state["features"].values())
    assert all(state["clocks"][key] for key in ("ip", "device_id", "counterparty_id"))


def _same_state(first: CrossKeyObserver, second: CrossKeyObserver) -> dict[str, Any]:
    """Feed the history to ``first`` as flat rows, to ``second`` as events (their printable
    twins, as the worker decodes them); both states, equal."""
    for seq, event in enumerate(history(), 1):
        for row in to_rows(event, seq):
            first(row)
        assert second.event(validation.decode_printable(msgspec.json.encode(event)), seq)
    state: dict[str, Any] = pickle.loads(first.evaluator.snapshot())
    assert state == pickle.loads(second.evaluator.snapshot())
    assert first.evaluator.tok == second.evaluator.tok > len(history())
    return state


def _rule(features: dict[str, Feature]) -> Rule:
    cond = Pred("feature", next(iter(features)), "gt", 0)
    return Rule("X-1", 1, RuleStatus.LIVE, "t", ("login",), features, cond, Action.REVIEW, 10)


def test_derived_columns_money_and_direction_as_the_flat_rows_have_them() -> None:
    inbound = All(
        (
            Pred("field", "direction", "eq", "in"),
            Not(Pred("field", "instrument_id", "eq", Ref("field", "account_id"))),
        )
    )
    out = Pred("field", "direction", "eq", "out")
    features = {
        "a": Feature("sum", by="address", field="usd_cents", window_s=86400, where=out),
        "b": Feature("max", by="counterparty_id", field="amount", window_s=86400),
        "c": Feature("count", by="instrument_id", window_s=3600, where=inbound),
    }
    observer = CrossKeyObserver(StreamEvaluator([_rule(features)]))
    assert {"address", "direction", "side", "usd_cents", "amount"} <= observer.columns
    state = _same_state(CrossKeyObserver(StreamEvaluator([_rule(features)])), observer)
    assert all(state["features"].values()), "every feature saw rows"


def test_a_feature_on_the_account_rating_takes_the_full_rows() -> None:
    rated = Feature(
        "count", by="ip", window_s=60, where=Pred("field", "account.rating_band", "eq", "high")
    )
    observer = CrossKeyObserver(StreamEvaluator([_rule({"a": rated})]))
    assert not observer.slim  # the rating is the monitor's, filled on the full rows
    assert observer.event(history()[0], 1) is False

"""Monitor.decide and combine, field by field: what the evaluator is given and what each
row's decision carries (the decision log and the API read these)."""

from __future__ import annotations

import time
from typing import Any

from monitor_fakes import transfer, withdrawal

from riskops.monitor.engine import Monitor, Reason, combine
from riskops.rules.types import Action, Evaluation, Hit, RuleError


class ScriptedEvaluator:
    """Gives the same hits and errors on every row and keeps the rows it was given."""

    def __init__(self, hits: list[Hit], errors: list[RuleError]) -> None:
        self.hits, self.errors = hits, errors
        self.rows: list[dict[str, Any]] = []

    def process(self, row: dict[str, Any]) -> Evaluation:
        self.rows.append(row)
        return Evaluation(list(self.hits), list(self.errors))

    def snapshot(self) -> bytes:
        return b""


def hit(rule: str, action: Action, score: int) -> Hit:
    return Hit(rule, 1, action, score, f"{rule} says why", "mule")


def test_reasons_of_one_action_go_highest_score_first_with_every_field() -> None:
    action, score, reasons = combine(
        [hit("A", Action.HOLD, 10), hit("C", Action.REVIEW, 50), hit("B", Action.HOLD, 30)]
    )
    assert (action, score) == (Action.HOLD, 90)
    assert reasons == [
        Reason("B", "hold", 30, "B says why"),
        Reason("A", "hold", 10, "A says why"),
        Reason("C", "review", 50, "C says why"),
    ]


def test_equal_action_and_score_are_ordered_by_rule_id() -> None:
    _action, _score, reasons = combine([hit("Z", Action.REVIEW, 5), hit("M", Action.REVIEW, 5)])
    assert [r.rule_id for r in reasons] == ["M", "Z"]


def test_each_row_decision_carries_the_event_the_position_and_the_errors() -> None:
    errors = [RuleError("R-9", 3, "ZeroDivisionError: division by zero")]
    evaluator = ScriptedEvaluator([hit("A", Action.REVIEW, 10)], errors)
    before = time.perf_counter_ns()
    rows = Monitor(evaluator).decide(transfer("t-1", "a", "b", "5.00"), seq=42)
    elapsed_us = (time.perf_counter_ns() - before) // 1000
    assert [r["seq"] for r in evaluator.rows] == [42, 42]
    assert [(d.event_id, d.row, d.account_id, d.seq) for d in rows] == [
        ("t-1", 0, "a", 42),
        ("t-1", 1, "b", 42),
    ]
    assert all(d.errors == errors for d in rows)
    assert all(d.event_type == "transfer.internal" for d in rows)
    # One latency for the event, in whole microseconds, within the time the call took.
    [latency] = {d.latency_us for d in rows}
    assert isinstance(latency, int) and 0 <= latency <= elapsed_us


def test_a_row_decision_keeps_every_hit_and_the_combined_outcome() -> None:
    hits = [hit("A", Action.REVIEW, 10), hit("B", Action.BLOCK, 95)]
    [d] = Monitor(ScriptedEvaluator(hits, [])).decide(withdrawal("w-1", "a", "5.00"), seq=7)
    assert d.hits == hits
    assert (d.outcome, d.score, [r.rule_id for r in d.reasons]) == (Action.BLOCK, 100, ["B", "A"])
    assert d.restricted is None

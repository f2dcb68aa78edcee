"""Both engines against the brute-force reading of the spec, on random streams and rules."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings

from riskops.rules.definition import parse_rules
from riskops.rules.parity import parity_check, run_sql
from riskops.rules.sql import compile_features, compile_rules
from riskops.rules.stream import StreamEvaluator

from .helpers import row, rule
from .reference import reference
from .strategies import LISTS, Scenario, scenarios

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(scenarios())
def test_stream_matches_reference(case: Scenario) -> None:
    docs, stream = case
    rules = parse_rules(docs)
    want_hits, want_values = reference(rules, LISTS, stream)
    ev = StreamEvaluator(rules, LISTS)
    got_hits = set()
    for r, want in zip(stream, want_values, strict=True):
        result = ev.process(r)
        assert not result.errors
        got_hits.update((r["seq"], r["row"], h.rule_id) for h in result.hits)
        assert ev.feature_values() == want, r["seq"]
    assert got_hits == want_hits


@SETTINGS
@given(scenarios())
def test_sql_matches_reference(case: Scenario) -> None:
    docs, stream = case
    rules = parse_rules(docs)
    want_hits, want_values = reference(rules, LISTS, stream)
    sql, _ = compile_features(rules, LISTS)
    got_values = [list(r[2:]) for r in run_sql(sql, stream)]
    assert got_values == want_values
    got_hits = {
        (s, w, rid)
        for rid, _v, _e, w, _a, _sr, s, _t in run_sql(compile_rules(rules, LISTS), stream)
    }
    assert got_hits == want_hits


# A count whose current row does not pass ``where``, one window after a row that does: a
# stream that keeps the row exactly one window old says [1, 1] where SQL says [1, 0].
_BOUNDARY_RULES = [
    rule(
        ["login", "deposit"],
        {"feature": "n", "gte": 1},
        {"n": {"agg": "count", "window": "1s", "where": {"field": "type", "eq": "deposit"}}},
    )
]
_BOUNDARY_ROWS = [row(0, "deposit", 0), row(1, "login", 1)]


@SETTINGS
@example((_BOUNDARY_RULES, _BOUNDARY_ROWS))
@given(scenarios(max_size=40))
def test_parity_sql_and_stream(case: Scenario) -> None:
    docs, stream = case
    assert parity_check(parse_rules(docs), LISTS, stream, features=True) == []

"""The streaming evaluator: outcomes, shadow/draft handling, errors, reasons, snapshots."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from riskops.rules.definition import parse_rules
from riskops.rules.lists import ListStore, parse_list_text
from riskops.rules.stream import StreamEvaluator
from riskops.rules.types import Action, RuleError

from .helpers import row, rule
from .strategies import LISTS, rows, rule_sets

BIG = rule(
    ["withdrawal.requested"],
    {"all": [{"field": "usd_cents", "gte": 1000}, {"feature": "n", "gte": 2}]},
    {"n": {"agg": "count", "window": "1h", "where": {"field": "type", "eq": "login"}}},
    id="W-1",
    action="hold",
    score=60,
    reason="USD {usd:.2f} after {n} logins from {ip}",
)


def test_hit_with_formatted_reason() -> None:
    ev = StreamEvaluator(parse_rules([BIG]))
    assert ev.process(row(0, "login", 0)).hits == []
    assert ev.process(row(1, "withdrawal.requested", 1, usd_cents=5000)).hits == []
    ev.process(row(2, "login", 2))
    [hit] = ev.process(row(3, "withdrawal.requested", 3, usd_cents=123456, ip="9.9.9.9")).hits
    assert (hit.rule_id, hit.action, hit.score, hit.shadow) == ("W-1", Action.HOLD, 60, False)
    assert hit.reason == "USD 1234.56 after 2 logins from 9.9.9.9"


def test_reason_that_cannot_be_formatted_stays_a_template() -> None:
    doc = dict(BIG, reason="{nope} and {usd:.2f}")
    ev = StreamEvaluator(parse_rules([doc]))
    ev.process(row(0, "login", 0))
    ev.process(row(1, "login", 0))
    [hit] = ev.process(row(2, "withdrawal.requested", 1, usd_cents=1000)).hits
    assert hit.reason == "{nope} and {usd:.2f}"


def test_shadow_hits_are_marked_and_drafts_skipped_unless_asked() -> None:
    cond = {"field": "type", "eq": "login"}
    docs = [
        rule(["login"], cond, id="L-1"),
        rule(["login"], cond, id="S-1", status="shadow"),
        rule(["login"], cond, id="D-1", status="draft"),
    ]
    hits = StreamEvaluator(parse_rules(docs)).process(row(0, "login", 0)).hits
    assert [(h.rule_id, h.shadow) for h in hits] == [("L-1", False), ("S-1", True)]
    with_drafts = StreamEvaluator(parse_rules(docs), include_drafts=True)
    assert [h.rule_id for h in with_drafts.process(row(0, "login", 0)).hits] == [
        "L-1",
        "S-1",
        "D-1",
    ]


def test_a_rule_that_raises_is_recorded_and_others_still_run() -> None:
    docs = [
        rule(["deposit"], {"field": "usd_cents", "gt": 5}, id="BAD"),
        rule(["deposit"], {"field": "type", "eq": "deposit"}, id="OK"),
    ]
    ev = StreamEvaluator(parse_rules(docs))
    result = ev.process(row(0, "deposit", 0, usd_cents="not a number"))
    assert [h.rule_id for h in result.hits] == ["OK"]
    assert result.errors == [
        RuleError("BAD", 1, "TypeError: '>' not supported between instances of 'str' and 'int'")
    ]


def test_a_feature_that_fails_to_update_fails_only_its_rules() -> None:
    docs = [
        rule(
            ["deposit"],
            {"feature": "s", "gt": 5},
            {"s": {"agg": "sum", "field": "usd_cents", "window": "1h"}},
            id="SUM",
        ),
        rule(["deposit"], {"field": "type", "eq": "deposit"}, id="OK"),
    ]
    result = StreamEvaluator(parse_rules(docs)).process(row(0, "deposit", 0, usd_cents="x"))
    assert [h.rule_id for h in result.hits] == ["OK"]
    assert [e.rule_id for e in result.errors] == ["SUM"]


def test_lists(tmp_path: Any) -> None:
    (tmp_path / "bad_ips.txt").write_text("# known bad\n1.2.3.4\n\n5.6.7.8  # tor\n")
    store = ListStore.from_dir(tmp_path)
    assert store.get("bad_ips") == frozenset({"1.2.3.4", "5.6.7.8"})
    assert parse_list_text("a\n#b\n c \n") == ["a", "c"]
    doc = rule(["login"], {"field": "ip", "in_list": "bad_ips"})
    ev = StreamEvaluator(parse_rules([doc]), store)
    assert ev.process(row(0, "login", 0, ip="5.6.7.8")).hits
    assert not ev.process(row(1, "login", 0, ip="9.9.9.9")).hits
    assert not ev.process(row(2, "login", 0, ip=None)).hits
    missing = rule(["login"], {"field": "ip", "not_in_list": "nope"})
    # A missing list reads as empty (and is remembered), unless the store is strict.
    lenient = ListStore()
    assert (
        StreamEvaluator(parse_rules([missing]), lenient)
        .process(row(0, "login", 0, ip="1.1.1.1"))
        .hits
    )
    assert lenient.missing == {"nope"}


def test_identical_features_are_computed_once() -> None:
    feature = {"agg": "count", "window": "1h"}
    docs = [
        rule(["login"], {"feature": "a", "gt": 0}, {"a": feature}, id="A-1"),
        rule(["login"], {"feature": "b", "gt": 1}, {"b": dict(feature)}, id="B-1"),
    ]
    assert len(StreamEvaluator(parse_rules(docs)).features) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), rows(max_size=40))
def test_snapshot_restore_continues_identically(
    docs: list[dict[str, Any]], stream: list[dict[str, Any]]
) -> None:
    rules = parse_rules(docs)
    whole = StreamEvaluator(rules, LISTS)
    expected = [(whole.process(r), whole.feature_values()) for r in stream]
    half = len(stream) // 2
    first = StreamEvaluator(rules, LISTS)
    got = [(first.process(r), first.feature_values()) for r in stream[:half]]
    resumed = StreamEvaluator.restore(rules, LISTS, first.snapshot())
    got += [(resumed.process(r), resumed.feature_values()) for r in stream[half:]]
    assert got == expected

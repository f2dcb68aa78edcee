"""parity_check's contract, pinned where planted bugs got through (``make mutation``
parity): features are compared only when asked for."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from riskops.rules import parity
from riskops.rules.definition import parse_rules
from riskops.rules.lists import ListStore
from riskops.rules.parity import Mismatch, parity_check, run_sql, sort_rows
from riskops.rules.sql import compile_rules
from riskops.rules.stream import StreamEvaluator
from riskops.rules.types import RuleStatus

from .helpers import row, rule

COUNTED = rule(
    ["deposit"],
    {"feature": "n", "gte": 1},
    {"n": {"agg": "count", "window": "1m"}},
    id="R-COUNT",
)
ROWS = [row(0, "deposit", 0, usd_cents=500, event_id="d0"), row(1, "login", 1)]


def test_without_features_only_hits_are_compared() -> None:
    """A retired rule runs in SQL only: its hit is a difference. Its feature is computed by
    SQL alone as well, but hits are all that is compared unless features are asked for."""
    [live] = parse_rules([COUNTED])
    retired = msgspec.structs.replace(live, status=RuleStatus.RETIRED)
    got = parity_check([retired], None, ROWS)
    assert got == [Mismatch(0, 0, "d0", "hit", "R-COUNT", stream=False, sql=True)]


def test_the_stream_runs_draft_rules_and_reads_the_lists_it_is_given() -> None:
    """parity_check runs every rule whatever its status, against the same lists in both
    engines: a draft rule on a listed IP agrees, and hits the listed row only."""
    listed = rule(["login"], {"field": "ip", "in_list": "bad_ips"}, id="R-LIST", status="draft")
    rules = parse_rules([listed])
    assert rules[0].status is RuleStatus.DRAFT
    rows = [row(0, "login", 0, ip="2.2.2.2"), row(1, "login", 1, ip="3.3.3.3")]
    assert parity_check(rules, ListStore({"bad_ips": ["2.2.2.2"]}), rows) == []
    # The harness does report a difference on these rows when one exists (the SQL side
    # alone runs a retired version): only the listed row hits.
    retired = msgspec.structs.replace(rules[0], status=RuleStatus.RETIRED)
    got = parity_check([retired], ListStore({"bad_ips": ["2.2.2.2"]}), rows)
    assert got == [Mismatch(0, 0, "e0", "hit", "R-LIST", stream=False, sql=True)]


def test_a_feature_read_on_other_rows_than_it_counts_gives_the_same_hits_in_sql() -> None:
    """The SQL engine prunes the rows a feature needs to those that update it (deposits)
    or that a rule reads it on (withdrawals of $10 or more): two alternatives in one
    filter. The hits are the stream's, and these: the $50 withdrawal after two deposits
    within the minute, not the $5 one, not the one after the window."""
    big_after_deposits = rule(
        ["withdrawal.requested"],
        {"all": [{"field": "usd_cents", "gte": 1000}, {"feature": "n", "gte": 2}]},
        {"n": {"agg": "count", "window": "1m", "where": {"field": "type", "eq": "deposit"}}},
        id="R-PRUNE",
    )
    rules = parse_rules([big_after_deposits])
    rows = [
        row(0, "deposit", 0),
        row(1, "login", 1),
        row(2, "deposit", 2),
        row(3, "withdrawal.requested", 3, usd_cents=5000, event_id="w-big"),
        row(4, "withdrawal.requested", 4, usd_cents=500, event_id="w-small"),
        row(5, "withdrawal.requested", 70, usd_cents=5000, event_id="w-late"),
    ]
    assert parity_check(rules, None, rows, features=True) == []
    hits = run_sql(compile_rules(rules, ListStore()), sort_rows(rows))
    assert [(h[0], h[6]) for h in hits] == [("R-PRUNE", 3)]


def test_a_feature_of_any_type_read_on_some_rows_gives_the_same_hits_in_sql() -> None:
    """The feature counts rows of any type over $10 (its rows are not pinned to a type);
    the rule reads it on withdrawals from one IP: the pruning filter holds an alternative
    of any type and one of a type. Hits: the withdrawal from that IP only."""
    from_ip = rule(
        ["withdrawal.requested"],
        {"all": [{"field": "ip", "eq": "9.9.9.9"}, {"feature": "n", "gte": 2}]},
        {"n": {"agg": "count", "window": "1m", "where": {"field": "usd_cents", "gte": 1000}}},
        id="R-ANYTYPE",
    )
    rules = parse_rules([from_ip])
    rows = [
        row(0, "deposit", 0, usd_cents=5000),
        row(1, "deposit", 1, usd_cents=100),
        row(2, "withdrawal.requested", 2, usd_cents=2000, ip="9.9.9.9"),
        row(3, "withdrawal.requested", 3, usd_cents=2000, ip="8.8.8.8"),
    ]
    assert parity_check(rules, None, rows, features=True) == []
    hits = run_sql(compile_rules(rules, ListStore()), sort_rows(rows))
    assert [(h[0], h[6]) for h in hits] == [("R-ANYTYPE", 2)]


class _OffByOneStream(StreamEvaluator):
    """A stream engine with a planted bug: its first feature reads one more than it is."""

    def feature_values(self) -> list[Any]:
        values = super().feature_values()
        return [values[0] + 1, *values[1:]]


def test_a_feature_value_only_one_engine_computes_is_reported_per_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = parse_rules([COUNTED])
    monkeypatch.setattr(parity, "StreamEvaluator", _OffByOneStream)
    got = parity_check(rules, None, ROWS, features=True)
    assert got == [
        Mismatch(0, 0, "d0", "feature", "f0", stream=2, sql=1),
        Mismatch(1, 0, "e1", "feature", "f0", stream=3, sql=2),  # the login counts too
    ]
    assert parity_check(rules, None, ROWS) == []  # hits agree: n >= 1 either way


def test_features_of_a_rule_one_engine_does_not_run_cannot_be_compared() -> None:
    [live] = parse_rules([COUNTED])
    retired = msgspec.structs.replace(live, status=RuleStatus.RETIRED)
    with pytest.raises(ValueError, match="zip"):
        parity_check([retired], None, ROWS, features=True)


def test_the_sql_features_read_the_same_lists() -> None:
    listed = rule(
        ["login"],
        {"feature": "n", "gte": 1},
        {"n": {"agg": "count", "window": "1m", "where": {"field": "ip", "in_list": "bad_ips"}}},
        id="R-LISTED",
    )
    rows = [row(0, "login", 0, ip="2.2.2.2"), row(1, "login", 1, ip="3.3.3.3")]
    lists = ListStore({"bad_ips": ["2.2.2.2"]})
    assert parity_check(parse_rules([listed]), lists, rows, features=True) == []


def test_time_since_the_last_event_of_a_type_that_passes_where_agrees() -> None:
    """since deposit, where usd_cents >= 1000: at the login (t=30 s) the last such deposit
    is the big one at 10 s (20 s ago), not the small one at 20 s; at the login at 5 s
    there has been none yet."""
    since_big = rule(
        ["login"],
        {"feature": "s", "gte": 15},
        {
            "s": {
                "since": "deposit",
                "unit": "seconds",
                "where": {"field": "usd_cents", "gte": 1000},
            }
        },
        id="R-SINCE",
    )
    rules = parse_rules([since_big])
    rows = [
        row(0, "deposit", 0, usd_cents=100),
        row(1, "login", 5),
        row(2, "deposit", 10, usd_cents=5000),
        row(3, "deposit", 20, usd_cents=100),
        row(4, "login", 30),
    ]
    assert parity_check(rules, None, rows, features=True) == []
    hits = run_sql(compile_rules(rules, ListStore()), sort_rows(rows))
    assert [(h[0], h[6]) for h in hits] == [("R-SINCE", 4)]

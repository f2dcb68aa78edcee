"""Rule documents: what parses, and path-qualified errors for what does not."""

from __future__ import annotations

from typing import Any

import pytest

from riskops.rules.definition import Pred, Ref, load_default_pack, load_rule_files, parse_rules
from riskops.rules.parse import RuleParseError, parse_duration
from riskops.rules.types import Action, RuleStatus

from .helpers import rule

GOOD = """
- id: ATO-002
  version: 1
  status: live
  name: Withdrawal soon after a password reset
  typology: account_takeover
  when: [withdrawal.requested]
  features:
    pw_minutes:
      since: security.change
      where: {change: {in: [password_reset, 2fa_reset]}}
      unit: minutes
  if:
    all:
      - {field: usd_cents, gte: 100000}
      - {feature: pw_minutes, lt: 60}
  action: hold
  score: 60
  reason: "USD {usd:.2f} withdrawn {pw_minutes:.0f} min after a password reset"
"""


def errors(docs: Any) -> list[str]:
    with pytest.raises(RuleParseError) as info:
        parse_rules(docs)
    return info.value.problems


def test_parses_the_spec_example() -> None:
    [r] = parse_rules(GOOD)
    assert r.id == "ATO-002" and r.status is RuleStatus.LIVE and r.action is Action.HOLD
    feature = r.features["pw_minutes"]
    assert feature.since_type == "security.change" and feature.unit == "minutes"
    # The example's `{change: {in: [...]}}` is shorthand for `{field: change, in: [...]}`.
    assert feature.where == Pred("field", "change", "in", ("password_reset", "2fa_reset"))


def test_a_broken_feature_is_reported_once() -> None:
    problems = errors([rule(["login"], {"feature": "n", "gt": 1}, {"n": {"agg": "count"}})])
    assert problems == [
        "rules[0].features.n.window: bad duration None; write e.g. 30s, 15m, 1h, 7d"
    ]


def test_json_and_value_references() -> None:
    doc = rule(["login"], {"field": "ip_country", "ne": {"field": "country"}})
    [r] = parse_rules([doc])
    assert r.cond == Pred("field", "ip_country", "ne", Ref("field", "country"))


@pytest.mark.parametrize(
    ("cond", "features", "message"),
    [
        (
            {"all": [{"field": "usd_cents", "gt": 1}, {"field": "usd_cents", "gtt": 5}]},
            {},
            "rules[0].if.all[1]: unknown operator 'gtt'",
        ),
        ({"field": "usd", "gt": 1}, {}, "rules[0].if: unknown flat column 'usd'"),
        ({"feature": "nope", "gt": 1}, {}, "rules[0].if: unknown feature reference 'nope'"),
        (
            {"field": "usd_cents", "gt": "high"},
            {},
            "rules[0].if.gt: cannot compare a int value with 'high'",
        ),
        ({"field": "ip", "in": []}, {}, "rules[0].if.in: expected a non-empty list of values"),
        (
            {"field": "usd_cents", "eq": None},
            {},
            "rules[0].if.eq: expected a literal value, got None (use is_null for nulls)",
        ),
        (
            {"feature": "n", "gt": 1},
            {"n": {"agg": "count", "window": "2w"}},
            "rules[0].features.n.window: bad duration '2w'; write e.g. 30s, 15m, 1h, 7d",
        ),
        (
            {"feature": "n", "gt": 1},
            {"n": {"agg": "count", "window": "91d"}},
            "rules[0].features.n.window: window '91d' is outside 1s..90d",
        ),
        (
            {"feature": "n", "gt": 1},
            {"n": {"agg": "sum", "field": "ip", "window": "1h"}},
            "rules[0].features.n.field: sum needs an integer column, 'ip' is str",
        ),
        (
            {"feature": "n", "gt": 1},
            {"n": {"agg": "count", "window": "1h", "where": {"feature": "n", "gt": 1}}},
            "rules[0].features.n.where: a where condition may only use fields, not features",
        ),
        (
            {"feature": "n", "gt": 1},
            {"n": {"since": "nope"}},
            "rules[0].features.n.since: unknown event type 'nope'",
        ),
    ],
)
def test_errors_name_their_path(
    cond: dict[str, Any], features: dict[str, Any], message: str
) -> None:
    assert message in errors([rule(["login"], cond, features)])


def test_missing_keys_duplicates_and_bad_values() -> None:
    doc = rule(["login"], {"field": "ip", "not_null": True})
    del doc["action"]
    assert errors([doc]) == ["rules[0]: missing required key 'action'"]
    one = rule(["login"], {"field": "ip", "not_null": True})
    assert errors([one, dict(one)]) == ["rules[1].id: duplicate id 'R-1' (also rules[0])"]
    bad = rule(
        ["nope"],
        {"field": "ip", "not_null": True},
        score=101,
        status="retired",
        typology="x",
        extra=1,
    )
    problems = errors([bad])
    assert "rules[0]: unknown key 'extra'" in problems
    assert "rules[0].when[0]: unknown event type 'nope'" in problems
    assert "rules[0].score: expected an integer in 0..100" in problems
    assert "rules[0].status: unknown status 'retired'" in problems
    assert "rules[0].typology: unknown typology 'x'" in problems


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("15m") == 900
    assert parse_duration("90d") == 90 * 86400
    for bad in ("0s", "1.5h", "1w", 5, "91d"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_load_files_and_default_pack(tmp_path: Any) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        GOOD.replace(
            "{change: {in: [password_reset, 2fa_reset]}}", "{field: change, eq: password_reset}"
        )
    )
    assert [r.id for r in load_rule_files([path])] == ["ATO-002"]
    pack = load_default_pack()
    assert all(r.id for r in pack)
    assert len({r.id for r in pack}) == len(pack)

"""Each feature kind on small hand-made streams, with exact values, in both engines."""

from __future__ import annotations

from typing import Any

import pytest

from riskops.rules.definition import parse_rules
from riskops.rules.parity import run_sql
from riskops.rules.sql import compile_features

from .helpers import feature_stream, row, rule


def feature_sql(feature: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    rules = parse_rules([rule(["login"], {"feature": "x", "is_null": False}, {"x": feature})])
    sql, _ = compile_features(rules)
    return [r[2] for r in run_sql(sql, rows)]


def both(feature: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    stream = feature_stream(feature, rows)
    assert feature_sql(feature, rows) == stream
    return stream


STREAM = [
    row(0, "login", 0, ip="1", usd_cents=None),
    row(1, "deposit", 1, ip="2", usd_cents=100),
    row(2, "deposit", 1, ip="1", usd_cents=300),  # same microsecond as row 1: a tie
    row(3, "login", 2, ip=None, usd_cents=None),
    row(4, "deposit", 3, ip="3", usd_cents=500, account_id="b"),
    row(5, "deposit", 4, ip="1", usd_cents=200),
]


def test_count_window_includes_current_and_ends_exclusive() -> None:
    # 2s window at t=3? row 5 at t=4: rows with t in (2, 4] of account a: only row 5.
    assert both({"agg": "count", "window": "2s"}, STREAM) == [1, 2, 3, 3, 1, 1]


def test_count_with_where_is_zero_when_none_pass() -> None:
    got = both(
        {"agg": "count", "window": "1m", "where": {"field": "type", "eq": "deposit"}}, STREAM
    )
    assert got == [0, 1, 2, 2, 1, 3]


def test_sum_avg_max_min() -> None:
    assert both({"agg": "sum", "field": "usd_cents", "window": "1m"}, STREAM) == [
        0,
        100,
        400,
        400,
        500,
        600,
    ]
    assert both({"agg": "avg", "field": "usd_cents", "window": "1m"}, STREAM) == [
        None,
        100.0,
        200.0,
        200.0,
        500.0,
        200.0,
    ]
    assert both({"agg": "max", "field": "usd_cents", "window": "2s"}, STREAM) == [
        None,
        100,
        300,
        300,
        500,
        200,
    ]
    assert both({"agg": "min", "field": "usd_cents", "window": "1m"}, STREAM) == [
        None,
        100,
        100,
        100,
        500,
        100,
    ]


def test_count_distinct() -> None:
    assert both({"agg": "count_distinct", "field": "ip", "window": "1m"}, STREAM) == [
        1,
        2,
        2,
        2,
        1,
        2,
    ]


def test_first_seen() -> None:
    assert both({"first_seen": "ip"}, STREAM) == [True, True, False, None, True, False]


def test_since_and_last() -> None:
    assert both({"since": "deposit", "unit": "seconds"}, STREAM) == [
        None,
        None,
        0.0,
        1.0,
        None,
        3.0,
    ]
    assert both({"last": "ip"}, STREAM) == [None, "1", "2", "1", None, "1"]


def test_baseline_ratio() -> None:
    got = both({"baseline_ratio": "usd_cents", "window": "1m"}, STREAM)
    assert got == [None, None, 3.0, None, None, 200 / (400 / 2)]
    assert both({"baseline_ratio": "usd_cents", "window": "1m", "min_count": 2}, STREAM) == [
        None,
        None,
        None,
        None,
        None,
        1.0,
    ]


def test_key_by_ip_and_null_key() -> None:
    assert both({"agg": "count", "window": "1m", "by": "ip"}, STREAM) == [1, 1, 2, None, 1, 3]


def test_ties_at_the_window_boundary_follow_the_tie_broken_clock() -> None:
    # Rows 0 and 1 share a microsecond; row 2 is exactly one window later than both.
    rows = [row(0, "login", 0), row(1, "login", 0), row(2, "login", 1), row(3, "login", 1)]
    # Clock (ns from T0): 0, 1, 1e9, 1e9 + 1. Row 2's window (0, 1e9] keeps row 1 (rank 1)
    # but not row 0; row 3's window (1, 1e9 + 1] keeps neither.
    assert both({"agg": "count", "window": "1s"}, rows) == [1, 2, 2, 2]


@pytest.mark.parametrize("kind", ["count", "sum"])
def test_late_row_is_clamped_in_the_stream(kind: str) -> None:
    feature = {"agg": kind, "window": "1s"} | ({"field": "usd_cents"} if kind == "sum" else {})
    rows = [row(0, "login", 10, usd_cents=1), row(1, "login", 5, usd_cents=2)]
    # The late row is placed 1 ns after the key's last row, so the window still holds both.
    assert feature_stream(feature, rows) == ([1, 2] if kind == "count" else [1, 3])

"""parity_check itself: it must report what differs, not only stay quiet when nothing does."""

from __future__ import annotations

import math

import msgspec

from riskops.events.flat import FLAT_COLUMNS
from riskops.rules.definition import parse_rules
from riskops.rules.parity import Mismatch, _same, parity_check, sort_rows
from riskops.rules.types import RuleStatus

from .helpers import row, rule

BIG_DEPOSIT = rule(["deposit"], {"field": "usd_cents", "gte": 1000}, id="R-BIG")
COUNTED = rule(
    ["deposit"],
    {"feature": "n", "gte": 2},
    {"n": {"agg": "count", "window": "1m"}},
    id="R-COUNT",
)
ROWS = [
    row(0, "deposit", 0, usd_cents=500),
    row(1, "deposit", 1, usd_cents=5000, event_id="big"),
    row(2, "login", 2),
]


def test_agreeing_engines_report_nothing() -> None:
    rules = parse_rules([BIG_DEPOSIT, COUNTED])
    assert parity_check(rules, None, ROWS, features=True) == []


def test_a_hit_only_sql_finds_is_reported_with_its_row() -> None:
    # A retired version still compiles to SQL, but the stream does not run it: the one
    # real difference between the engines' inputs, so parity must name it.
    [live] = parse_rules([BIG_DEPOSIT])
    retired = msgspec.structs.replace(live, status=RuleStatus.RETIRED)
    got = parity_check([retired], None, ROWS)
    assert got == [Mismatch(1, 0, "big", "hit", "R-BIG", stream=False, sql=True)]


def test_every_differing_hit_is_reported_in_row_order() -> None:
    [live] = parse_rules([rule(["deposit"], {"field": "usd_cents", "gte": 0}, id="R-ANY")])
    retired = msgspec.structs.replace(live, status=RuleStatus.RETIRED)
    got = parity_check([retired], None, list(reversed(ROWS)))
    assert [(m.seq, m.row, m.event_id, m.stream, m.sql) for m in got] == [
        (0, 0, "e0", False, True),
        (1, 0, "big", False, True),
    ]


def test_sort_rows_orders_by_time_then_position_and_fills_every_column() -> None:
    rows = [
        {"ts_us": 2, "seq": 0, "row": 0},
        {"ts_us": 1, "seq": 5, "row": 1},
        {"ts_us": 1, "seq": 5, "row": 0},
        {"ts_us": 1, "seq": 3, "row": 1},
    ]
    got = sort_rows(rows)
    assert [(r["ts_us"], r["seq"], r["row"]) for r in got] == [
        (1, 3, 1),
        (1, 5, 0),
        (1, 5, 1),
        (2, 0, 0),
    ]
    assert all(list(r) == list(FLAT_COLUMNS) for r in got)
    assert got[0]["account_id"] is None


def test_same_is_equality_with_nan_equal_and_bools_apart_from_numbers() -> None:
    assert _same(math.nan, math.nan)
    assert not _same(math.nan, 1.0)
    assert _same(2, 2.0) and _same("a", "a") and _same(None, None)
    assert not _same(True, 1) and not _same(0, False)
    assert _same(True, True) and not _same(True, False)
    assert not _same(1, 2)

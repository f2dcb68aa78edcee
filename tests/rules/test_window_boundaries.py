"""Every window kind at the exact boundary, in both engines and in the reference.

docs/rules.md: a window ``W`` of a row ``e`` holds the rows ``p`` of its key with
``e.ts_ns - W_ns < p.ts_ns <= e.ts_ns``: a row exactly one window old is out, a row one
microsecond younger is in. An engine that keeps the row exactly ``W`` old (``<`` for ``<=``
in an eviction, ``RANGE W PRECEDING`` for ``W - 1``) differs from the other only on rows
that sit exactly on the boundary, which random streams rarely produce; these examples put
rows there on purpose, for each window kind and for several window lengths.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.events.flat import FLAT_COLUMNS
from riskops.rules.definition import parse_rules
from riskops.rules.lists import ListStore
from riskops.rules.parity import parity_check, run_sql
from riskops.rules.sql import compile_features
from riskops.rules.stream import StreamEvaluator

from .helpers import T0, S, feature_stream, row, rule
from .reference import reference

WINDOWS = {"1s": 1, "15m": 900, "1h": 3600, "7d": 7 * 86400, "90d": 90 * 86400}
US = 1 / S  # one microsecond, in the seconds that ``row`` takes


def values(feature: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    """The feature on each row: the stream's, after checking that SQL and the brute-force
    reading of the spec give exactly the same."""
    rules = parse_rules([rule(["login"], {"feature": "x", "is_null": False}, {"x": feature})])
    stream = feature_stream(feature, rows)
    sql, _ = compile_features(rules)
    assert [r[2] for r in run_sql(sql, rows)] == stream, "SQL differs from the stream"
    _hits, want = reference(rules, ListStore(), rows)
    assert [v[0] for v in want] == stream, "the stream differs from the spec"
    return stream


def _four(w: float, usd: list[int], ips: list[str]) -> list[dict[str, Any]]:
    # At 0, W - 1 µs, W and 2W - 1 µs: each row's window starts exactly where the row two
    # before it sits, so it holds itself and the row before it.
    times = [0.0, w - US, w, 2 * w - US]
    return [
        row(i, "login", t, usd_cents=u, ip=ip)
        for i, (t, u, ip) in enumerate(zip(times, usd, ips, strict=True))
    ]


# Values chosen so that keeping the row exactly one window old changes every kind's value
# (a larger max, a smaller min, one more distinct IP, ...).
USD = [100, 800, 400, 200]
IPS = ["1", "2", "3", "1"]
EXPECTED = {
    "count": [1, 2, 2, 2],
    "sum": [100, 900, 1200, 600],
    "avg": [100.0, 450.0, 600.0, 300.0],
    "max": [100, 800, 800, 400],
    "min": [100, 100, 400, 200],
    "count_distinct": [1, 2, 2, 2],
    "baseline_ratio": [None, 8.0, 0.5, 0.5],
}


def _feature(kind: str, window: str, **extra: Any) -> dict[str, Any]:
    if kind == "baseline_ratio":
        return {"baseline_ratio": "usd_cents", "window": window, **extra}
    field = {"count": {}, "count_distinct": {"field": "ip"}}.get(kind, {"field": "usd_cents"})
    return {"agg": kind, "window": window, **field, **extra}


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_a_row_exactly_one_window_old_is_out(kind: str, window: str) -> None:
    rows = _four(WINDOWS[window], USD, IPS)
    assert values(_feature(kind, window), rows) == EXPECTED[kind]


# The row at W does not pass ``where``: nothing updates the state, so only the read of the
# value evicts the row exactly one window old (the divergence once found: stream [1, 1],
# SQL [1, 0]).
EXPECTED_NOT_PASSING = {
    "count": [1, 0],
    "sum": [100, 0],
    "avg": [100.0, None],
    "max": [100, None],
    "min": [100, None],
    "count_distinct": [1, 0],
    "baseline_ratio": [None, None],
}


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("kind", sorted(EXPECTED_NOT_PASSING))
def test_a_row_that_updates_nothing_still_drops_the_row_one_window_old(
    kind: str, window: str
) -> None:
    w = WINDOWS[window]
    rows = [
        row(0, "deposit", 0, usd_cents=100, ip="1"),
        row(1, "login", w, usd_cents=300, ip="2"),
    ]
    feature = _feature(kind, window, where={"field": "type", "eq": "deposit"})
    assert values(feature, rows) == EXPECTED_NOT_PASSING[kind]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_one_microsecond_inside_the_window_is_in(kind: str) -> None:
    rows = [
        row(0, "login", 0, usd_cents=100, ip="1"),
        row(1, "login", 1 - US, usd_cents=300, ip="2"),
    ]
    want = {
        "count": 2,
        "sum": 400,
        "avg": 200.0,
        "max": 300,
        "min": 100,
        "count_distinct": 2,
        "baseline_ratio": 3.0,
    }
    assert values(_feature(kind, "1s"), rows)[1] == want[kind]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_ties_on_both_sides_of_the_boundary(kind: str) -> None:
    # Two rows at 0 (clock 0 and 1 ns) and two at W (clock W and W + 1 ns): the first row at
    # W keeps the second row at 0 (1 > 0) but not the first; the second row at W keeps
    # neither (1 is not > 1).
    rows = [
        row(0, "login", 0, usd_cents=100, ip="1"),
        row(1, "login", 0, usd_cents=800, ip="2"),
        row(2, "login", 1, usd_cents=400, ip="3"),
        row(3, "login", 1, usd_cents=200, ip="1"),
    ]
    # Each row keeps itself and the row before it, as in _four, with the same USD and IPs.
    assert values(_feature(kind, "1s"), rows) == EXPECTED[kind]


def test_other_keys_do_not_move_a_keys_boundary() -> None:
    # Account b's rows between a's do not change which of a's rows are one window old.
    rows = [
        row(0, "login", 0),
        row(1, "login", 0.5, account_id="b"),
        row(2, "login", 1, account_id="b"),
        row(3, "login", 1),
    ]
    assert values({"agg": "count", "window": "1s"}, rows) == [1, 1, 2, 1]


# Features over earlier rows are not windowed: an earlier row at the same microsecond is
# earlier (processing order), and a row of any age is remembered.


def test_first_seen_at_equal_timestamps_and_any_age() -> None:
    rows = [
        row(0, "login", 0, ip="1"),
        row(1, "login", 0, ip="1"),
        row(2, "login", 0, ip="2"),
        row(3, "login", 90 * 86400, ip="2"),
        row(4, "login", 90 * 86400, ip=None),
    ]
    assert values({"first_seen": "ip"}, rows) == [True, False, True, False, None]


def test_first_seen_where_counts_only_rows_that_pass() -> None:
    rows = [
        row(0, "deposit", 0, ip="1"),
        row(1, "login", 0, ip="2"),
        row(2, "deposit", 0, ip="2"),
        row(3, "deposit", 0, ip="1"),
    ]
    feature = {"first_seen": "ip", "where": {"field": "type", "eq": "deposit"}}
    assert values(feature, rows) == [True, True, True, False]


def test_since_and_last_at_equal_timestamps() -> None:
    rows = [
        row(0, "security.change", 0, ip="1"),
        row(1, "login", 0, ip="2"),
        row(2, "login", 0, ip=None),
        row(3, "login", 7 * 86400, ip="3"),
    ]
    assert values({"since": "security.change", "unit": "seconds"}, rows) == [
        None,
        0.0,
        0.0,
        7 * 86400.0,
    ]
    assert values({"last": "ip"}, rows) == [None, "1", "2", "2"]


# A property over streams built to sit on boundaries: steps of exactly one window, one
# microsecond either side of it, and zero (ties), on two accounts.

BOUNDARY_WINDOWS = ["1s", "2s"]
_KINDS = [*sorted(EXPECTED), "first_seen", "since", "last"]


@st.composite
def boundary_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(2, 16))
    steps = st.sampled_from([0, 0, 1, S - 1, S, S, S, S + 1, 2 * S])
    ts = T0
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i:
            ts += draw(steps)
        r: dict[str, Any] = dict.fromkeys(FLAT_COLUMNS)
        r.update(
            seq=i,
            row=0,
            event_id=f"e{i}",
            source_row=i,
            ts_us=ts,
            type=draw(st.sampled_from(["login", "deposit"])),
            account_id=draw(st.sampled_from(["a", "a", "a", "b"])),
            ip=draw(st.sampled_from(["1", "2", None])),
            usd_cents=draw(st.sampled_from([100, 300, 700, None])),
        )
        out.append(r)
    return out


@st.composite
def boundary_rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    features: dict[str, Any] = {}
    for i, kind in enumerate(_KINDS):
        window = draw(st.sampled_from(BOUNDARY_WINDOWS))
        if kind == "first_seen":
            f: dict[str, Any] = {"first_seen": "ip"}
        elif kind == "since":
            f = {"since": "deposit", "unit": "seconds"}
        elif kind == "last":
            f = {"last": "ip"}
        else:
            f = _feature(kind, window)
        if draw(st.booleans()):
            f["where"] = {"field": "type", "eq": "deposit"}
        features[f"x{i}"] = f
    cond = {"any": [{"feature": name, "not_null": True} for name in features]}
    return [rule(["login", "deposit"], cond, features)]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(boundary_rules(), boundary_rows())
def test_engines_agree_with_the_spec_on_boundaries(
    docs: list[dict[str, Any]], stream: list[dict[str, Any]]
) -> None:
    rules = parse_rules(docs)
    assert parity_check(rules, ListStore(), stream, features=True) == []
    _hits, want = reference(rules, ListStore(), stream)
    sql, _ = compile_features(rules)
    assert [list(r[2:]) for r in run_sql(sql, stream)] == want


def test_a_since_feature_without_a_unit_is_in_minutes_in_both_engines() -> None:
    # parse() writes the default unit; a Feature built in code may leave it out.
    [parsed] = parse_rules(
        [rule(["login"], {"feature": "x", "is_null": False}, {"x": {"since": "deposit"}})]
    )
    bare = msgspec.structs.replace(parsed.features["x"], unit=None)
    rules = [msgspec.structs.replace(parsed, features={"x": bare})]
    rows = [row(0, "deposit", 0), row(1, "login", 90)]
    ev = StreamEvaluator(rules)
    stream = []
    for r in rows:
        ev.process(r)
        stream.append(ev.feature_values()[0])
    sql, _ = compile_features(rules)
    assert stream == [r[2] for r in run_sql(sql, rows)] == [None, 1.5]


@pytest.mark.parametrize(
    ("earlier", "want"),
    [([0, 0], None), ([1], 300.0), ([0, 2], 300.0), ([1, 1], 300.0)],
)
def test_baseline_ratio_is_null_only_when_the_earlier_average_is_zero(
    earlier: list[int], want: float | None
) -> None:
    # The smallest averages above zero (one cent) still divide; exactly zero does not.
    rows = [row(i, "login", i, usd_cents=u) for i, u in enumerate(earlier)]
    rows.append(row(len(rows), "login", len(rows), usd_cents=300))
    got = values({"baseline_ratio": "usd_cents", "window": "1m"}, rows)
    assert got[-1] == want

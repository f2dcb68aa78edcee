"""Hypothesis strategies: random flat-row streams and random rules over them.

Few accounts and IPs, timestamps clustered so that windows cut through runs of equal
timestamps (ties) and rows fall exactly one window apart, nulls everywhere a column may be
null.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from riskops.events.flat import FLAT_COLUMNS
from riskops.rules.lists import ListStore

TYPES = ["login", "withdrawal.requested", "deposit", "security.change"]
ACCOUNTS = ["a", "b", "c"]
IPS = ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
USD = [0, 100, 250, 1000, 5000]
LISTS = ListStore({"bad_ips": ["2.2.2.2"], "empty": []})
WINDOWS = ["1s", "2s", "5s", "1m"]
_WINDOW_US = {"1s": 1_000_000, "2s": 2_000_000, "5s": 5_000_000, "1m": 60_000_000}
WINDOW_US = list(_WINDOW_US.values())
# Steps of exactly a window (and one microsecond short of one) put rows on window
# boundaries, where an engine that keeps a row exactly one window old would differ; zero
# steps make ties.
STEPS = [
    *(0, 0, 0, 1, 1000, 400_000, 999_999, 1_000_000, 1_000_000, 1_500_000),
    *(2_000_000, 3_000_000, 5_000_000, 30_000_000, 60_000_000),
]


@st.composite
def rows(
    draw: st.DrawFn, max_size: int = 30, windows_us: list[int] | None = None
) -> list[dict[str, Any]]:
    """A stream in processing order; some rows exactly one of ``windows_us`` (default:
    every window the rule strategies use) after an earlier row."""
    windows_us = windows_us or WINDOW_US
    n = draw(st.integers(1, max_size))
    out: list[dict[str, Any]] = []
    ts = 1_700_000_000_000_000
    for i in range(n):
        earlier = None
        if out and draw(st.integers(0, 2)) == 0:
            # Exactly one window after an earlier row (when that is not in the past), often
            # of the same keys: the boundary, hit on purpose rather than by luck.
            earlier = out[draw(st.integers(max(0, len(out) - 3), len(out) - 1))]
            ts = max(ts, earlier["ts_us"] + draw(st.sampled_from(windows_us)))
        else:
            ts += draw(st.sampled_from(STEPS))
        r: dict[str, Any] = dict.fromkeys(FLAT_COLUMNS)
        r.update(
            seq=i,
            row=0,
            event_id=f"e{i}",
            source_row=i,
            ts_us=ts,
            type=draw(st.sampled_from(TYPES)),
            account_id=draw(
                st.sampled_from([*ACCOUNTS, None]) if i % 7 == 6 else st.sampled_from(ACCOUNTS)
            ),
            ip=draw(st.sampled_from([*IPS, None])),
            usd_cents=draw(st.sampled_from([*USD, None])),
            success=draw(st.sampled_from([True, False, None])),
            country=draw(st.sampled_from(["FR", "DE", None])),
        )
        if earlier is not None and draw(st.booleans()):
            # Same keys, another type: a ``where`` that held for the earlier row often fails
            # for this one, which then reads the window without updating it.
            others = [t for t in TYPES if t != earlier["type"]]
            r.update(
                account_id=earlier["account_id"],
                ip=earlier["ip"],
                type=draw(st.sampled_from(others)),
            )
        out.append(r)
    return out


def field_pred(draw: st.DrawFn) -> dict[str, Any]:
    choice = draw(st.integers(0, 7))
    if choice == 0:
        return {"field": "type", "eq": draw(st.sampled_from(TYPES))}
    if choice == 1:
        return {
            "field": "type",
            "in": draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2)),
        }
    if choice == 2:
        op = draw(st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]))
        return {"field": "usd_cents", op: draw(st.sampled_from(USD))}
    if choice == 3:
        return {"field": "ip", draw(st.sampled_from(["is_null", "not_null"])): True}
    if choice == 4:
        return {"field": "success", "eq": draw(st.booleans())}
    if choice == 5:
        return {
            "field": "ip",
            draw(st.sampled_from(["in_list", "not_in_list"])): draw(
                st.sampled_from(["bad_ips", "empty"])
            ),
        }
    if choice == 6:
        return {"field": "country", "not_in": ["FR"]}
    if draw(st.booleans()):
        return {"field": "ip", "ne": {"field": "country"}}
    return {"field": "ip", "ne": "1.1.1.1"}


def where(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return {"all": [field_pred(draw), field_pred(draw)]}
    if kind == 1:
        return {"any": [field_pred(draw), field_pred(draw)]}
    if kind == 2:
        return {"not": field_pred(draw)}
    return field_pred(draw)


@st.composite
def feature(draw: st.DrawFn) -> dict[str, Any]:
    windowed = ["count", "sum", "avg", "max", "min", "count_distinct", "baseline_ratio"]
    # Windowed kinds twice as often: their boundaries are where the engines can drift apart.
    kind = draw(st.sampled_from([*windowed, *windowed, "first_seen", "since", "last"]))
    window = draw(st.sampled_from(WINDOWS))
    if kind == "count":
        f: dict[str, Any] = {"agg": "count", "window": window}
    elif kind in ("sum", "avg", "max", "min"):
        f = {"agg": kind, "field": "usd_cents", "window": window}
    elif kind == "count_distinct":
        f = {
            "agg": kind,
            "field": draw(st.sampled_from(["ip", "country", "usd_cents"])),
            "window": window,
        }
    elif kind == "first_seen":
        f = {"first_seen": draw(st.sampled_from(["ip", "country"]))}
    elif kind == "since":
        f = {
            "since": draw(st.sampled_from(TYPES)),
            "unit": draw(st.sampled_from(["seconds", "minutes"])),
        }
    elif kind == "last":
        f = {"last": draw(st.sampled_from(["ip", "usd_cents"]))}
    else:
        f = {"baseline_ratio": "usd_cents", "window": window, "min_count": draw(st.integers(1, 3))}
    if draw(st.booleans()):
        f["by"] = draw(st.sampled_from(["account_id", "ip"]))
    if draw(st.booleans()):
        f["where"] = where(draw)
    return f


_LITERALS = {
    "count": [0, 1, 2, 3],
    "sum": [0, 250, 1000],
    "count_distinct": [1, 2],
    "max": [250, 1000],
    "min": [0, 250],
    "avg": [100, 250.0, 1000],
    "since": [0.01, 1.0, 5.0],
    "baseline_ratio": [0.5, 1.0, 2.0],
    "first_seen": [True, False],
    "last_ip": ["1.1.1.1"],
    "last_usd_cents": [100, 1000],
}


def _kind(f: dict[str, Any]) -> str:
    if "agg" in f:
        return str(f["agg"])
    for k in ("first_seen", "since", "baseline_ratio"):
        if k in f:
            return k
    return "last_" + f["last"]


def feature_pred(draw: st.DrawFn, name: str, f: dict[str, Any]) -> dict[str, Any]:
    kind = _kind(f)
    if draw(st.integers(0, 5)) == 0:
        return {"feature": name, draw(st.sampled_from(["is_null", "not_null"])): True}
    values = _LITERALS[kind]
    ops = (
        ["eq", "ne"]
        if isinstance(values[0], bool) or kind == "last_ip"
        else ["eq", "ne", "lt", "lte", "gt", "gte"]
    )
    return {"feature": name, draw(st.sampled_from(ops)): draw(st.sampled_from(values))}


@st.composite
def rule(draw: st.DrawFn, index: int) -> dict[str, Any]:
    feats = {f"x{i}": draw(feature()) for i in range(draw(st.integers(1, 3)))}
    preds = [feature_pred(draw, n, f) for n, f in feats.items()]
    preds += [field_pred(draw) for _ in range(draw(st.integers(0, 2)))]
    shape = draw(st.integers(0, 3))
    cond: dict[str, Any]
    if shape == 0 or len(preds) == 1:
        cond = {"all": preds}
    elif shape == 1:
        cond = {"any": preds}
    elif shape == 2:
        cond = {"all": [preds[0], {"not": {"any": preds[1:]}}]}
    else:
        cond = {"any": [{"not": preds[0]}, {"all": preds[1:]}]}
    return {
        "id": f"R-{index}",
        "version": 1,
        "status": "live",
        "typology": "structuring",
        "when": draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True)),
        "features": feats,
        "if": cond,
        "action": "review",
        "score": 10,
    }


@st.composite
def rule_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(rule(i)) for i in range(draw(st.integers(1, 3)))]


Scenario = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (rule documents, rows)


@st.composite
def scenarios(draw: st.DrawFn, max_size: int = 30) -> Scenario:
    """A rule set and a stream whose boundary steps are the windows those rules use, so
    that rows land exactly one window apart for the features that read them."""
    docs = draw(rule_sets())
    used = sorted(
        {_WINDOW_US[f["window"]] for d in docs for f in d["features"].values() if "window" in f}
    )
    return docs, draw(rows(max_size, used or None))

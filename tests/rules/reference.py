"""A brute-force reading of docs/rules.md: for each row, scan every earlier row.

Slow and obvious on purpose, and sharing no code with the engines except the typed model,
so that both engines are checked against the spec rather than against each other.
"""

from __future__ import annotations

from typing import Any

from riskops.rules.definition import UNITS_US, All, AnyOf, Cond, Feature, Not, Pred, Ref, Rule
from riskops.rules.lists import ListStore

_CMP = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def truth(cond: Cond, row: dict[str, Any], feats: dict[str, Any], lists: ListStore) -> bool | None:
    if isinstance(cond, All):
        vals = [truth(c, row, feats, lists) for c in cond.parts]
        return False if False in vals else (None if None in vals else True)
    if isinstance(cond, AnyOf):
        vals = [truth(c, row, feats, lists) for c in cond.parts]
        return True if True in vals else (None if None in vals else False)
    if isinstance(cond, Not):
        v = truth(cond.part, row, feats, lists)
        return None if v is None else not v
    assert isinstance(cond, Pred)

    def val(kind: str, name: str) -> Any:
        return row[name] if kind == "field" else feats[name]

    a = val(cond.kind, cond.name)
    if cond.op == "is_null":
        return (a is None) == cond.value
    if cond.op == "not_null":
        return (a is not None) == cond.value
    if a is None:
        return None
    if cond.op in ("in", "not_in"):
        return (a in cond.value) == (cond.op == "in")
    if cond.op in ("in_list", "not_in_list"):
        return (a in lists.get(cond.value)) == (cond.op == "in_list")
    b = val(cond.value.kind, cond.value.name) if isinstance(cond.value, Ref) else cond.value
    if b is None:
        return None
    return bool(_CMP[cond.op](a, b))


def clock(rows: list[dict[str, Any]], i: int, by: str) -> int:
    """ts_ns of row i on the key ``by`` (rows are in processing order)."""
    r = rows[i]
    rank = sum(1 for p in rows[:i] if p[by] == r[by] and p["ts_us"] == r["ts_us"])
    return int(r["ts_us"]) * 1000 + rank


def feature_value(f: Feature, rows: list[dict[str, Any]], i: int, lists: ListStore) -> Any:
    e = rows[i]
    if e[f.by] is None:
        return None
    now = clock(rows, i, f.by)

    def passes(j: int) -> bool:
        p = rows[j]
        if p[f.by] != e[f.by]:
            return False
        if f.since_type is not None and p["type"] != f.since_type:
            return False
        return f.where is None or truth(f.where, p, {}, lists) is True

    earlier = [j for j in range(i) if passes(j)]
    if f.kind == "first_seen":
        v = e[f.field or ""]
        return None if v is None else all(rows[j][f.field or ""] != v for j in earlier)
    if f.kind == "since":
        return (
            None
            if not earlier
            else float(e["ts_us"] - rows[earlier[-1]]["ts_us"]) / UNITS_US[f.unit or "minutes"]
        )
    if f.kind == "last":
        vals = [rows[j][f.field or ""] for j in earlier if rows[j][f.field or ""] is not None]
        return vals[-1] if vals else None
    in_window = [
        j
        for j in [*earlier, i]
        if (j < i or passes(i)) and now - f.window_ns < clock(rows, j, f.by) <= now
    ]
    if f.kind == "count":
        return len(in_window)
    if f.kind == "baseline_ratio":
        v = e[f.field or ""]
        vals = [rows[j][f.field or ""] for j in in_window if j < i]
        vals = [x for x in vals if x is not None]
        if v is None or len(vals) < f.min_count or sum(vals) == 0:
            return None
        return float(v) / (float(sum(vals)) / len(vals))
    vals = [rows[j][f.field or ""] for j in in_window]
    vals = [x for x in vals if x is not None]
    if f.kind == "sum":
        return sum(vals)
    if f.kind == "avg":
        return float(sum(vals)) / len(vals) if vals else None
    if f.kind == "max":
        return max(vals) if vals else None
    if f.kind == "min":
        return min(vals) if vals else None
    assert f.kind == "count_distinct"
    return len(set(vals))


def reference(
    rules: list[Rule], lists: ListStore, rows: list[dict[str, Any]]
) -> tuple[set[tuple[int, int, str]], list[list[Any]]]:
    """Hits as (seq, row, rule id) and the distinct features' values per row."""
    order: list[Feature] = []
    for rule in rules:
        for f in rule.features.values():
            if f not in order:
                order.append(f)
    hits: set[tuple[int, int, str]] = set()
    values: list[list[Any]] = []
    for i, r in enumerate(rows):
        values.append([feature_value(f, rows, i, lists) for f in order])
        for rule in rules:
            if r["type"] not in rule.when:
                continue
            feats = {name: feature_value(f, rows, i, lists) for name, f in rule.features.items()}
            if truth(rule.cond, r, feats, lists) is True:
                hits.add((r["seq"], r["row"], rule.id))
    return hits, values

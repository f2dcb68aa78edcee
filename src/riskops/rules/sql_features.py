"""Features in SQL: the window expressions and how they are grouped to run fast.

A window expression costs DuckDB time in proportion to the rows it runs over, so each
feature runs only over the rows that matter to it: rows whose key is not null (a null key
takes no part, docs/rules.md), and, when its ``where`` pins the event types, only rows of
those types plus the types of the rules that read it. Rows outside that set cannot change
its value (they fail ``where``) and nobody reads its value on them. Features with the same
key and the same row set share one sub-query (one sort); the results are joined back to the
rows being evaluated by a row id. The tie-broken clock of a key is computed before any
filtering, over every row of the key, because the tie rank counts rows of all types.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskops.rules.lists import ListStore
from riskops.rules.model import UNITS_US, Feature, feature_types
from riskops.rules.sql_cond import cond_sql, literal, q

RID = q("__rid")


class _Entry:
    def __init__(self, feature: Feature, index: int) -> None:
        self.feature = feature
        self.index = index
        self.value_types: set[str] = set()
        self.raw: list[str] = []
        self.final = ""


class FeaturePlan:
    """Distinct features of a rule set and the CTEs that compute them."""

    def __init__(self, lists: ListStore, *, prune: bool = True) -> None:
        self.lists = lists
        self.prune = prune
        self.entries: dict[bytes, _Entry] = {}

    def add(self, feature: Feature, when: Iterable[str]) -> str:
        """Register a feature read by a rule evaluated on ``when``; returns its column."""
        ident = feature.identity()
        entry = self.entries.get(ident)
        if entry is None:
            entry = self.entries[ident] = _Entry(feature, len(self.entries))
        entry.value_types.update(when)
        return f"f{entry.index}"

    def features(self) -> list[Feature]:
        return [e.feature for e in self.entries.values()]

    def _rows(self, entry: _Entry) -> frozenset[str] | None:
        """Event types whose rows this feature needs (None: all)."""
        updates = feature_types(entry.feature)
        if not self.prune or updates is None:
            return None
        return frozenset(updates | entry.value_types)

    def _expressions(self, e: _Entry, clocked: bool) -> None:
        """Fill ``e.raw``/``e.final``. On a clocked key every window orders by the clock
        (the processing order within a key), so the features of a group share one sort."""
        f, i = e.feature, e.index
        by = q(f.by)
        k = q("__k") if clocked else f"{q('ts_us')}, {q('seq')}, {q('row')}"
        where = cond_sql(f.where, {}, self.lists) if f.where is not None else None
        flt = f" FILTER (WHERE {where})" if where else ""
        col = q(f.field) if f.field else ""
        part = f"PARTITION BY {by} ORDER BY {k}"
        window = f"OVER ({part} RANGE BETWEEN {f.window_ns - 1} PRECEDING AND CURRENT ROW)"
        earlier_rows = f"OVER ({part} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        a, b = q(f"__a{i}"), q(f"__b{i}")
        value: str
        if f.kind == "count":
            e.raw.append(f"count(*){flt} {window} AS {a}")
            value = a
        elif f.kind == "sum":
            e.raw.append(f"sum({col}){flt} {window} AS {a}")
            value = f"CAST(COALESCE({a}, 0) AS BIGINT)"
        elif f.kind == "avg":
            e.raw.append(f"sum({col}){flt} {window} AS {a}")
            e.raw.append(f"count({col}){flt} {window} AS {b}")
            value = f"(CASE WHEN {b} > 0 THEN CAST({a} AS DOUBLE) / {b} END)"
        elif f.kind in ("max", "min"):
            e.raw.append(f"{f.kind}({col}){flt} {window} AS {a}")
            value = a
        elif f.kind == "count_distinct":
            e.raw.append(f"count(DISTINCT {col}){flt} {window} AS {a}")
            value = a
        elif f.kind == "first_seen":
            e.raw.append(
                f"count(*){flt} OVER (PARTITION BY {by}, {col} ORDER BY {k} "
                f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS {a}"
            )
            value = f"(CASE WHEN {col} IS NOT NULL THEN {a} = 0 END)"
        elif f.kind == "since":
            own = f"{q('type')} = {literal(f.since_type)}"
            cond = f"{own} AND {where}" if where else own
            e.raw.append(f"max({q('ts_us')}) FILTER (WHERE {cond}) {earlier_rows} AS {a}")
            unit = literal(UNITS_US[f.unit or "minutes"])
            value = f"(CAST({q('ts_us')} - {a} AS DOUBLE) / {unit})"
        elif f.kind == "last":
            pick = f"CASE WHEN {where} THEN {col} END" if where else col
            e.raw.append(f"last_value({pick} IGNORE NULLS) {earlier_rows} AS {a}")
            value = a
        else:  # baseline_ratio: this row's value over the mean of the earlier window rows
            earlier = f"OVER ({part} RANGE BETWEEN {f.window_ns - 1} PRECEDING AND 1 PRECEDING)"
            e.raw.append(f"sum({col}){flt} {earlier} AS {a}")
            e.raw.append(f"count({col}){flt} {earlier} AS {b}")
            value = (
                f"(CASE WHEN {col} IS NULL OR {b} < {f.min_count} OR {a} = 0 THEN NULL "
                f"ELSE CAST({col} AS DOUBLE) / (CAST({a} AS DOUBLE) / {b}) END)"
            )
        # A row whose key is null takes no part in the key's features.
        e.final = f"CASE WHEN {by} IS NOT NULL THEN {value} END AS {q(f'f{i}')}"

    def ctes(self, columns: list[str], eval_types: Iterable[str] | None) -> str:
        """CTEs ending in ``feat``: the base columns of the rows of ``eval_types`` (all if
        None) plus every feature ``f<i>``. ``flat`` must be unique on (seq, row)."""
        cols = ", ".join(q(c) for c in columns)
        out = [f'base AS MATERIALIZED (SELECT {cols}, seq * 2 + "row" AS {RID} FROM flat)']
        groups: dict[tuple[str, frozenset[str] | None], list[_Entry]] = {}
        for entry in self.entries.values():
            groups.setdefault((entry.feature.by, self._rows(entry)), []).append(entry)
        keys = sorted({by for by, _types in groups})
        clocked_keys = {e.feature.by for e in self.entries.values() if e.feature.window_s}
        for entry in self.entries.values():
            self._expressions(entry, entry.feature.by in clocked_keys)
        for by in keys:
            keyed = f"SELECT * FROM base WHERE {q(by)} IS NOT NULL"
            if by in clocked_keys:
                keyed = _clock_sql(by)
            # A clock is a sort: compute it once; a bare filter of base is cheap to repeat.
            hint = "MATERIALIZED " if by in clocked_keys else ""
            out.append(f"{q('c_' + by)} AS {hint}({keyed})")
        joins = []
        for j, ((by, types), entries) in enumerate(sorted(groups.items(), key=_group_order)):
            raw = ", ".join(r for e in entries for r in e.raw)
            filt = ""
            if types is not None:
                filt = f" WHERE {q('type')} IN ({', '.join(literal(t) for t in sorted(types))})"
            out.append(f"g{j} AS (SELECT {RID}, {raw} FROM {q('c_' + by)}{filt})")
            joins.append(f"LEFT JOIN g{j} USING ({RID})")
        ev_filter = ""
        if eval_types is not None:
            ev_filter = (
                f" WHERE {q('type')} IN ({', '.join(literal(t) for t in sorted(eval_types))})"
            )
        out.append(f"ev AS (SELECT * FROM base{ev_filter})")
        finals = "".join(f", {e.final}" for e in self.entries.values())
        out.append(f"feat AS MATERIALIZED (SELECT ev.*{finals} FROM ev {' '.join(joins)})")
        return ",\n".join(out)


def _clock_sql(by: str) -> str:
    """The rows of a non-null key with their tie-broken clock ``__k``. Most (key, ts_us)
    pairs are unique, so ranks are computed (a sort) only for the rows of repeated pairs,
    found by a hash aggregate; the rest have rank 0."""
    key = q(by)
    repeated = (
        f"SELECT {key}, ts_us FROM base WHERE {key} IS NOT NULL "
        f"GROUP BY {key}, ts_us HAVING count(*) > 1"
    )
    ranked = (
        f"SELECT {RID}, row_number() OVER (PARTITION BY {key}, ts_us "
        f'ORDER BY seq, "row") - 1 AS __rank FROM base SEMI JOIN ({repeated}) AS r '
        f"USING ({key}, ts_us)"
    )
    return (
        f"SELECT b.*, b.ts_us * 1000 + COALESCE(t.__rank, 0) AS {q('__k')} "
        f"FROM base AS b LEFT JOIN ({ranked}) AS t USING ({RID}) "
        f"WHERE b.{key} IS NOT NULL"
    )


def _group_order(item: tuple[tuple[str, frozenset[str] | None], list[_Entry]]) -> tuple[str, str]:
    (by, types), _entries = item
    return by, ",".join(sorted(types)) if types is not None else ""

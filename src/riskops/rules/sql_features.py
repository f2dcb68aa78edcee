"""Features in SQL: the window expressions and how they are grouped to run fast.

A window expression costs DuckDB time in proportion to the rows it runs over, so each
feature runs only over the rows that matter to it (ADR 0011): rows whose key is not null (a
null key takes no part, docs/rules.md) and either can change it (its ``where`` holds; every
row if it has none) or are read by a rule (of the rule's types, where the parts of its
condition that read no feature hold). Other rows cannot change its value and nobody reads
it on them. Features with the same key and the same row set share one sub-query (one
sort); after the windows, a group keeps only the rows its values are read on.

Joining the values back to the rows being evaluated is a hash join per group, so it is
kept small on both sides: an ``Evaluation`` (the rows of one event type that some rule may
hit) joins only the groups it reads, and every intermediate carries only the columns read
after it.

Windows over a period order a key's rows by its tie-broken clock ``ts_us * 1000 + rank``
(ADR 0003). The rank counts rows of all types, so it is computed before any filtering, and
only at times that more than one row shares (rare; every other row has rank 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from riskops.rules.definition import UNITS_US, Cond, Feature, feature_types
from riskops.rules.lists import ListStore
from riskops.rules.sql_cond import cond_sql, fields, literal, q

RID = q("__rid")
CLOCK = q("__k")
_ORDER = ("ts_us", "seq", "row")  # the processing order; on a clocked key, __k


class Evaluation(NamedTuple):
    """A CTE of rows to evaluate: the base rows passing ``rows`` (SQL; None: all), with
    ``__rid``, the flat columns ``fields`` and the feature columns ``features``."""

    name: str
    rows: str | None
    fields: Iterable[str]
    features: Sequence[str]


class Rows(NamedTuple):
    """The rows of some event types (None: any) where every condition (SQL) is true."""

    types: frozenset[str] | None
    conds: frozenset[str] = frozenset()

    def covers(self, other: Rows) -> bool:
        wider = self.types is None or (other.types is not None and other.types <= self.types)
        return wider and self.conds <= other.conds


def rows_sql(alternatives: Iterable[Rows]) -> str | None:
    """A WHERE condition admitting the rows of any of ``alternatives`` (None: every row).
    Filters only keep rows where a condition is true, so no COALESCE is needed."""
    merged: dict[frozenset[str], set[str] | None] = {}
    for alt in alternatives:  # one type list per set of conditions
        types = merged.setdefault(alt.conds, set())
        if types is None or alt.types is None:
            merged[alt.conds] = None
        else:
            types.update(alt.types)
    alts = [Rows(None if t is None else frozenset(t), c) for c, t in merged.items()]
    kept = [a for a in alts if not any(b != a and b.covers(a) for b in alts)]
    parts: list[str] = []
    for a in sorted(kept, key=lambda a: (sorted(a.types or ()), sorted(a.conds))):
        terms = ([type_filter(a.types)] if a.types is not None else []) + sorted(a.conds)
        if not terms:
            return None
        parts.append(" AND ".join(terms))
    return " OR ".join(f"({p})" for p in parts)


class _Entry:
    def __init__(self, feature: Feature, index: int) -> None:
        self.feature = feature
        self.index = index
        self.readers: set[Rows] = set()  # the rows its value is read on
        self.reads: set[str] = {feature.by, "type", *_ORDER, *fields(feature.where)}
        if feature.field:
            self.reads.add(feature.field)
        self.raw: list[tuple[str, str]] = []  # (window expression, alias)
        self.final = ""
        self.final_reads: set[str] = set()

    @property
    def column(self) -> str:
        return f"f{self.index}"


class FeaturePlan:
    """Distinct features of a rule set and the CTEs that compute them. With ``prune`` off,
    every feature is computed on every row (for parity checks)."""

    def __init__(self, lists: ListStore, *, prune: bool = True) -> None:
        self.lists = lists
        self.prune = prune
        self.entries: dict[bytes, _Entry] = {}

    def add(self, feature: Feature, when: Iterable[str], rows: Sequence[Cond] = ()) -> str:
        """Register a feature read by a rule on the types ``when``, on the rows where all of
        ``rows`` hold (conditions over flat columns); returns its column."""
        ident = feature.identity()
        entry = self.entries.get(ident)
        if entry is None:
            entry = self.entries[ident] = _Entry(feature, len(self.entries))
        conds = frozenset(cond_sql(c, {}, self.lists) for c in rows)
        entry.readers.add(Rows(frozenset(when), conds))
        for cond in rows:
            entry.reads.update(fields(cond))
        return entry.column

    def features(self) -> list[Feature]:
        return [e.feature for e in self.entries.values()]

    def columns(self) -> list[str]:
        return [e.column for e in self.entries.values()]

    def _rows(self, entry: _Entry) -> str | None:
        """A WHERE condition for the rows this feature needs (None: every row of its key):
        those that can change it and those it is read on."""
        f = entry.feature
        if not self.prune:
            return None
        conds = [cond_sql(f.where, {}, self.lists)] if f.where is not None else []
        updates = Rows(feature_types(f), frozenset(conds))
        return rows_sql([updates, *entry.readers])

    def _expressions(self, e: _Entry, clocked: bool) -> None:
        """Fill ``e.raw``/``e.final``. On a clocked key every window orders by the clock
        (the processing order within a key), so the features of a group share one sort."""
        f, i = e.feature, e.index
        by = q(f.by)
        k = CLOCK if clocked else ", ".join(q(c) for c in _ORDER)
        where = cond_sql(f.where, {}, self.lists) if f.where is not None else None
        flt = f" FILTER (WHERE {where})" if where else ""
        col = q(f.field) if f.field else ""
        part = f"PARTITION BY {by} ORDER BY {k}"
        window = f"OVER ({part} RANGE BETWEEN {f.window_ns - 1} PRECEDING AND CURRENT ROW)"
        earlier_rows = f"OVER ({part} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        a, b = q(f"__a{i}"), q(f"__b{i}")
        value: str
        if f.kind == "count":
            e.raw.append((f"count(*){flt} {window}", a))
            value = a
        elif f.kind == "sum":
            e.raw.append((f"sum({col}){flt} {window}", a))
            value = f"CAST(COALESCE({a}, 0) AS BIGINT)"
        elif f.kind == "avg":
            e.raw.append((f"sum({col}){flt} {window}", a))
            e.raw.append((f"count({col}){flt} {window}", b))
            value = f"(CASE WHEN {b} > 0 THEN CAST({a} AS DOUBLE) / {b} END)"
        elif f.kind in ("max", "min"):
            e.raw.append((f"{f.kind}({col}){flt} {window}", a))
            value = a
        elif f.kind == "count_distinct":
            e.raw.append((f"count(DISTINCT {col}){flt} {window}", a))
            value = a
        elif f.kind == "first_seen":
            first = (
                f"count(*){flt} OVER (PARTITION BY {by}, {col} ORDER BY {k} "
                "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
            )
            e.raw.append((first, a))
            value = f"(CASE WHEN {col} IS NOT NULL THEN {a} = 0 END)"
        elif f.kind == "since":
            own = f"{q('type')} = {literal(f.since_type)}"
            cond = f"{own} AND {where}" if where else own
            e.raw.append((f"max({q('ts_us')}) FILTER (WHERE {cond}) {earlier_rows}", a))
            unit = literal(UNITS_US[f.unit or "minutes"])
            value = f"(CAST({q('ts_us')} - {a} AS DOUBLE) / {unit})"
        elif f.kind == "last":
            pick = f"CASE WHEN {where} THEN {col} END" if where else col
            e.raw.append((f"last_value({pick} IGNORE NULLS) {earlier_rows}", a))
            value = a
        else:  # baseline_ratio: this row's value over the mean of the earlier window rows
            earlier = f"OVER ({part} RANGE BETWEEN {f.window_ns - 1} PRECEDING AND 1 PRECEDING)"
            e.raw.append((f"sum({col}){flt} {earlier}", a))
            e.raw.append((f"count({col}){flt} {earlier}", b))
            value = (
                f"(CASE WHEN {col} IS NULL OR {b} < {f.min_count} OR {a} = 0 THEN NULL "
                f"ELSE CAST({col} AS DOUBLE) / (CAST({a} AS DOUBLE) / {b}) END)"
            )
        # A row whose key is null takes no part in the key's features.
        e.final = f"CASE WHEN {by} IS NOT NULL THEN {value} END AS {q(e.column)}"
        e.final_reads = {f.by, "ts_us", *([f.field] if f.field else [])}

    def ctes(self, columns: list[str], evaluations: Sequence[Evaluation]) -> str:
        """CTEs ending in the ``evaluations``. ``flat`` must be unique on (seq, row);
        ``columns`` are the flat columns anything reads."""
        cols = ", ".join(q(c) for c in columns)
        out = [f'base AS MATERIALIZED (SELECT {cols}, seq * 2 + "row" AS {RID} FROM flat)']
        groups: dict[tuple[str, str | None], list[_Entry]] = {}
        for entry in self.entries.values():
            groups.setdefault((entry.feature.by, self._rows(entry)), []).append(entry)
        clocked_keys = {e.feature.by for e in self.entries.values() if e.feature.window_s}
        for entry in self.entries.values():
            self._expressions(entry, entry.feature.by in clocked_keys)
        if clocked_keys:
            out.append(f"ties AS MATERIALIZED ({_TIES})")
        out.extend(
            f"{q('r_' + by)} AS MATERIALIZED ({_ranks_sql(by)})" for by in sorted(clocked_keys)
        )
        group_of: dict[str, str] = {}
        for j, ((by, rows), entries) in enumerate(sorted(groups.items(), key=_group_order)):
            sql = self._group_sql(by, rows, entries, by in clocked_keys)
            out.append(f"g{j} AS MATERIALIZED ({sql})")
            group_of.update((e.column, f"g{j}") for e in entries)
        by_column = {e.column: e for e in self.entries.values()}
        for ev in evaluations:
            entries = [by_column[c] for c in ev.features]
            reads = {"__rid", *ev.fields, *(c for e in entries for c in e.final_reads)}
            rows = f" WHERE {ev.rows}" if ev.rows is not None else ""
            joined = sorted({group_of[e.column] for e in entries}, key=lambda g: int(g[1:]))
            joins = "".join(f" LEFT JOIN {g} USING ({RID})" for g in joined)
            values = "".join(f", {e.final}" for e in entries)
            out.append(
                f"{ev.name} AS MATERIALIZED (SELECT ev.*{values} "
                f"FROM (SELECT {_select(reads)} FROM base{rows}) AS ev{joins})"
            )
        return ",\n".join(out)

    def _group_sql(self, by: str, rows: str | None, entries: list[_Entry], clocked: bool) -> str:
        """The windows of one group over its rows, keeping the rows its values are read on."""
        raw = ", ".join(f"{expr} AS {name}" for e in entries for expr, name in e.raw)
        reads = {RID, *(q(c) for e in entries for c in e.reads)}
        keyed = f"{q(by)} IS NOT NULL" + (f" AND ({rows})" if rows is not None else "")
        source = f"(SELECT {', '.join(sorted(reads))} FROM base WHERE {keyed})"
        if clocked:
            clock = f"ts_us * 1000 + COALESCE(__rank, 0) AS {CLOCK}"
            source = f"(SELECT *, {clock} FROM {source} LEFT JOIN {q('r_' + by)} USING ({RID}))"
        if not self.prune:
            return f"SELECT {RID}, {raw} FROM {source}"
        # Filter after the windows, so that every row of the group still counts in them.
        names = ", ".join(name for e in entries for _expr, name in e.raw)
        readers = rows_sql(r for e in entries for r in e.readers)
        keep = f" WHERE {readers}" if readers is not None else ""
        return f"SELECT {RID}, {names} FROM (SELECT *, {raw} FROM {source}){keep}"


def type_filter(types: Iterable[str]) -> str:
    """SQL: the row's event type is one of ``types``."""
    return f"{q('type')} IN ({', '.join(literal(t) for t in sorted(types))})"


def _select(columns: Iterable[str]) -> str:
    return ", ".join(q(c) for c in sorted(columns))


# Times that more than one row shares: ties are rare, so ranks are computed (a sort) only
# for the rows at these times.
_TIES = "SELECT ts_us FROM base GROUP BY ts_us HAVING count(*) > 1"


def _ranks_sql(by: str) -> str:
    """The tie rank ``__rank`` of the rows of a key at a time some other row shares (the
    others have rank 0): the clock of a row is ``ts_us * 1000 + rank``."""
    key = q(by)
    return (
        f"SELECT {RID}, row_number() OVER (PARTITION BY {key}, ts_us "
        f'ORDER BY seq, "row") - 1 AS __rank FROM base SEMI JOIN ties USING (ts_us) '
        f"WHERE {key} IS NOT NULL"
    )


def _group_order(item: tuple[tuple[str, str | None], list[_Entry]]) -> tuple[str, str]:
    (by, rows), _entries = item
    return by, rows or ""

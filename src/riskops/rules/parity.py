"""Run both engines on the same rows and report where they differ.

The contract (docs/rules.md) is that the streaming evaluator and the SQL compiler agree row
for row on rows in time order. ``parity_check`` is what the tests, and anyone changing
either engine, use to hold them to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import pyarrow as pa

from riskops.events.flat import FLAT_COLUMNS, FLAT_SCHEMA
from riskops.kernel import duck
from riskops.rules.definition import Rule
from riskops.rules.lists import ListStore
from riskops.rules.sql import compile_features, compile_rules
from riskops.rules.stream import StreamEvaluator


class Mismatch(msgspec.Struct, frozen=True):
    """One difference: a hit only one engine found, or a feature value that differs."""

    seq: int
    row: int
    event_id: str | None
    what: str  # "hit" | "feature"
    name: str  # rule id, or feature index as "f<i>"
    stream: Any
    sql: Any


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows (every column present) in processing order (ts_us, seq, row)."""
    full = [{c: r.get(c) for c in FLAT_COLUMNS} for r in rows]
    return sorted(full, key=lambda r: (r["ts_us"], r["seq"], r["row"]))


def run_sql(sql: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    con = duck.connect(2)
    try:
        con.register("flat", pa.Table.from_pylist(rows, schema=FLAT_SCHEMA))
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b) if isinstance(a, bool) or isinstance(b, bool) else a == b


def parity_check(
    rules: Sequence[Rule],
    lists: ListStore | None,
    flat_rows: Iterable[dict[str, Any]],
    *,
    features: bool = False,
) -> list[Mismatch]:
    """Differences between the streaming and the SQL engine on the same sorted rows.

    Every rule runs whatever its status (as in a backtest). With ``features=True`` the
    value of every distinct feature on every row is compared too.
    """
    rows = sort_rows(flat_rows)
    evaluator = StreamEvaluator(rules, lists, include_drafts=True)
    stream_hits: set[tuple[int, int, str]] = set()
    stream_values: list[list[Any]] = []
    for r in rows:
        result = evaluator.process(r)
        stream_hits.update((r["seq"], r["row"], h.rule_id) for h in result.hits)
        if features:
            stream_values.append(evaluator.feature_values())
    sql_hits = {
        (s, w, rid) for rid, _v, _e, w, _a, _sr, s, _t in run_sql(compile_rules(rules, lists), rows)
    }
    by_pos = {(r["seq"], r["row"]): r for r in rows}
    out = [
        Mismatch(
            s,
            w,
            by_pos[(s, w)]["event_id"],
            "hit",
            rid,
            (s, w, rid) in stream_hits,
            (s, w, rid) in sql_hits,
        )
        for s, w, rid in sorted(stream_hits ^ sql_hits)
    ]
    if features:
        sql, _order = compile_features(rules, lists)
        for r, got, want in zip(rows, run_sql(sql, rows), stream_values, strict=True):
            for i, (a, b) in enumerate(zip(want, got[2:], strict=True)):
                if not _same(a, b):
                    out.append(
                        Mismatch(r["seq"], r["row"], r["event_id"], "feature", f"f{i}", a, b)
                    )
    return out

"""Small builders for hand-made flat rows and rules."""

from __future__ import annotations

from typing import Any

from riskops.events.flat import FLAT_COLUMNS
from riskops.rules.definition import Rule, parse_rules
from riskops.rules.lists import ListStore
from riskops.rules.stream import StreamEvaluator

S = 1_000_000  # one second in microseconds
T0 = 1_700_000_000 * S


def row(seq: int, type_: str, t: float, **fields: Any) -> dict[str, Any]:
    """A flat row at ``T0 + t`` seconds; account ``a`` unless given."""
    r: dict[str, Any] = dict.fromkeys(FLAT_COLUMNS)
    r.update(
        seq=seq,
        row=0,
        event_id=f"e{seq}",
        type=type_,
        account_id="a",
        ts_us=T0 + round(t * S),
        source_row=seq,
    )
    r.update(fields)
    return r


def rule(
    when: list[str], cond: dict[str, Any], features: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    doc = {
        "id": extra.pop("id", "R-1"),
        "version": 1,
        "status": "live",
        "typology": "structuring",
        "when": when,
        "features": features or {},
        "if": cond,
        "action": "review",
        "score": 10,
    }
    doc.update(extra)
    return doc


def feature_stream(
    feature: dict[str, Any], rows: list[dict[str, Any]], lists: ListStore | None = None
) -> list[Any]:
    """The value of one feature on each row, from the streaming engine."""
    rules: list[Rule] = parse_rules(
        [rule(["login"], {"feature": "x", "is_null": False}, {"x": feature})]
    )
    ev = StreamEvaluator(rules, lists)
    out = []
    for r in rows:
        ev.process(r)
        out.append(ev.feature_values()[0])
    return out

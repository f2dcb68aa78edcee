"""Rule conditions to SQL. SQL's three-valued logic is the one docs/rules.md prescribes,
so the translation is direct; only empty lists need care (``x IN ()`` is not SQL).
"""

from __future__ import annotations

import math
from typing import Any

from riskops.rules.definition import All, AnyOf, Cond, Not, Pred, Ref, walk
from riskops.rules.lists import ListStore

_CMP = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def q(name: str) -> str:
    """A quoted identifier (``row`` and ``type`` are keywords)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value) if math.isfinite(value) else str(value)
        return f"CAST('{text}' AS DOUBLE)"  # not a DECIMAL literal: compare as doubles
    return "'" + str(value).replace("'", "''") + "'"


def fields(cond: Cond | None) -> set[str]:
    """The flat columns a condition reads."""
    out: set[str] = set()
    for p in walk(cond) if cond is not None else []:
        if p.kind == "field":
            out.add(p.name)
        if isinstance(p.value, Ref) and p.value.kind == "field":
            out.add(p.value.name)
    return out


def cond_sql(cond: Cond, features: dict[str, str], lists: ListStore) -> str:
    """SQL for a condition; ``features`` maps the rule's feature names to column names."""
    if isinstance(cond, All):
        return "(" + " AND ".join(cond_sql(c, features, lists) for c in cond.parts) + ")"
    if isinstance(cond, AnyOf):
        return "(" + " OR ".join(cond_sql(c, features, lists) for c in cond.parts) + ")"
    if isinstance(cond, Not):
        return f"(NOT {cond_sql(cond.part, features, lists)})"
    return _pred_sql(cond, features, lists)


def _operand(kind: str, name: str, features: dict[str, str]) -> str:
    return q(name) if kind == "field" else q(features[name])


def _pred_sql(pred: Pred, features: dict[str, str], lists: ListStore) -> str:
    left = _operand(pred.kind, pred.name, features)
    op, value = pred.op, pred.value
    if op == "is_null":
        return f"({left} IS {'' if value else 'NOT '}NULL)"
    if op == "not_null":
        return f"({left} IS {'NOT ' if value else ''}NULL)"
    if op in ("in", "not_in", "in_list", "not_in_list"):
        values = sorted(lists.get(value)) if op.endswith("_list") else list(value)
        negate = op.startswith("not")
        if not values:  # x IN () is not SQL; it is false, or unknown for a null x
            return f"(CASE WHEN {left} IS NULL THEN NULL ELSE {'TRUE' if negate else 'FALSE'} END)"
        items = ", ".join(literal(v) for v in values)
        return f"({left} {'NOT ' if negate else ''}IN ({items}))"
    right = _operand(value.kind, value.name, features) if isinstance(value, Ref) else literal(value)
    return f"({left} {_CMP[op]} {right})"

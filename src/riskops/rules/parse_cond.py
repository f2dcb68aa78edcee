"""Parsing conditions: predicates, operators and the values they compare, type-checked.

Shared by rule conditions (which may read features) and feature ``where`` filters (which
may not). Problems are collected with their path; ``parse.py`` raises them together.
"""

from __future__ import annotations

from typing import Any

from riskops.events.flat import FLAT_FIELDS
from riskops.rules.definition import (
    All,
    AnyOf,
    Cond,
    Feature,
    Not,
    Pred,
    Ref,
    column_kind,
    feature_kind,
)

COMPARE_OPS = ("eq", "ne", "lt", "lte", "gt", "gte")
OPS = (*COMPARE_OPS, "in", "not_in", "in_list", "not_in_list", "is_null", "not_null")
_BAD = object()


def _literal_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return None


def _compatible(a: str, b: str) -> bool:
    numeric = {"int", "float"}
    return a == b or (a in numeric and b in numeric)


class CondParser:
    """Collects problems; parses condition trees."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.broken_features: set[str] = set()

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # --- conditions -------------------------------------------------------------------
    def operand_kind(
        self, kind: str, name: Any, path: str, features: dict[str, Feature] | None
    ) -> str | None:
        if kind == "field":
            if name not in FLAT_FIELDS:
                self.fail(path, f"unknown flat column {name!r}")
                return None
            return column_kind(name)
        if features is None:
            self.fail(path, "a where condition may only use fields, not features")
            return None
        if name not in features:
            if name not in self.broken_features:  # already reported where it is defined
                self.fail(path, f"unknown feature reference {name!r}")
            return None
        return feature_kind(features[name])

    def cond(self, obj: Any, path: str, features: dict[str, Feature] | None) -> Cond | None:
        if not isinstance(obj, dict):
            self.fail(path, f"a condition must be a mapping, got {type(obj).__name__}")
            return None
        if len(obj) == 1 and next(iter(obj)) in ("all", "any"):
            key = next(iter(obj))
            items = obj[key]
            if not isinstance(items, list) or not items:
                self.fail(f"{path}.{key}", "expected a non-empty list of conditions")
                return None
            parts = [self.cond(c, f"{path}.{key}[{i}]", features) for i, c in enumerate(items)]
            done = tuple(p for p in parts if p is not None)
            return (All if key == "all" else AnyOf)(done) if len(done) == len(parts) else None
        if len(obj) == 1 and "not" in obj:
            part = self.cond(obj["not"], f"{path}.not", features)
            return Not(part) if part is not None else None
        if len(obj) == 1:
            # The shorthand of the spec's own example: {change: {in: [...]}} is
            # {field: change, in: [...]}.
            name, body = next(iter(obj.items()))
            if name in FLAT_FIELDS and isinstance(body, dict) and len(body) == 1:
                return self.pred({"field": name, **body}, path, features)
        return self.pred(obj, path, features)

    def pred(
        self, obj: dict[str, Any], path: str, features: dict[str, Feature] | None
    ) -> Pred | None:
        kinds = [k for k in ("field", "feature") if k in obj]
        if len(kinds) != 1:
            self.fail(
                path, "a predicate needs exactly one of 'field' or 'feature' (or use all/any/not)"
            )
            return None
        kind = kinds[0]
        name = obj[kind]
        ops = [k for k in obj if k != kind]
        for op in ops:
            if op not in OPS:
                self.fail(path, f"unknown operator {op!r}")
        if len(ops) != 1 or ops[0] not in OPS:
            if len(ops) != 1:
                self.fail(path, "a predicate needs exactly one operator")
            return None
        op, value = ops[0], obj[ops[0]]
        left = self.operand_kind(kind, name, path, features)
        value = self.pred_value(op, value, left, f"{path}.{op}", features)
        if left is None or value is _BAD:
            return None
        return Pred(kind, name, op, value)

    def pred_value(
        self, op: str, value: Any, left: str | None, path: str, features: dict[str, Feature] | None
    ) -> Any:
        if op in ("is_null", "not_null"):
            if not isinstance(value, bool):
                self.fail(path, "expected true or false")
                return _BAD
            return value
        if op in ("in_list", "not_in_list"):
            if not isinstance(value, str) or not value:
                self.fail(path, "expected the name of a list")
                return _BAD
            if left not in (None, "str"):
                self.fail(path, f"list membership needs a text value, not {left}")
                return _BAD
            return value
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.fail(path, "expected a non-empty list of values")
                return _BAD
            for item in value:
                if not self.check_literal(item, left, path):
                    return _BAD
            return tuple(value)
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in ("field", "feature"):
                self.fail(path, "a value reference is {field: NAME} or {feature: NAME}")
                return _BAD
            rkind, rname = next(iter(value.items()))
            right = self.operand_kind(rkind, rname, path, features)
            if right is None:
                return _BAD
            if left is not None and not _compatible(left, right):
                self.fail(path, f"cannot compare {left} with {right}")
                return _BAD
            return Ref(rkind, rname)
        return value if self.check_literal(value, left, path, op) else _BAD

    def check_literal(self, value: Any, left: str | None, path: str, op: str = "eq") -> bool:
        kind = _literal_kind(value)
        if kind is None:
            self.fail(path, f"expected a literal value, got {value!r} (use is_null for nulls)")
            return False
        if left is not None and not _compatible(left, kind):
            self.fail(path, f"cannot compare a {left} value with {value!r}")
            return False
        if kind == "bool" and op in ("lt", "lte", "gt", "gte"):
            self.fail(path, f"operator {op!r} does not apply to true/false")
            return False
        return True

    # --- features ---------------------------------------------------------------------

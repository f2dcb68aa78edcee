"""Condition trees to Python functions for the streaming engine (generated code).

A compiled condition is ``cond(row, get) -> True | False | None`` where ``get(i)`` returns
the value of feature ``i`` (computed on first use). Each ``all``/``any``/``not`` node
becomes one generated function with its predicates inlined, because a closure call per
tree node was the largest cost per row. ``all``/``any`` test cheap field predicates before
feature predicates and stop at the first deciding part, so features are only computed
when a row gets that far; the reordering is safe because three-valued ``and``/``or`` are
commutative. The generated code mirrors the operators' specification
(``tests/rules/operators_spec.py``), and the tests hold it to that, operator by operator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from riskops.rules.definition import All, Cond, Not, Pred, Ref
from riskops.rules.lists import ListStore
from riskops.rules.types import Truth

Getter = Callable[[int], Any]
Compiled = Callable[[dict[str, Any], Getter], Truth]
_PY_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def cost(cond: Cond) -> int:
    """A rough cost: feature predicates are dear, field predicates cheap."""
    if isinstance(cond, Pred):
        dear = cond.kind == "feature" or (
            isinstance(cond.value, Ref) and cond.value.kind == "feature"
        )
        return 10 if dear else 1
    if isinstance(cond, Not):
        return cost(cond.part)
    return sum(cost(c) for c in cond.parts)


class _Gen:
    def __init__(self, features: Mapping[str, int], lists: ListStore) -> None:
        self.features = features
        self.lists = lists
        self.consts: dict[str, Any] = {}
        self.funcs: list[str] = []

    def const(self, value: Any) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def operand(self, kind: str, name: str) -> str:
        if kind == "field":
            return f"row[{self.const(name)}]"
        return f"get({self.features[name]})"

    def pred(self, p: Pred, out: list[str], indent: str) -> None:
        """Lines setting ``v`` to the predicate's truth value."""
        out.append(f"{indent}a = {self.operand(p.kind, p.name)}")
        if p.op == "is_null":
            out.append(f"{indent}v = (a is None) == {p.value!r}")
            return
        if p.op == "not_null":
            out.append(f"{indent}v = (a is not None) == {p.value!r}")
            return
        if p.op in ("in", "not_in", "in_list", "not_in_list"):
            values = self.lists.get(p.value) if p.op.endswith("_list") else frozenset(p.value)
            test = f"a {'not in' if p.op.startswith('not') else 'in'} {self.const(values)}"
            out.append(f"{indent}v = None if a is None else {test}")
            return
        if isinstance(p.value, Ref):
            out.append(f"{indent}b = {self.operand(p.value.kind, p.value.name)}")
            out.append(f"{indent}v = None if a is None or b is None else a {_PY_OPS[p.op]} b")
            return
        out.append(f"{indent}v = None if a is None else a {_PY_OPS[p.op]} {self.const(p.value)}")

    def part(self, cond: Cond, out: list[str], indent: str) -> None:
        if isinstance(cond, Pred):
            self.pred(cond, out, indent)
        else:
            out.append(f"{indent}v = {self.node(cond)}(row, get)")

    def node(self, cond: Cond) -> str:
        """Generate a function for a composite node; returns its name."""
        name = f"_f{len(self.funcs)}"
        self.funcs.append("")  # reserve the slot: children get later numbers
        slot = len(self.funcs) - 1
        out = [f"def {name}(row, get):"]
        if isinstance(cond, Pred):
            self.pred(cond, out, "    ")
            out.append("    return v")
        elif isinstance(cond, Not):
            self.part(cond.part, out, "    ")
            out.append("    return None if v is None else not v")
        else:
            decisive = "False" if isinstance(cond, All) else "True"
            out.append("    u = False")
            for part in sorted(cond.parts, key=cost):
                self.part(part, out, "    ")
                out.append(f"    if v is {decisive}:")
                out.append(f"        return {decisive}")
                out.append("    if v is None:")
                out.append("        u = True")
            out.append(f"    return None if u else {'True' if decisive == 'False' else 'False'}")
        self.funcs[slot] = "\n".join(out)
        return name


def compile_cond(cond: Cond, features: Mapping[str, int], lists: ListStore) -> Compiled:
    """A function for ``cond``; ``features`` maps the rule's feature names to global indexes."""
    gen = _Gen(features, lists)
    entry = gen.node(cond)
    namespace: dict[str, Any] = dict(gen.consts)
    exec("\n\n".join(gen.funcs), namespace)
    compiled: Compiled = namespace[entry]
    return compiled

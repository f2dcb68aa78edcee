"""The typed rule model: conditions, features and rules, as immutable msgspec Structs.

Parsing (``parse.py``) turns YAML/JSON into these types after checking every name and
type, so the two engines (``stream``, ``sql``) can trust what they compile.
"""

from __future__ import annotations

from typing import Any, Union

import msgspec
import pyarrow as pa

from riskops.events.flat import FLAT_FIELDS
from riskops.rules.types import Action, RuleStatus


class Ref(msgspec.Struct, frozen=True, tag=True):
    """A value read from the row (``field``) or from one of the rule's features."""

    kind: str  # field | feature
    name: str


class Pred(msgspec.Struct, frozen=True, tag=True):
    """``{field|feature: name, op: value}``; the value is a literal, tuple, list name or Ref."""

    kind: str  # field | feature
    name: str
    op: str
    value: Any


class All(msgspec.Struct, frozen=True, tag=True):
    parts: tuple[Cond, ...]


class AnyOf(msgspec.Struct, frozen=True, tag=True):
    parts: tuple[Cond, ...]


class Not(msgspec.Struct, frozen=True, tag=True):
    part: Cond


Cond = Union[Pred, All, AnyOf, Not]  # noqa: UP007 - msgspec needs a runtime union

WINDOW_AGGS = ("count", "sum", "avg", "max", "min", "count_distinct")
EARLIER_KINDS = ("first_seen", "since", "last", "baseline_ratio")
UNITS_US = {"seconds": 1e6, "minutes": 60e6, "hours": 3600e6, "days": 86400e6}


class Feature(msgspec.Struct, frozen=True, tag=True):
    """A per-row computed value. Two features with equal fields are computed once."""

    kind: str  # one of WINDOW_AGGS or EARLIER_KINDS
    by: str = "account_id"
    field: str | None = None
    window_s: int | None = None
    where: Cond | None = None
    since_type: str | None = None
    unit: str | None = None
    min_count: int = 1

    @property
    def window_ns(self) -> int:
        return (self.window_s or 0) * 1_000_000_000

    def identity(self) -> bytes:
        """Canonical bytes: features with the same identity share state and SQL."""
        return msgspec.json.encode(self)


class Rule(msgspec.Struct, frozen=True):
    id: str
    version: int
    status: RuleStatus
    typology: str
    when: tuple[str, ...]
    features: dict[str, Feature]
    cond: Cond
    action: Action
    score: int
    name: str = ""
    description: str = ""
    red_flag: str = ""
    reason: str = ""


def column_kind(name: str) -> str:
    """int | float | str | bool for a flat column."""
    kind = FLAT_FIELDS[name]
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_boolean(kind):
        return "bool"
    return "str"


def feature_kind(feature: Feature) -> str:
    """The value kind of a feature (int | float | str | bool)."""
    if feature.kind in ("count", "count_distinct", "sum"):
        return "int"
    if feature.kind in ("avg", "since", "baseline_ratio"):
        return "float"
    if feature.kind == "first_seen":
        return "bool"
    assert feature.field is not None
    return column_kind(feature.field)


def walk(cond: Cond) -> list[Pred]:
    """Every predicate of a condition tree."""
    if isinstance(cond, Pred):
        return [cond]
    if isinstance(cond, Not):
        return walk(cond.part)
    return [p for part in cond.parts for p in walk(part)]


def pinned_types(cond: Cond | None) -> frozenset[str] | None:
    """Event types a condition can be true for, when it pins ``type``; None if it does not."""
    if cond is None:
        return None
    if isinstance(cond, Pred) and cond.kind == "field" and cond.name == "type":
        if cond.op == "eq" and not isinstance(cond.value, Ref):
            return frozenset([cond.value])
        if cond.op == "in":
            return frozenset(cond.value)
        return None
    if isinstance(cond, All):
        found = [p for p in (pinned_types(c) for c in cond.parts) if p is not None]
        if not found:
            return None
        out = found[0]
        for other in found[1:]:
            out = out & other
        return out
    if isinstance(cond, AnyOf):
        parts = [pinned_types(c) for c in cond.parts]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    return None


def feature_types(feature: Feature) -> frozenset[str] | None:
    """Event types whose rows can update a feature (None: any type)."""
    pinned = pinned_types(feature.where)
    if feature.since_type is not None:
        own = frozenset([feature.since_type])
        return own if pinned is None else own & pinned
    return pinned


def to_builtins(rule: Rule) -> dict[str, Any]:
    """A plain mapping of a rule (for logs and debugging; storage keeps the source body)."""
    out: dict[str, Any] = msgspec.to_builtins(rule)
    return out


def parse_rules(source: str | bytes | list[dict[str, Any]]) -> list[Rule]:
    """Rules from YAML/JSON text or mappings (see ``riskops.rules.parse``)."""
    from riskops.rules import parse

    return parse.parse_rules(source)


def load_rule_files(paths: Any) -> list[Rule]:
    """Rules from YAML/JSON files, checked as one set."""
    from riskops.rules import parse

    return parse.load_rule_files(paths)


def load_default_pack() -> list[Rule]:
    """The default rule pack (``riskops/rules/pack/*.yaml``); [] if none."""
    from riskops.rules import parse

    return parse.load_default_pack()

"""The operators' specification, as small pure functions in SQL's three-valued logic.

Each returns True, False or None (*unknown*). A comparison with a null operand is unknown;
``is_null``/``not_null`` never are. Production does not call these: the streaming engine
inlines the same logic into generated code (``riskops.rules.compile_py``) and the SQL
engine leaves it to the database. ``test_operators`` holds these to the spec and the
compiled code to these, operator by operator.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from riskops.rules.types import Truth

Operator = Callable[[Any, Any], Truth]


def eq(a: Any, b: Any) -> Truth:
    return None if a is None or b is None else a == b


def ne(a: Any, b: Any) -> Truth:
    return None if a is None or b is None else a != b


def lt(a: Any, b: Any) -> Truth:
    return None if a is None or b is None else a < b


def lte(a: Any, b: Any) -> Truth:
    return None if a is None or b is None else a <= b


def gt(a: Any, b: Any) -> Truth:
    return None if a is None or b is None else a > b


def gte(a: Any, b: Any) -> Truth:
    return None if a is None or b is None else a >= b


def in_(a: Any, values: Collection[Any]) -> Truth:
    """``a IN (...)`` over non-null literals: unknown only when ``a`` is null."""
    return None if a is None else a in values


def not_in(a: Any, values: Collection[Any]) -> Truth:
    return None if a is None else a not in values


def is_null(a: Any, flag: bool) -> Truth:
    return (a is None) == flag


def not_null(a: Any, flag: bool) -> Truth:
    return (a is not None) == flag


OPERATORS: dict[str, Operator] = {
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "lte": lte,
    "gt": gt,
    "gte": gte,
    "in": in_,
    "not_in": not_in,
    "in_list": in_,
    "not_in_list": not_in,
    "is_null": is_null,
    "not_null": not_null,
}


def and_(values: list[Truth]) -> Truth:
    """``all``: false if any part is false, else unknown if any is unknown, else true."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def or_(values: list[Truth]) -> Truth:
    """``any``: true if any part is true, else unknown if any is unknown, else false."""
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def not_(value: Truth) -> Truth:
    return None if value is None else not value

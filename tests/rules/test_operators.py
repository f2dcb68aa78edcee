"""Each operator is a pure function in three-valued logic."""

from __future__ import annotations

import pytest

from riskops.rules import operators as op


@pytest.mark.parametrize(
    ("fn", "a", "b", "want"),
    [
        (op.eq, 1, 1, True),
        (op.eq, 1, 2, False),
        (op.eq, None, 1, None),
        (op.eq, 1, None, None),
        (op.ne, 1, 2, True),
        (op.ne, "x", "x", False),
        (op.ne, None, "x", None),
        (op.lt, 1, 2, True),
        (op.lt, 2, 2, False),
        (op.lt, None, 2, None),
        (op.lte, 2, 2, True),
        (op.lte, 3, 2, False),
        (op.lte, 2, None, None),
        (op.gt, 3, 2, True),
        (op.gt, 2, 2, False),
        (op.gt, None, None, None),
        (op.gte, 2, 2, True),
        (op.gte, 1, 2.5, False),
        (op.gte, None, 0, None),
        (op.in_, "a", frozenset({"a", "b"}), True),
        (op.in_, "c", frozenset({"a"}), False),
        (op.in_, None, frozenset({"a"}), None),
        (op.in_, "a", frozenset(), False),
        (op.not_in, "c", frozenset({"a"}), True),
        (op.not_in, "a", frozenset({"a"}), False),
        (op.not_in, None, frozenset({"a"}), None),
        (op.is_null, None, True, True),
        (op.is_null, 0, True, False),
        (op.is_null, 0, False, True),
        (op.not_null, 0, True, True),
        (op.not_null, None, True, False),
        (op.not_null, None, False, True),
    ],
)
def test_operator(fn: op.Operator, a: object, b: object, want: bool | None) -> None:
    assert fn(a, b) is want


def test_every_operator_is_registered() -> None:
    assert set(op.OPERATORS) == {
        "eq",
        "ne",
        "lt",
        "lte",
        "gt",
        "gte",
        "in",
        "not_in",
        "in_list",
        "not_in_list",
        "is_null",
        "not_null",
    }


@pytest.mark.parametrize(
    ("values", "all_", "any_"),
    [
        ([True, True], True, True),
        ([True, False], False, True),
        ([True, None], None, True),
        ([False, None], False, None),
        ([None, None], None, None),
        ([False, False], False, False),
    ],
)
def test_and_or(values: list[bool | None], all_: bool | None, any_: bool | None) -> None:
    assert op.and_(values) is all_
    assert op.or_(values) is any_


def test_not() -> None:
    assert op.not_(True) is False
    assert op.not_(False) is True
    assert op.not_(None) is None

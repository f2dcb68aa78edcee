"""Each operator is a pure function in three-valued logic."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from riskops.rules.compile_py import compile_cond
from riskops.rules.definition import All, AnyOf, Cond, Not, Pred, Ref
from riskops.rules.lists import ListStore

from . import operators_spec as op


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


# --- the compiled code against the specification ---------------------------------------

_VALUES: list[object] = [None, 0, 1, 2, 2.5, "a", "b"]
_SETS = [frozenset(), frozenset({"a"}), frozenset({"a", "b"}), frozenset({1, 2})]
_LISTS = ListStore({"names": ["a", "b"]})


def _compiled(cond: Cond) -> Any:
    return compile_cond(cond, {"f": 0}, _LISTS)


def _truth_of(cond: Cond, a: object, b: object = None) -> Any:
    # Field "x" is the left operand; feature "f" the right one where the value is a Ref.
    return _compiled(cond)({"x": a}, lambda _i: b)


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "lte", "gt", "gte"])
def test_compiled_comparisons_are_the_specification(name: str) -> None:
    spec = op.OPERATORS[name]
    for a in _VALUES:
        for b in _VALUES:
            mixed = a is not None and b is not None and type(a) is not type(b)
            if mixed and not (isinstance(a, int | float) and isinstance(b, int | float)):
                continue  # the rule checker never compares a text with a number
            want = spec(a, b)
            if b is not None:  # a literal value (a null literal is not a rule)
                assert _truth_of(Pred("field", "x", name, b), a) is want, (a, name, b)
            by_ref = Pred("field", "x", name, Ref("feature", "f"))
            assert _truth_of(by_ref, a, b) is want, (a, name, "ref", b)


@pytest.mark.parametrize("name", ["in", "not_in"])
def test_compiled_membership_is_the_specification(name: str) -> None:
    for a in _VALUES:
        for values in _SETS:
            want = op.OPERATORS[name](a, values)
            assert _truth_of(Pred("field", "x", name, tuple(values)), a) is want


@pytest.mark.parametrize("name", ["in_list", "not_in_list"])
def test_compiled_list_membership_is_the_specification(name: str) -> None:
    for a in _VALUES:
        want = op.OPERATORS[name](a, _LISTS.get("names"))
        assert _truth_of(Pred("field", "x", name, "names"), a) is want


@pytest.mark.parametrize("name", ["is_null", "not_null"])
def test_compiled_null_tests_are_the_specification(name: str) -> None:
    for a in _VALUES:
        for flag in (True, False):
            assert _truth_of(Pred("field", "x", name, flag), a) is op.OPERATORS[name](a, flag)


_LEAVES: dict[bool | None, Pred] = {
    # field "x" is 1 in the rows below: each leaf has the truth value it is keyed by
    True: Pred("field", "x", "eq", 1),
    False: Pred("field", "x", "eq", 2),
    None: Pred("field", "y", "eq", 1),  # "y" is null: unknown
}


@pytest.mark.parametrize("values", list(itertools.product([True, False, None], repeat=3)))
def test_compiled_all_any_not_are_the_specification(values: tuple[bool | None, ...]) -> None:
    parts = tuple(_LEAVES[v] for v in values)
    row = {"x": 1, "y": None}
    assert _compiled(All(parts))(row, lambda _i: None) is op.and_(list(values))
    assert _compiled(AnyOf(parts))(row, lambda _i: None) is op.or_(list(values))
    for v in values:
        assert _compiled(Not(_LEAVES[v]))(row, lambda _i: None) is op.not_(v)

"""The compiled bound checks of the event structs (``schemas._compile``) decide as the
bounds of ``riskops.kernel.bounds`` do, with their reasons, on the values where their fast
conditions are at an edge: decimals with exponents, signed zeros, NaN, infinities,
trailing zeros, more digits than any context holds; identifiers and texts with spaces,
controls and invisible characters; times without an offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.events import validation
from riskops.events.schemas import PROBLEMS, Deposit, Login, TransferInternal, bounded_fields
from riskops.events.validation import Rejection

_TIME = datetime(2025, 3, 1, 12, tzinfo=UTC)
_DEPOSIT: dict[str, Any] = {
    "event_id": "d",
    "account_id": "acct-1",
    "occurred_at": _TIME,
    "asset": "BTC",
    "amount": Decimal("0.25"),
    "usd_value": Decimal("15000.00"),
    "rail": "crypto",
}
# field -> its bound
_BOUND = {
    "amount": "amount",
    "usd_value": "usd",
    "event_id": "identifier",
    "account_id": "identifier",
    "tx_hash": "text",
    "occurred_at": "time",
}


def _constructed(field: str, value: Any) -> str | None:
    """What the constructor of a deposit with ``field`` set to ``value`` says: None if it
    makes the event, else its refusal."""
    try:
        Deposit(**{**_DEPOSIT, field: value})
    except ValueError as exc:
        return str(exc)
    return None


def _expected(field: str, value: Any) -> str | None:
    reason = PROBLEMS[_BOUND[field]](value)
    return None if reason is None else f"`{field}` {reason}"


_DECIMALS = [
    "1E+2",
    "1E+14",
    "1E+15",
    "1E+16",
    "-0",
    "0",
    "-0.00",
    "0E-30",
    "0E+5",
    "0.01",
    "0.001",
    "0.010",
    "12.30",
    "12.300000000000000000000000",  # trailing zeros beyond every limit: the same value
    "12.3000000000000000000000001",
    "1E-18",
    "1E-19",
    "1.000000000000000000",
    "1.0000000000000000001",
    "999999999999999.999999999999999999",
    "1000000000000000.000000000000000001",
    "1000000000000.00",
    "1000000000000.01",
    "999999999999.99",
    "-1",
    "-0.01",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "1e-400",
    "1e-999999999999999999",  # beyond the default context's smallest exponent
    "1" + "0" * 11 + "." + "0" * 200,  # more digits than the checks' 80-digit context
    "1" + "0" * 11 + "." + "0" * 200 + "1",
    "0." + "0" * 200 + "1",
]


@pytest.mark.parametrize("text", _DECIMALS)
@pytest.mark.parametrize("field", ["amount", "usd_value"])
def test_money_edges_are_decided_as_the_bounds_decide(field: str, text: str) -> None:
    value = Decimal(text)
    expected = _expected(field, value)
    assert _constructed(field, value) == expected
    # and decoded from JSON, where the reason names the field as a path
    raw = msgspec.json.encode({"type": "deposit", **_DEPOSIT, field: text})
    result = validation.decode(raw)
    if expected is None:
        assert not isinstance(result, Rejection), result
        assert getattr(result, field) == value
    else:
        assert isinstance(result, Rejection)
        assert [(e.field, e.reason) for e in result.errors] == [
            (f"$.{field}", expected.split(" ", 1)[1])
        ]


_decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(
        lambda sign, digits, exponent: Decimal((sign, digits, exponent)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=40).map(tuple),
        st.integers(-60, 20),
    ),
)


@settings(max_examples=300, deadline=None)
@given(value=_decimals, field=st.sampled_from(["amount", "usd_value"]))
def test_any_decimal_is_decided_as_the_bounds_decide(value: Decimal, field: str) -> None:
    assert _constructed(field, value) == _expected(field, value)


_IDENTIFIERS = [
    "",
    " ",
    "   ",
    " a",
    "a ",
    "a b",
    "a\tb",
    "a\x00",
    "\x7f",
    "a\x85",
    "\u00a0",
    "a\u200b",
    "\u3000",
    "\ufeffa",
    "é-ü",
    "𝔄",
    "a" * 128,
    "a" * 129,
    " " + "a" * 127,
]


@pytest.mark.parametrize("value", _IDENTIFIERS, ids=repr)
@pytest.mark.parametrize("field", ["event_id", "account_id"])
def test_identifier_edges_are_decided_as_the_bounds_decide(field: str, value: str) -> None:
    assert _constructed(field, value) == _expected(field, value)


@settings(max_examples=200, deadline=None)
@given(
    value=st.text(
        st.one_of(st.characters(), st.sampled_from(" \t\x00\x7f\x85\u00a0\u200b")),
        max_size=140,
    ),
    field=st.sampled_from(["account_id", "tx_hash"]),
)
def test_any_text_is_decided_as_the_bounds_decide(value: str, field: str) -> None:
    assert _constructed(field, value) == _expected(field, value)


# Moments relative to now are made in the test, not at collection: pytest-xdist's workers
# must collect the same test ids.
MOMENTS = {
    "first-plausible-day": lambda: datetime(2009, 1, 1, tzinfo=UTC),
    "just-before-plausible": lambda: datetime(2008, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "5s-ahead": lambda: datetime.now(UTC) + timedelta(seconds=5),
    "1h-ahead": lambda: datetime.now(UTC) + timedelta(hours=1),
    # another offset, same instant rules
    "local-offset": lambda: datetime(2025, 3, 1, 14, tzinfo=UTC).astimezone(),
}


@pytest.mark.parametrize("name", MOMENTS)
def test_time_edges_are_decided_as_the_bounds_decide(name: str) -> None:
    moment = MOMENTS[name]()
    assert _constructed("occurred_at", moment) == _expected("occurred_at", moment)


def test_a_time_without_an_offset_is_refused_with_the_reason() -> None:
    """The constructor does not check types: a naive time reaches the check, which says
    why instead of failing on the comparison."""
    with pytest.raises(ValueError, match="`occurred_at` must carry a UTC offset"):
        Login(event_id="l", account_id="a", occurred_at=datetime(2025, 3, 1), success=True)


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": Decimal("0.0000000000000000001"), "usd_value": Decimal("1.001")},
        {"usd_value": Decimal("1.001"), "counterparty_id": " b"},
        {"amount": Decimal("NaN"), "event_id": "\x00"},
        {"occurred_at": datetime(2025, 3, 1), "usd_value": Decimal("0.001")},
    ],
    ids=repr,
)
def test_the_first_field_refused_is_named_when_a_condition_cannot_tell(
    changes: dict[str, Any],
) -> None:
    """A fast condition that raises (an amount with too many decimals, a naive time) hands
    over to the checks of every field, in the struct's order: the refusal reported is the
    first one, as if every field had been checked in full."""
    event = {**_DEPOSIT, "counterparty_id": "b", **changes}
    del event["rail"]
    first = next(
        f"`{wire_name}` {reason}"
        for name, wire_name, bound in bounded_fields(TransferInternal)
        if (reason := PROBLEMS[bound](event[name]) if name in event else None) is not None
    )
    with pytest.raises(ValueError) as refused:
        TransferInternal(**event)
    assert str(refused.value) == first

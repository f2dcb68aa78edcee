"""The console's formatting filters are total: any stored value renders as short text.

Rows stored before the bounds of ADR 0015 (a year 0001 or 9999, a usd_value of 1e30, an
amount of 1e400) must not crash a page, nor fill it with digits.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.web.console import templating as t

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(timezones=st.none() | offsets)
numbers = st.decimals(allow_nan=True, allow_infinity=True) | st.floats() | st.integers()


@settings(max_examples=50, deadline=None)
@given(moments, moments)
def test_time_filters_render_any_moment(moment: datetime, other: datetime) -> None:
    for text in (
        t.iso(moment),
        t.dt(moment),
        t.ago(moment),
        t.ago(moment, now=other.replace(tzinfo=UTC)),
        t.sla_class(moment),
        t.sla_text(moment),
    ):
        assert isinstance(text, str) and 0 < len(text) < 40


@settings(max_examples=50, deadline=None)
@given(numbers)
def test_number_filters_render_any_number(value: Decimal | float | int) -> None:
    for text in (t.usd(value), t.amount(value)):  # type: ignore[arg-type]
        assert isinstance(text, str) and 0 < len(text) < 64


def test_the_extremes_of_issue_9() -> None:
    assert t.dt(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))) == "1-01-01 00:00:00"
    assert t.iso(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))).startswith(
        "9999-12-31T23:59:59"
    )
    assert t.usd(Decimal("1e30")) == "$1.000E+30"
    assert t.amount(Decimal("1e400")) == "1.000000E+400"
    assert t.usd(Decimal("NaN")) == t.amount(Decimal("Infinity")) == "—"
    assert t.usd(Decimal("15000.5")) == "$15,000.50"
    assert t.amount(Decimal("0.25000")) == "0.25"

"""The anomaly panel's reading of stored alerts (web.console.anomaly_pages.shown): any
stored reason, of any shape, gives something to show and never raises (ADR 0039)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.learn.anomaly import parse_reason, split_deviation
from riskops.monitor.models import Alert
from riskops.web.console.anomaly_pages import Deviation, shown


def alert(**values: Any) -> Alert:
    base: dict[str, Any] = {
        "id": 7,
        "event_id": "e-1",
        "reason": "",
        "created_at": datetime(2026, 3, 1, tzinfo=UTC),
    }
    return Alert(**{**base, **values})


def test_a_stored_anomaly_reads_back_as_its_table() -> None:
    found = shown(
        alert(
            reason="anomaly 0.93: the account sent $5,000 in the last 24 hours; usually $100 "
            "(own baseline), peers $300 · the amount is $5,000.00; peers $80.00, too little "
            "history for an own baseline"
        )
    )
    assert found.score == 0.93 and found.event_id == "e-1"
    assert found.deviations == [
        Deviation("the account sent $5,000 in the last 24 hours", "$100", "$300"),
        Deviation("the amount is $5,000.00", None, "$80.00"),
    ]


def test_reasons_of_other_shapes_are_shown_as_they_are() -> None:
    assert shown(alert(reason="")).deviations == []
    other = shown(alert(reason="a rule's text; with a semicolon", created_at=None, event_id=None))
    assert other.score is None and other.recorded_at is None and other.event_id == ""
    assert other.deviations == [Deviation("a rule's text; with a semicolon", None, None)]
    assert shown(alert(reason=None)).deviations == []  # not storable, but not a crash either


@given(st.text(max_size=300) | st.none() | st.integers())
@settings(max_examples=200, deadline=None)
def test_no_text_breaks_the_reading(text: Any) -> None:
    score, parts = parse_reason(text)
    assert score is None or 0.0 <= score <= 1.0
    for part in parts:
        what, own, peers = split_deviation(part)
        assert what and what in part
        assert all(v is None or (v and v in part) for v in (own, peers))
    shown(alert(reason=text))

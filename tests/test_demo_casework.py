"""The backlog the demo leaves to the shift on duty (``demo_casework.backlog_since``): never
more held withdrawals than the shift clears inside the SLA, never older than one shift,
and no later cut than that needs (the rest of the month was worked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.demo_casework import HELD_QUEUE, backlog_since

START = datetime(2026, 11, 1, tzinfo=UTC)
SHIFT = timedelta(hours=8)
QUEUES = [HELD_QUEUE, "aml", "fraud", "account_takeover"]

open_cases = st.lists(
    st.tuples(
        st.sampled_from(QUEUES),
        st.integers(0, 30 * 24 * 60).map(lambda m: START + timedelta(minutes=m)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=50, deadline=None)
@given(open_cases, st.integers(0, 12))
def test_the_backlog_fits_the_capacity_within_one_shift(
    cases: list[tuple[str, datetime]], capacity: int
) -> None:
    since = backlog_since(cases, capacity, SHIFT)
    end = max(t for _, t in cases)
    held_after = [t for q, t in cases if q == HELD_QUEUE and t > since]
    assert len(held_after) <= capacity
    assert since >= end - SHIFT  # the backlog is the shift's own hours at most
    if since > end - SHIFT:
        # Cut later than the shift only as far as needed: one more held case (the one at
        # the cut) would have been too many.
        assert sum(1 for q, t in cases if q == HELD_QUEUE and t >= since) > capacity


def test_a_burst_of_held_withdrawals_is_cut_to_the_newest_the_shift_can_clear() -> None:
    end = START + timedelta(days=30)
    burst = [(HELD_QUEUE, end - timedelta(minutes=m)) for m in range(20)]
    others = [("aml", end - timedelta(hours=h)) for h in (1, 7, 9)]
    since = backlog_since(burst + others, 6, SHIFT)
    assert since == end - timedelta(minutes=6)  # the 6 newest stay open
    assert [t for _, t in others if t > since] == []  # the cut applies to every queue
    assert backlog_since(others, 6, SHIFT) == end - timedelta(hours=1) - SHIFT

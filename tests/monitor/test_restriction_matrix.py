"""Restrictions → block, as a table: every restriction kind against every event type.

The expected table is written out here, not read from ``riskops.monitor.engine.BLOCKING``,
so a kind dropped from (or added to) the engine's table fails a test.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import pytest
from monitor_fakes import FakeEvaluator, deposit, p2p, trade, transfer, withdrawal

from riskops.accounts.models import RestrictionKind as K
from riskops.monitor.engine import RESTRICTION_RULE, Monitor, restriction_for
from riskops.rules.types import Action

# What each event type of the account is stopped by.
STOPS: dict[str, set[K]] = {
    "withdrawal.requested": {K.FULL_FREEZE, K.ACCOUNT_CLOSED, K.WITHDRAWAL_LOCK, K.REKYC_REQUIRED},
    "trade": {K.FULL_FREEZE, K.ACCOUNT_CLOSED, K.TRADING_LOCK},
    "p2p.order": {K.FULL_FREEZE, K.ACCOUNT_CLOSED, K.P2P_BAN},
    "deposit": set(),
    # The sender's row only: money out to another user is stopped like a withdrawal.
    "transfer.internal": {K.FULL_FREEZE, K.ACCOUNT_CLOSED, K.WITHDRAWAL_LOCK, K.REKYC_REQUIRED},
}
EVENTS: dict[str, Callable[[], Any]] = {
    "withdrawal.requested": lambda: withdrawal("e", "x", "5.00"),
    "trade": lambda: trade("e", "x"),
    "p2p.order": lambda: p2p("e", "x"),
    "deposit": lambda: deposit("e", "x", "5.00"),
    "transfer.internal": lambda: transfer("e", "x", "y", "5.00"),
}


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("event_type", sorted(STOPS))
def test_each_kind_blocks_exactly_the_types_it_stops(event_type: str, kind: K) -> None:
    monitor = Monitor(FakeEvaluator(), lambda account: {kind} if account == "x" else set())
    rows = monitor.decide(EVENTS[event_type](), seq=1)
    first = rows[0]
    # The other side of a transfer (the receiver's row) is never blocked by the sender's lock.
    assert all(r.outcome is Action.ALLOW and r.restricted is None for r in rows[1:])
    if kind in STOPS[event_type]:
        assert first.outcome is Action.BLOCK
        assert (first.restricted, first.score) == (kind, 100)
        assert first.reasons[0].rule_id == RESTRICTION_RULE
        assert first.reasons[0].action == Action.BLOCK.label
        assert first.reasons[0].score == 100
        assert first.reasons[0].reason == f"account restricted: {kind}"
    else:
        assert first.outcome is Action.ALLOW
        assert first.restricted is None
        assert first.reasons == []
    assert restriction_for(event_type, {kind}) == (kind if kind in STOPS[event_type] else None)


@pytest.mark.parametrize("event_type", sorted(STOPS))
def test_no_restriction_blocks_nothing(event_type: str) -> None:
    assert restriction_for(event_type, set()) is None
    first = Monitor(FakeEvaluator(), lambda _account: set()).decide(EVENTS[event_type](), 1)[0]
    assert first.outcome is Action.ALLOW and first.restricted is None


@pytest.mark.parametrize("pair", list(combinations(list(K), 2)))
def test_with_several_the_most_specific_is_named_full_freeze_last(pair: tuple[K, K]) -> None:
    for event_type, stops in STOPS.items():
        got = restriction_for(event_type, set(pair))
        applying = [k for k in pair if k in stops]
        if not applying:
            assert got is None
        elif len(applying) == 1:
            assert got is applying[0]
        else:
            # A specific lock says more than a freeze; between two specific ones, the
            # enum's order.
            specific = [k for k in K if k in applying and k is not K.FULL_FREEZE]
            assert got is specific[0]


def test_the_lookup_is_asked_for_the_events_account() -> None:
    asked: list[str] = []

    def lookup(account: str) -> set[K]:
        asked.append(account)
        return {K.WITHDRAWAL_LOCK} if account == "x" else set()

    monitor = Monitor(FakeEvaluator(), lookup)
    assert monitor.decide(withdrawal("a", "x", "5.00"), 1)[0].outcome is Action.BLOCK
    assert monitor.decide(withdrawal("b", "z", "5.00"), 2)[0].outcome is Action.ALLOW
    assert asked == ["x", "z"]


@pytest.mark.parametrize("kind", list(K))
def test_a_transfer_to_a_restricted_account_is_not_blocked(kind: K) -> None:
    """The receiver's restriction stops what it sends, not what it receives."""
    monitor = Monitor(FakeEvaluator(), lambda account: {kind} if account == "y" else set())
    rows = monitor.decide(transfer("e", "x", "y", "5.00"), seq=1)
    assert [r.outcome for r in rows] == [Action.ALLOW, Action.ALLOW]

"""The decision core: combining live hits, shadow hits, restrictions (pure, no database)."""

from __future__ import annotations

from monitor_fakes import FakeEvaluator, deposit, p2p, trade, transfer, withdrawal

from riskops.accounts.models import RestrictionKind as K
from riskops.monitor.engine import Monitor, combine, restriction_for
from riskops.rules.types import Action, Hit


def hit(rule: str, action: Action, score: int, shadow: bool = False) -> Hit:
    return Hit(rule, 1, action, score, f"{rule} reason", "mule", shadow)


def test_no_hits_allow() -> None:
    assert combine([]) == (Action.ALLOW, 0, [])


def test_strongest_action_score_capped_reasons_strongest_first() -> None:
    action, score, reasons = combine(
        [hit("R-1", Action.REVIEW, 50), hit("B-1", Action.BLOCK, 40), hit("H-1", Action.HOLD, 30)]
    )
    assert action is Action.BLOCK
    assert score == 100
    assert [r.rule_id for r in reasons] == ["B-1", "H-1", "R-1"]
    assert [r.action for r in reasons] == ["block", "hold", "review"]


def test_score_sum_below_cap() -> None:
    assert combine([hit("A", Action.REVIEW, 20), hit("B", Action.REVIEW, 15)])[1] == 35


def test_decide_holds_big_withdrawal_and_keeps_state() -> None:
    monitor = Monitor(FakeEvaluator())
    [d] = monitor.decide(withdrawal("e1", "acc", "20000.00"), seq=1)
    assert (d.outcome, d.score, d.row, d.seq) == (Action.HOLD, 40, 0, 1)
    assert d.latency_us >= 0
    monitor.decide(withdrawal("e2", "acc", "10.00"), seq=2)
    [third] = monitor.decide(withdrawal("e3", "acc", "20000.00"), seq=3)
    assert third.outcome is Action.HOLD
    assert third.score == 70
    assert [r.rule_id for r in third.reasons] == ["BIG-1", "VEL-1"]


def test_shadow_hits_are_recorded_but_never_decide() -> None:
    [d] = Monitor(FakeEvaluator()).decide(deposit("d1", "acc", "5000.00"), seq=1)
    assert d.outcome is Action.ALLOW
    assert d.score == 0
    assert d.reasons == []
    assert [h.rule_id for h in d.hits] == ["SHD-1"]
    assert d.live_hits == []


def test_transfer_gives_two_row_decisions() -> None:
    rows = Monitor(FakeEvaluator()).decide(transfer("t1", "a", "b", "10.00"), seq=7)
    assert [(d.row, d.account_id) for d in rows] == [(0, "a"), (1, "b")]


def test_withdrawal_lock_blocks_withdrawal_only() -> None:
    monitor = Monitor(FakeEvaluator(), lambda acc: {K.WITHDRAWAL_LOCK} if acc == "x" else set())
    [d] = monitor.decide(withdrawal("e1", "x", "5.00"), seq=1)
    assert d.outcome is Action.BLOCK
    assert d.reasons[0].reason == "account restricted: withdrawal_lock"
    assert d.restricted is K.WITHDRAWAL_LOCK
    assert monitor.decide(trade("t1", "x"), seq=2)[0].outcome is Action.ALLOW
    assert monitor.decide(withdrawal("e2", "y", "5.00"), seq=3)[0].outcome is Action.ALLOW


def test_restriction_keeps_rule_reasons_after_its_own() -> None:
    monitor = Monitor(FakeEvaluator(), lambda _acc: {K.WITHDRAWAL_LOCK})
    [d] = monitor.decide(withdrawal("e1", "x", "50000.00"), seq=1)
    assert [r.rule_id for r in d.reasons] == ["RESTRICTION", "BIG-1"]
    assert d.score == 100


def test_trading_lock_p2p_ban_and_full_freeze() -> None:
    assert restriction_for("trade", {K.TRADING_LOCK}) is K.TRADING_LOCK
    assert restriction_for("p2p.order", {K.P2P_BAN}) is K.P2P_BAN
    assert restriction_for("p2p.order", {K.TRADING_LOCK}) is None
    assert restriction_for("deposit", {K.FULL_FREEZE}) is None
    assert restriction_for("withdrawal.requested", {K.API_DISABLE}) is None
    frozen = Monitor(FakeEvaluator(), lambda _acc: {K.FULL_FREEZE})
    for event in (withdrawal("w", "a", "1.00"), trade("t", "a"), p2p("p", "a")):
        [d] = frozen.decide(event, seq=1)
        assert d.outcome is Action.BLOCK
        assert d.reasons[0].reason == "account restricted: full_freeze"

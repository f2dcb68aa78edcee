"""The decision core: flat rows → rule evaluation → one decision per row. Pure, no I/O.

``Monitor`` owns nothing but references: the evaluator (which holds the per-account
feature state), a lookup of the account's active restrictions and one of its rating (which
fills the rows' ``account.rating`` and ``account.rating_band``). It flattens the event,
lets the evaluator update its state and evaluate each row, combines the **live** hits as
docs/rules.md "Decision" says, and lets an active restriction turn the decision into a block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any, Protocol

import msgspec

from riskops.accounts.models import RestrictionKind
from riskops.events import schemas as s
from riskops.events.flat import to_rows
from riskops.rules.types import Action, Evaluation, Hit, RuleError


class Evaluator(Protocol):
    """What the monitor needs of ``riskops.rules.stream.StreamEvaluator``."""

    def process(self, row: dict[str, Any]) -> Evaluation: ...

    def snapshot(self) -> bytes: ...


RestrictionsLookup = Callable[[str], Collection[RestrictionKind]]
RatingLookup = Callable[[str], tuple[int, str] | None]
"""An account's rating (score, band), or None: the rules' ``account.rating`` and
``account.rating_band`` (``riskops.accounts.rating.RatingCache.get``)."""

# Which restrictions stop which event types (on the account that sent the event).
_EVERYTHING = frozenset({RestrictionKind.FULL_FREEZE, RestrictionKind.ACCOUNT_CLOSED})
# Money leaving the account: a withdrawal, and an internal transfer out (the sender's row),
# which would otherwise move a locked balance to another account to be withdrawn there.
_MONEY_OUT = _EVERYTHING | {RestrictionKind.WITHDRAWAL_LOCK, RestrictionKind.REKYC_REQUIRED}
BLOCKING: dict[str, frozenset[RestrictionKind]] = {
    "withdrawal.requested": _MONEY_OUT,
    "transfer.internal": _MONEY_OUT,
    "trade": _EVERYTHING | {RestrictionKind.TRADING_LOCK},
    "p2p.order": _EVERYTHING | {RestrictionKind.P2P_BAN},
}
# Order in which a restriction is named when several apply (the most specific first).
_KIND_ORDER = [k for k in RestrictionKind if k is not RestrictionKind.FULL_FREEZE] + [
    RestrictionKind.FULL_FREEZE
]
RESTRICTION_RULE = "RESTRICTION"


class Reason(msgspec.Struct, frozen=True):
    """One reason of a decision, as the API and the decision log show it."""

    rule_id: str
    action: str
    score: int
    reason: str


class RowDecision(msgspec.Struct):
    """The monitor's decision on one flat row, with everything needed to record it."""

    event_id: str
    row: int
    account_id: str
    seq: int
    event_type: str
    outcome: Action
    score: int
    reasons: list[Reason]
    hits: list[Hit]
    errors: list[RuleError]
    latency_us: int = 0
    restricted: RestrictionKind | None = None

    @property
    def live_hits(self) -> list[Hit]:
        return [h for h in self.hits if not h.shadow]


def no_restrictions(_account_id: str) -> Collection[RestrictionKind]:
    return ()


def combine(live_hits: list[Hit]) -> tuple[Action, int, list[Reason]]:
    """Strongest action, score sum capped at 100, reasons strongest first (then by score)."""
    if not live_hits:
        return Action.ALLOW, 0, []
    ordered = sorted(live_hits, key=lambda h: (-int(h.action), -h.score, h.rule_id))
    reasons = [Reason(h.rule_id, h.action.label, h.score, h.reason) for h in ordered]
    return ordered[0].action, min(100, sum(h.score for h in live_hits)), reasons


def restriction_for(event_type: str, active: Collection[RestrictionKind]) -> RestrictionKind | None:
    """The active restriction that blocks this event type, if any."""
    blocking = BLOCKING.get(event_type)
    if not blocking or not active:
        return None
    for kind in _KIND_ORDER:
        if kind in blocking and kind in active:
            return kind
    return None


class Monitor:
    """Decides events one by one, in log order; the evaluator's state advances with each."""

    def __init__(
        self,
        evaluator: Evaluator,
        restrictions: RestrictionsLookup = no_restrictions,
        ratings: RatingLookup | None = None,
    ):
        self.evaluator = evaluator
        self.restrictions = restrictions
        self.ratings = ratings

    def decide(self, event: s.Event, seq: int) -> list[RowDecision]:
        """Flatten, evaluate and combine; one decision per flat row (two for a transfer)."""
        start = time.perf_counter_ns()
        decisions = []
        ratings = self.ratings
        for row in to_rows(event, seq):
            if ratings is not None and (rated := ratings(row["account_id"])) is not None:
                row["account.rating"], row["account.rating_band"] = rated
            evaluation = self.evaluator.process(row)
            action, score, reasons = combine(evaluation.live_hits)
            decision = RowDecision(
                event_id=event.event_id,
                row=row["row"],
                account_id=row["account_id"],
                seq=seq,
                event_type=row["type"],
                outcome=action,
                score=score,
                reasons=reasons,
                hits=evaluation.hits,
                errors=evaluation.errors,
            )
            if row["row"] == 0:
                self._apply_restrictions(decision)
            decisions.append(decision)
        latency = (time.perf_counter_ns() - start) // 1000
        for decision in decisions:
            decision.latency_us = latency
        return decisions

    def _apply_restrictions(self, decision: RowDecision) -> None:
        if decision.event_type not in BLOCKING:
            return
        kind = restriction_for(decision.event_type, self.restrictions(decision.account_id))
        if kind is None:
            return
        decision.restricted = kind
        decision.outcome = Action.BLOCK
        decision.score = 100
        reason = Reason(RESTRICTION_RULE, Action.BLOCK.label, 100, f"account restricted: {kind}")
        decision.reasons = [reason, *decision.reasons]

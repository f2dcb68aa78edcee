"""The state a partition keeps of rows it does not own: the features keyed by other things
than the account (``by: ip``, ``device_id``, ``counterparty_id``, ...), as every partition
must see every row for those (ADR 0041).

``OwnedRows`` is the evaluator the partition's ``Monitor`` runs: a row of an owned account
goes to the real evaluator in full (state updated, rules evaluated); any other row only
updates the features keyed by a non-account column, with their clocks, and is answered
with no hits (its decision is the owner's and is dropped). The row counter (``tok``) moves
for every row, so it is the same on every partition as in the single process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from riskops.monitor.engine import Evaluator
from riskops.rules.stream import StreamEvaluator, advance_clocks
from riskops.rules.types import Evaluation

ACCOUNT_KEY = "account_id"
_Members = tuple[tuple[Any, tuple[tuple[Callable[..., None], str], ...]], ...]


def _no_features(index: int) -> Any:  # pragma: no cover - where conditions use no features
    raise RuntimeError("a where condition cannot read features")


class CrossKeyObserver:
    """Applies a row to the non-account features of a ``StreamEvaluator`` only."""

    def __init__(self, evaluator: StreamEvaluator) -> None:
        self.evaluator = evaluator
        self._plans: dict[str, _Members] = {}
        self._clocks = [(by, c) for by, c in evaluator.clocks.items() if by != ACCOUNT_KEY]

    def _plan(self, event_type: str) -> _Members:
        plan = self.evaluator._plans.get(event_type) or self.evaluator._plan(event_type)
        kept = []
        for where, members in plan.updates:
            mine = tuple((m.update, m.by) for m in members if m.by != ACCOUNT_KEY)
            if mine:
                kept.append((where, mine))
        members_by_where = tuple(kept)
        self._plans[event_type] = members_by_where
        return members_by_where

    def __call__(self, row: dict[str, Any]) -> None:
        ev = self.evaluator
        ev.tok = tok = ev.tok + 1
        now = advance_clocks(self._clocks, row)
        plan = self._plans.get(row["type"]) or self._plan(row["type"])
        for where, members in plan:
            if where is not None and where(row, _no_features) is not True:
                continue
            for update, by in members:
                key = row[by]
                if key is None:
                    continue
                try:
                    update(key, now.get(by, 0), row, tok)
                except Exception:  # as in the full path: bad data spoils one feature only
                    continue


def observer_of(evaluator: Evaluator) -> Callable[[dict[str, Any]], None]:
    """How rows of other partitions update ``evaluator``: its own ``observe`` if it has one
    (an evaluator that wraps the rules engine delegates it), else the rules engine's."""
    own = getattr(evaluator, "observe", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    if isinstance(evaluator, StreamEvaluator):
        return CrossKeyObserver(evaluator)
    # A wrapper around the rules engine (the learning step, ``monitor.evaluators``): its
    # own state is the account's (scores of the account's rows), so a row of another
    # partition only reaches the rules engine's cross-key features.
    inner = getattr(evaluator, "rules", None)
    if isinstance(inner, StreamEvaluator):
        return CrossKeyObserver(inner)
    message = (
        f"{type(evaluator).__name__} cannot run partitioned: it needs an observe(row) method "
        "that updates the state of the features not keyed by the account"
    )
    raise TypeError(message)


class OwnedRows:
    """The evaluator of a partition's monitor: full on owned rows, cross-key on the rest."""

    def __init__(self, inner: Evaluator, owns: Callable[[str], bool]) -> None:
        self.inner = inner
        self.owns = owns
        self.observe = observer_of(inner)

    def process(self, row: dict[str, Any]) -> Evaluation:
        if self.owns(row[ACCOUNT_KEY]):
            return self.inner.process(row)
        self.observe(row)
        return Evaluation([], [])

    def snapshot(self) -> bytes:
        return self.inner.snapshot()

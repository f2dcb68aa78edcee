"""The state a partition keeps of rows it does not own: the features keyed by other things
than the account (``by: ip``, ``device_id``, ``counterparty_id``, ...), as every partition
must see every row for those (ADR 0041).

``OwnedRows`` is the evaluator the partition's ``Monitor`` runs: a row of an owned account
goes to the real evaluator in full (state updated, rules evaluated); any other row only
updates the features keyed by a non-account column, with their clocks, and is answered
with no hits (its decision is the owner's and is dropped). The row counter (``tok``) moves
for every row, so it is the same on every partition as in the single process.

An event with no row of the partition at all (most of the stream, once N > 1) is observed
from the event itself (``CrossKeyObserver.event``): its rows are built with only the
columns the cross-key features, their ``where`` and their clocks read, from a plan per
event class, instead of the full flat row; the values are ``to_rows``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from riskops.events import flat
from riskops.events import schemas as s
from riskops.kernel.clock import to_us
from riskops.monitor.engine import Evaluator
from riskops.rules.sql_cond import fields
from riskops.rules.stream import StreamEvaluator, advance_clocks
from riskops.rules.types import Evaluation

ACCOUNT_KEY = "account_id"
_Members = tuple[tuple[Any, tuple[tuple[Callable[..., None], str], ...]], ...]
_Clocks = list[tuple[str, dict[Any, tuple[int, int]]]]
# Columns every observed row carries (the observer and its features may read them).
_BASE = ("seq", "row", "event_id", "type", ACCOUNT_KEY, "ts_us")
# Columns the monitor fills on its rows (the account's rating): an observer that reads one
# takes the full rows (``to_rows``, then the ratings). ``to_rows`` leaves the others that
# are not the event's (source_row, the scores) null on an observed row, as here.
_FILLED = frozenset({"account.rating", "account.rating_band"})
_MONEY = ("amount", "usd_cents")


def _no_features(index: int) -> Any:  # pragma: no cover - where conditions use no features
    raise RuntimeError("a where condition cannot read features")


class _EventPlan:
    """How an event class becomes observed rows: the attributes copied (attribute,
    column, is an enum), the key clocks its rows can move, the feature updates of its
    type, and whether it is an internal transfer (a second, mirrored row)."""

    __slots__ = ("attrs", "blank", "clocks", "direction", "members", "money", "transfer")

    def __init__(
        self,
        attrs: tuple[tuple[str, str, bool], ...],
        blank: dict[str, Any],
        clocks: _Clocks,
        members: _Members,
        transfer: bool,
    ) -> None:
        self.attrs, self.blank, self.clocks = attrs, blank, clocks
        self.members, self.transfer = members, transfer
        self.money = False  # amount / usd_cents to fill (a money event, and read)
        self.direction = False  # direction to fill (read)


class CrossKeyObserver:
    """Applies a row to the non-account features of a ``StreamEvaluator`` only."""

    def __init__(self, evaluator: StreamEvaluator) -> None:
        self.evaluator = evaluator
        self._plans: dict[str, _Members] = {}
        self._clocks = [(by, c) for by, c in evaluator.clocks.items() if by != ACCOUNT_KEY]
        self._events: dict[type, _EventPlan | None] = {}
        read = set(_BASE) | {by for by, _ in self._clocks}
        for feature in evaluator.features:
            if feature.by == ACCOUNT_KEY:
                continue
            read.add(feature.by)
            if feature.field is not None:
                read.add(feature.field)
            read.update(fields(feature.where))
        if "direction" in read:
            read.add("side")  # what a P2P order's direction comes from
        self.columns = frozenset(read)
        # The account's rating is the monitor's, not the event's: the full rows then.
        self.slim = not (self.columns & _FILLED)

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
        plan = self._plans.get(row["type"]) or self._plan(row["type"])
        self._apply(row, self._clocks, plan)

    def _apply(self, row: dict[str, Any], clocks: _Clocks, plan: _Members) -> None:
        ev = self.evaluator
        ev.tok = tok = ev.tok + 1
        now = advance_clocks(clocks, row)
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

    def _event_plan(self, cls: type) -> _EventPlan | None:
        """The plan of an event class (None: its rows need columns only ``to_rows`` has)."""
        plan: _EventPlan | None = None
        if self.slim:
            tag, columns = flat._plan(cls)
            attrs = tuple(c for c in columns if c[1] in self.columns)
            blank = dict.fromkeys(sorted(self.columns))
            have = {column for _, column, _ in attrs} | set(_BASE)
            # A clock whose column this class never fills never moves on its rows.
            clocks = [(by, c) for by, c in self._clocks if by in have]
            transfer = issubclass(cls, s.TransferInternal)
            plan = _EventPlan(attrs, blank, clocks, self._plan(tag), transfer)
            plan.blank["type"] = tag
            plan.money = issubclass(cls, s.Money) and any(c in self.columns for c in _MONEY)
            plan.direction = "direction" in self.columns
        self._events[cls] = plan
        return plan

    def event(self, event: s.Event, seq: int) -> bool:
        """Observe every row of ``event`` (stream position ``seq``) from the event itself;
        False when this observer needs the full rows (the caller then uses ``to_rows``)."""
        cls = type(event)
        plan = self._events[cls] if cls in self._events else self._event_plan(cls)
        if plan is None:
            return False
        row = plan.blank.copy()
        row["seq"] = seq
        row["row"] = 0
        row["event_id"] = event.event_id
        row[ACCOUNT_KEY] = event.account_id
        row["ts_us"] = to_us(event.occurred_at)
        for name, column, is_enum in plan.attrs:
            value = getattr(event, name)
            if value is not None:
                row[column] = value.value if is_enum else value
        if plan.money:
            row["amount"] = float(event.amount)  # type: ignore[attr-defined]
            row["usd_cents"] = flat.usd_to_cents(event.usd_value)  # type: ignore[attr-defined]
        if plan.direction:
            row["direction"] = flat.direction_of(row["type"], row["side"])
        if not plan.transfer:
            self._apply(row, plan.clocks, plan.members)
            return True
        mirror = row.copy()
        self._apply(row, plan.clocks, plan.members)
        mirror["row"] = 1
        mirror[ACCOUNT_KEY] = event.counterparty_id  # type: ignore[attr-defined]
        mirror["counterparty_id"] = event.account_id
        if plan.direction:
            mirror["direction"] = "in"
        self._apply(mirror, plan.clocks, plan.members)
        return True


def observer_of(evaluator: Evaluator) -> Callable[[dict[str, Any]], None]:
    """How rows of other partitions update ``evaluator``: its own ``observe`` if it has one
    (an evaluator that wraps the rules engine delegates it), else the rules engine's."""
    own = getattr(evaluator, "observe", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    if isinstance(evaluator, StreamEvaluator):
        return CrossKeyObserver(evaluator)
    # A wrapper around the rules engine (the learning step, ``monitor.evaluators``): a row
    # of another partition moves its learning state (features of every account, anomaly
    # peer groups) when it has one, then the rules engine's cross-key features.
    inner = getattr(evaluator, "rules", None)
    if isinstance(inner, StreamEvaluator):
        cross = CrossKeyObserver(inner)
        if callable(getattr(evaluator, "observe_learning", None)):
            return LearningObserver(evaluator, cross)
        return cross
    message = (
        f"{type(evaluator).__name__} cannot run partitioned: it needs an observe(row) method "
        "that updates the state of the features not keyed by the account"
    )
    raise TypeError(message)


class LearningObserver:
    """Rows of other partitions for the rules wrapped in the learning step: the learning
    state first (``process`` steps it before the rules), then the cross-key features, so a
    live model scores every partition's rows as the single process does. While no model
    runs the learning state stands still (as in ``process``) and the rules observer's
    fast path serves whole events."""

    def __init__(self, evaluator: Any, cross: CrossKeyObserver) -> None:
        self.evaluator = evaluator
        self.cross = cross

    def __call__(self, row: dict[str, Any]) -> None:
        self.evaluator.observe_learning(row)
        self.cross(row)

    def event(self, event: Any, seq: int) -> bool:
        """The rules' fast path for a whole event, while no model needs the full rows."""
        if self.evaluator.learning:
            return False
        return self.cross.event(event, seq)


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

"""The streaming evaluator: one flat row in, the rule results out, state kept per key.

Work per row is planned once per event type: which features it may update (a feature whose
``where`` pins the event type is never touched by other types) and which rules run on it
(``when``). Identical features across rules are computed once. Feature values are computed
only when a rule's condition reaches them.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import msgspec

from riskops.rules.compile_py import Compiled, compile_cond
from riskops.rules.definition import Feature, Rule, feature_types
from riskops.rules.features import State, make_state
from riskops.rules.lists import ListStore
from riskops.rules.types import Evaluation, Hit, RuleError, RuleStatus

SNAPSHOT_VERSION = 1
_FORMAT_ERRORS = (KeyError, ValueError, TypeError, IndexError, AttributeError)


class _Rule(NamedTuple):
    rule: Rule
    cond: Compiled
    names: dict[str, int]  # the rule's feature names -> global feature index
    shadow: bool


class _Update(NamedTuple):
    feature: int
    update: Callable[[Any, int, dict[str, Any], int], None]
    by: str


class _Plan(NamedTuple):
    # Features an event type may update, grouped by their ``where`` (None: every row), so
    # a condition that several features share is tested once per row.
    updates: tuple[tuple[Compiled | None, tuple[_Update, ...]], ...]
    rules: tuple[_Rule, ...]


def _running(rules: Iterable[Rule], include_drafts: bool) -> list[Rule]:
    allowed = {RuleStatus.LIVE, RuleStatus.SHADOW}
    if include_drafts:
        allowed.add(RuleStatus.DRAFT)
    return [r for r in rules if r.status in allowed]


def advance_clocks(
    clocks: Iterable[tuple[str, dict[Any, tuple[int, int]]]], row: dict[str, Any]
) -> dict[str, int]:
    """Move each key's clock to ``row`` and return the row's time (ns) per key column.

    A key's clock never goes backwards: a tie with its last row takes the next rank, a late
    row is clamped just after it (``(ts_us, ts_ns)`` per key). The monitor and the cluster's
    cross-key observer (``riskops.cluster.crosskey``) both keep time this way.
    """
    ts_us = row["ts_us"]
    now: dict[str, int] = {}
    for by, clock in clocks:
        key = row[by]
        if key is None:
            continue
        last = clock.get(key)
        if last is None or ts_us > last[0]:
            ts_ns = ts_us * 1000
            clock[key] = (ts_us, ts_ns)
        else:  # a tie (next rank) or a late row (clamped after the key's last row)
            ts_ns = last[1] + 1
            clock[key] = (last[0], ts_ns)
        now[by] = ts_ns
    return now


class StreamEvaluator:
    """Evaluate rules on flat rows as they arrive (docs/rules.md is the contract)."""

    def __init__(
        self, rules: Sequence[Rule], lists: ListStore | None = None, *, include_drafts: bool = False
    ) -> None:
        lists = lists or ListStore()
        self.rules = _running(rules, include_drafts)
        self.features: list[Feature] = []
        self.states: list[State] = []
        index_of: dict[bytes, int] = {}
        self._compiled: list[_Rule] = []
        for rule in self.rules:
            names: dict[str, int] = {}
            for name, feature in rule.features.items():
                ident = feature.identity()
                if ident not in index_of:
                    index_of[ident] = len(self.features)
                    self.features.append(feature)
                    self.states.append(make_state(feature))
                names[name] = index_of[ident]
            cond = compile_cond(rule.cond, names, lists)
            self._compiled.append(_Rule(rule, cond, names, rule.status != RuleStatus.LIVE))
        # One compiled function per distinct ``where``: features that share a condition share
        # it, and a plan tests it once per row.
        by_text: dict[bytes, Compiled] = {}
        self._wheres: list[Compiled | None] = []
        for feature in self.features:
            if feature.where is None:
                self._wheres.append(None)
                continue
            text = msgspec.json.encode(feature.where)
            if text not in by_text:
                by_text[text] = compile_cond(feature.where, {}, lists)
            self._wheres.append(by_text[text])
        self._by = [f.by for f in self.features]
        self._types = [feature_types(f) for f in self.features]
        # key column -> key value -> (last ts_us, last ts_ns): the tie-broken clocks. Only
        # windows read the clock (first_seen/since/last go by processing order), so keys
        # used by no windowed feature keep none.
        windowed = {f.by for f in self.features if f.window_s is not None}
        self.clocks: dict[str, dict[Any, tuple[int, int]]] = {b: {} for b in sorted(windowed)}
        self._plans: dict[str, _Plan] = {}
        self.tok = 0
        # Per-row context, read by the lazy feature getter.
        self._row: dict[str, Any] = {}
        self._now: dict[str, int] = {}
        self._cache: dict[int, Any] = {}
        self._broken: dict[int, str] = {}

    def _plan(self, event_type: str) -> _Plan:
        groups: dict[Compiled | None, list[_Update]] = {}
        for i, types in enumerate(self._types):
            if types is None or event_type in types:
                update = _Update(i, self.states[i].update, self._by[i])
                groups.setdefault(self._wheres[i], []).append(update)
        updates = tuple((where, tuple(members)) for where, members in groups.items())
        rules = tuple(r for r in self._compiled if event_type in r.rule.when)
        plan = self._plans[event_type] = _Plan(updates, rules)
        return plan

    def _get(self, index: int) -> Any:
        cache = self._cache
        if index in cache:
            return cache[index]
        if index in self._broken:
            raise RuntimeError(self._broken[index])
        by = self._by[index]
        key = self._row[by]
        value = (
            None
            if key is None
            else self.states[index].value(key, self._now.get(by, 0), self._row, self.tok)
        )
        cache[index] = value
        return value

    def process(self, row: dict[str, Any]) -> Evaluation:
        """Update state with ``row`` and evaluate the rules whose ``when`` has its type."""
        self.tok = tok = self.tok + 1
        now = advance_clocks(self.clocks.items(), row)
        plan = self._plans.get(row["type"]) or self._plan(row["type"])
        broken = self._broken
        if broken:
            broken.clear()
        for where, members in plan.updates:
            if where is not None and where(row, _no_features) is not True:
                continue
            for index, update, by in members:
                key = row[by]
                if key is None:
                    continue
                try:
                    update(key, now.get(by, 0), row, tok)
                except Exception as exc:  # bad data in one feature must not stop the others
                    broken[index] = f"feature state failed: {type(exc).__name__}: {exc}"
        hits: list[Hit] = []
        errors: list[RuleError] = []
        self._row, self._now = row, now
        self._cache = {}
        if not plan.rules:
            return Evaluation(hits, errors)
        get = self._get
        for compiled in plan.rules:
            rule = compiled.rule
            try:
                if compiled.cond(row, get) is True:
                    hits.append(
                        Hit(
                            rule.id,
                            rule.version,
                            rule.action,
                            rule.score,
                            self._reason(compiled, row),
                            rule.typology,
                            compiled.shadow,
                        )
                    )
            except Exception as exc:  # recorded on the result, never fatal to the decision
                errors.append(RuleError(rule.id, rule.version, f"{type(exc).__name__}: {exc}"))
        return Evaluation(hits, errors)

    def feature_values(self) -> list[Any]:
        """Every distinct feature's value for the last processed row (``self.features``
        order): for explaining a hit, and for the parity tests."""
        out: list[Any] = []
        for i in range(len(self.features)):
            try:
                out.append(self._get(i))
            except RuntimeError as exc:
                out.append(exc)
        return out

    def _reason(self, compiled: _Rule, row: dict[str, Any]) -> str:
        template = compiled.rule.reason
        if "{" not in template:
            return template
        try:
            values = dict(row)
            for name, index in compiled.names.items():
                values[name] = self._get(index)
            cents = row.get("usd_cents")
            values["usd"] = None if cents is None else cents / 100
            return template.format_map(values)
        except _FORMAT_ERRORS:
            return template
        except RuntimeError:
            return template

    def snapshot(self) -> bytes:
        """The evaluator state; restore with ``StreamEvaluator.restore``.

        Pickle is used because the state is ours (deques, sets, tuples) and the blob is
        written and read by the same worker; never restore a blob from an untrusted source.
        """
        state = {
            "version": SNAPSHOT_VERSION,
            "tok": self.tok,
            "clocks": self.clocks,
            "features": {
                f.identity(): s.data for f, s in zip(self.features, self.states, strict=True)
            },
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(
        cls,
        rules: Sequence[Rule],
        lists: ListStore | None,
        blob: bytes,
        *,
        include_drafts: bool = False,
    ) -> StreamEvaluator:
        """An evaluator continuing from ``blob``. Features are matched by identity, so a
        changed rule set keeps the state of the features it still has."""
        state = pickle.loads(blob)
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unknown snapshot version {state.get('version')!r}")
        ev = cls(rules, lists, include_drafts=include_drafts)
        ev.tok = state["tok"]
        for by, clock in state["clocks"].items():
            if by in ev.clocks:
                ev.clocks[by] = clock
        saved = state["features"]
        for feature, st in zip(ev.features, ev.states, strict=True):
            data = saved.get(feature.identity())
            if data is not None:
                st.data = data
        return ev


def _no_features(index: int) -> Any:  # pragma: no cover - where conditions use no features
    raise RuntimeError("a where condition cannot read features")

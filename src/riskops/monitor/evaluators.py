"""Adapters the runtime is wired with: the evaluator factory and the event log.

Both are protocols so that tests and benchmarks can pass fakes; the defaults adapt the
real rules engine (``riskops.rules.stream.StreamEvaluator``) and the event log of
``riskops.events``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.events import schemas as s
from riskops.kernel.errors import Conflict
from riskops.kernel.logging import get_logger
from riskops.monitor.engine import Evaluator
from riskops.monitor.service import LogRecord
from riskops.rules.types import Evaluation

log = get_logger(__name__)


class EvaluatorFactory(Protocol):
    """Makes evaluators of one rule set; ``fingerprint`` names the set (for snapshots)."""

    fingerprint: str

    def new(self) -> Evaluator: ...

    def restore(self, blob: bytes) -> Evaluator: ...


class EventLog(Protocol):
    """The event log as the monitor uses it: tail by seq, append (idempotent on id)."""

    def read_after(self, session: Session, seq: int, limit: int) -> Sequence[LogRecord]: ...

    def append(self, session: Session, events: Sequence[s.Event]) -> dict[str, Exception]:
        """Append events; returns the errors of those refused, by event id."""
        ...


class SqlEventLog:
    """The ``events`` table (``riskops.events``): the in-process bus of the monitor."""

    def __init__(self, source: str = "api") -> None:
        self.source = source

    def read_after(self, session: Session, seq: int, limit: int) -> Sequence[LogRecord]:
        from riskops.monitor.repository import log_after

        return log_after(session, seq, limit)

    def append(self, session: Session, events: Sequence[s.Event]) -> dict[str, Exception]:
        from riskops.events.service import ingest

        report = ingest(session, [(None, e) for e in events], source=self.source)
        refused: dict[str, Exception] = {}
        for item in report.rejected:
            reason = "; ".join(f"{e.field}: {e.reason}" for e in item.errors)
            refused[events[item.index].event_id] = Conflict(reason)
        return refused


def ready_prefix(
    records: Sequence[LogRecord], after_seq: int, now: datetime, grace: timedelta
) -> Sequence[LogRecord]:
    """The records safe to process: up to the first *young* gap in ``seq``.

    On PostgreSQL a sequence value is taken at insert, so a transaction still in flight can
    commit a lower ``seq`` after a higher one is visible; skipping over that hole would lose
    the event. A gap is waited for while the record after it is younger than ``grace``;
    older gaps are permanent (rolled back inserts, ``ON CONFLICT`` duplicates) and skipped.
    """
    expected = after_seq + 1
    for index, record in enumerate(records):
        if record.seq != expected:
            received = getattr(record, "received_at", None)
            if received is not None:
                received = received if received.tzinfo else received.replace(tzinfo=UTC)
                if now - received < grace:
                    return records[:index]
        expected = record.seq + 1
    return records


class RulesEvaluatorFactory:
    """The real engine: ``StreamEvaluator`` over the monitor's rules and lists, wrapped in
    ``LearnEvaluator`` when built with a model watch (``load`` with a database does)."""

    def __init__(self, rules: Sequence[Any], lists: Any, learn: LearnSource | None = None):
        from riskops.rules.definition import to_builtins

        self.rules = list(rules)
        self.lists = lists
        self.learn = learn
        canonical = msgspec.json.encode(
            [[to_builtins(r) for r in self.rules], _list_contents(lists)], order="sorted"
        )
        self.fingerprint = hashlib.sha256(canonical).hexdigest()

    @classmethod
    def load(
        cls, engine: Engine | None = None, lists_dir: Path | None = None
    ) -> RulesEvaluatorFactory:
        """The stored live + shadow rules (see ``monitor_rules``), the lists, and the
        registry's running models (``riskops.learn``) when there is a database."""
        learn = LearnSource(engine) if engine is not None else None
        return cls(monitor_rules(engine), monitor_lists(lists_dir), learn)

    def new(self) -> Evaluator:
        from riskops.rules.stream import StreamEvaluator

        rules = StreamEvaluator(self.rules, self.lists)
        if self.learn is None:
            return rules
        return LearnEvaluator(rules, self.learn.scoring(None), self.learn.watch())

    def restore(self, blob: bytes) -> Evaluator:
        from riskops.rules.stream import StreamEvaluator

        rules_blob, learn_blob = _split_snapshot(blob)
        rules = StreamEvaluator.restore(self.rules, self.lists, rules_blob)
        if self.learn is None:
            return rules
        return LearnEvaluator(rules, self.learn.scoring(learn_blob), self.learn.watch())


# A snapshot of a LearnEvaluator: this prefix, then msgpack [rules state, learn state]. A
# snapshot without it is a plain StreamEvaluator's (written before learning was wired).
_LEARN_MAGIC = b"riskops-learn-1\n"


def _split_snapshot(blob: bytes) -> tuple[bytes, bytes | None]:
    if not blob.startswith(_LEARN_MAGIC):
        return blob, None
    rules, learn = msgspec.msgpack.decode(blob[len(_LEARN_MAGIC) :], type=tuple[bytes, bytes])
    return rules, learn


class LearnSource:
    """The registry's running models for the monitor, and the watch that notices a
    promotion (read every ``every`` seconds, between rows)."""

    def __init__(self, engine: Engine, every: float = 5.0) -> None:
        self.engine = engine
        self.every = every
        self.keys = self._keys()
        self.models = self._load()

    def _keys(self) -> list[tuple[str, int, str]]:
        from riskops.learn import registry

        with Session(self.engine) as session:
            return registry.running_keys(session)

    def _load(self) -> Any:
        from riskops.learn import registry
        from riskops.learn.scoring import load_running

        with Session(self.engine) as session:
            return load_running(registry.running(session))

    def scoring(self, blob: bytes | None) -> Any:
        from riskops.learn.scoring import Scoring

        if blob is None:
            return Scoring(self.models)
        try:
            return Scoring.restore(self.models, blob)
        except Exception as exc:
            log.warning("monitor.learn_state_unusable", error=str(exc)[:200])
            return Scoring(self.models)

    def watch(self) -> Any:
        from riskops.learn.scoring import Watch

        return Watch(self._keys, self._load, self.keys, self.every)


class LearnEvaluator:
    """The rules evaluator with the learning step around it (``riskops.learn.scoring``):
    ``model.score`` and ``anomaly.score`` filled before the rules, the model's and the
    anomaly's hits added after; its snapshot carries the learn state with the rules'."""

    def __init__(self, rules: Evaluator, scoring: Any, watch: Any = None) -> None:
        self.rules = rules
        self.scoring = scoring
        self.watch = watch

    def process(self, row: dict[str, Any]) -> Evaluation:
        watch = self.watch
        if watch is not None and row["row"] == 0 and watch.due():
            models = watch.check()
            if models is not None:
                self.scoring.swap(models)
        scoring = self.scoring
        if not scoring.active:
            return self.rules.process(row)
        scoring.step(row)
        evaluation = self.rules.process(row)
        extra = scoring.hits(row)
        if extra:
            evaluation.hits = [*evaluation.hits, *extra]
        return evaluation

    @property
    def learning(self) -> bool:
        """Whether a model runs: the learning state then moves with every money row."""
        return bool(self.scoring.active)

    def observe_learning(self, row: dict[str, Any]) -> None:
        """A row another partition decides (ADR 0041): the learning state moves as
        ``process`` moves it (both sides' features, the anomaly baselines and peer groups,
        the score a transfer's receiver row reuses), and no hit comes of it. The rules'
        cross-key features are the partition's to update (``cluster.crosskey``)."""
        scoring = self.scoring
        if scoring.active:
            scoring.step(row)

    def snapshot(self) -> bytes:
        state = (self.rules.snapshot(), self.scoring.snapshot())
        return _LEARN_MAGIC + msgspec.msgpack.encode(state)


def _list_contents(lists: Any) -> dict[str, list[str]]:
    return {name: sorted(lists.get(name)) for name in lists.names()}


def monitor_lists(lists_dir: Path | None = None) -> Any:
    """The shipped lists plus the deployment's own (``{data_dir}/lists/NAME.txt``).

    The deployment's files win on a name in both: an exchange's sanctions feed replaces the
    shipped sample. A list a rule names but nobody provides reads as empty, with a warning.
    """
    from riskops.rules.lists import ListStore, default_lists

    store = default_lists()
    if lists_dir is not None and lists_dir.is_dir():
        store = store.merged(ListStore.from_dir(lists_dir))
    return store


def monitor_rules(engine: Engine | None) -> list[Any]:
    """Rules the monitor runs: the stored live + shadow set.

    An empty rule store is first seeded with the default pack, so the store is the one
    truth from the first start on. Without a database (benchmarks) the pack's own
    live + shadow rules run.
    """
    from riskops.kernel.db import session_factory, unit_of_work
    from riskops.rules import service as rules_service
    from riskops.rules.definition import load_default_pack
    from riskops.rules.types import RuleStatus

    if engine is None:
        running = (RuleStatus.LIVE, RuleStatus.SHADOW)
        return [r for r in load_default_pack() if r.status in running]
    with unit_of_work(session_factory(engine)) as session:
        rules_service.seed_default_pack(session)
        return list(rules_service.running_rules(session))

"""Helpers of the cluster tests: a simulated history, the single-process baseline, the
results compared event for event, and partition workers run in one event loop."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from processes import environment
from riskops.cluster.partition import PartitionSpec, PartitionWorker, Stats
from riskops.events import schemas as s
from riskops.events.nats import publish
from riskops.events.service import ingest
from riskops.events.validation import from_obj
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.evaluators import RulesEvaluatorFactory
from riskops.monitor.models import Alert, Decision
from riskops.monitor.runtime import MonitorRuntime
from riskops.sim import SimConfig, generate
from support import migrated_engine


@cache
def history() -> tuple[s.Event, ...]:
    """A small simulated exchange history (the default pack hits on it)."""
    events: list[s.Event] = []
    for obj in generate(SimConfig(accounts=120, days=4, seed=5)):
        event = from_obj(obj)
        assert isinstance(event, s.Event), event  # the simulator makes valid events
        events.append(event)
    return tuple(events)


def unique(prefix: str) -> tuple[str, str]:
    """A stream and subject of one test's own."""
    tag = uuid.uuid4().hex[:10]
    return f"T_{prefix}_{tag}", f"t.{prefix}.{tag}"


def results(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Decisions and alerts, event for event (what the partitions must agree on)."""
    with session_factory(engine)() as session:
        decisions = session.execute(
            select(
                Decision.event_id,
                Decision.row,
                Decision.account_id,
                Decision.outcome,
                Decision.score,
                Decision.reasons,
                Decision.rule_ids,
            )
        ).all()
        alerts = session.execute(
            select(
                Alert.rule_id,
                Alert.event_id,
                Alert.row,
                Alert.account_id,
                Alert.action,
                Alert.score,
                Alert.reason,
                Alert.shadow,
            )
        ).all()
    as_key = lambda row: tuple(str(v) for v in row)  # noqa: E731 - reasons are lists
    return sorted(map(as_key, decisions)), sorted(map(as_key, alerts))


def single_process(engine: Engine, tmp_path: Path, events: tuple[s.Event, ...]) -> None:
    """The single-process monitor over ``events`` (the baseline)."""
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in events], source="file")
    runtime = MonitorRuntime(
        engine, RulesEvaluatorFactory.load(engine), snapshot_path=tmp_path / "baseline.snapshot"
    )
    runtime.catch_up()


def baseline_results(
    tmp_path: Path,
    events: tuple[s.Event, ...],
    prepare: Callable[[Engine], None] | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The single-process monitor's decisions and alerts over ``events``, in a database of
    its own (``prepare`` runs on it first: a model made live, say): what every partition
    layout must reproduce."""
    with migrated_engine("postgres", tmp_path / "one") as baseline:
        if prepare is not None:
            prepare(baseline)
        single_process(baseline, tmp_path, events)
        return results(baseline)


def publish_all(nats_url: str, stream: str, subject: str, events: tuple[s.Event, ...]) -> int:
    return asyncio.run(publish(nats_url, subject, events, partitions=4, stream=stream))


def worker(
    engine: Engine, nats_url: str, stream: str, subject: str, index: int, count: int, **kw: Any
) -> PartitionWorker:
    spec = PartitionSpec(stream, subject, index, count)
    factory = RulesEvaluatorFactory.load(engine)
    return PartitionWorker(engine, factory, spec, nats_url=nats_url, **kw)


def run_until_idle(workers: list[PartitionWorker], idle: float = 0.5) -> list[Stats]:
    """Run the workers side by side until each has read nothing for ``idle`` seconds."""

    async def main() -> list[Stats]:
        stop = asyncio.Event()
        runs = (w.run(stop, idle_exit=idle, fetch_timeout=0.25) for w in workers)
        return list(await asyncio.gather(*runs))

    return asyncio.run(main())


SRC = str(Path(__file__).resolve().parents[2] / "src")


def cluster_environment(
    engine: Engine, data_dir: Path, nats_url: str, stream: str, subject: str, **settings: str
) -> dict[str, str]:
    """The environment of a riskops process of the cluster layout (a partition worker, a
    routed API) on the test's database, stream and subject, plus ``settings``."""
    return {
        **environment(engine, data_dir),
        "RISKOPS_NATS_URL": nats_url,
        "RISKOPS_NATS_STREAM": stream,
        "RISKOPS_NATS_SUBJECT": subject,
        **settings,
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }

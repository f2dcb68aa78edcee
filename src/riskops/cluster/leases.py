"""Running partitions: one owner per partition (the fenced lease), a standby for the rest.

``run_partition`` owns one partition (waiting while another worker holds it: it is then a
standby for that one). ``run_standby`` watches every partition of a stream and takes over
whichever has no living owner, within about half a lease of its expiry: a worker that dies
stops renewing, its lease runs out (``RISKOPS_CLUSTER_LEASE_SECONDS``, 5 s by default),
and the standby takes it, recovers the state from the snapshot and the stream, and goes on
from the checkpoint. The fence makes a worker that only *seemed* dead (paused, cut off)
harmless: its next commit finds the fence changed and is rolled back (ADR 0041).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from riskops.cluster.partition import PartitionSpec, PartitionWorker, Stats, default_owner
from riskops.kernel.config import Settings
from riskops.kernel.logging import get_logger
from riskops.monitor.evaluators import EvaluatorFactory, RulesEvaluatorFactory

log = get_logger(__name__)
Serve = Callable[[Any, PartitionWorker], Any]


def lease_seconds(settings: Settings) -> float:
    """``RISKOPS_CLUSTER_LEASE_SECONDS`` (default 5 s)."""
    return settings.cluster_lease_seconds


DECIDE_GROUPS = 8
"""Decision groups a partition worker publishes to its stream at once (ADR 0042): the next
groups go out while one commits, and its stream read takes them as one batch."""


def decisions_server(settings: Settings, partitions: int) -> Serve | None:
    """How an owner answers routed decisions (``riskops.cluster.routing``), if present."""
    try:
        from riskops.cluster import routing
    except ImportError:  # pragma: no cover - the routing module ships with this package
        return None
    serve_decisions = getattr(routing, "serve_decisions", None)
    if serve_decisions is None:  # pragma: no cover
        return None

    async def serve(nc: Any, worker: PartitionWorker) -> Any:
        return await serve_decisions(
            nc,
            settings.nats_subject,
            worker.spec.partition,
            worker.decide,
            partitions=partitions,
            max_event_bytes=settings.max_event_bytes,
            groups=DECIDE_GROUPS,
        )

    return serve


def make_worker(
    settings: Settings,
    engine: Engine,
    factory: EvaluatorFactory,
    partition: int,
    partitions: int,
    *,
    batch: int = 1_000,
    owner: str | None = None,
) -> PartitionWorker:
    spec = PartitionSpec(settings.nats_stream, settings.nats_subject, partition, partitions)
    return PartitionWorker(
        engine,
        factory,
        spec,
        nats_url=settings.nats_url,
        owner=owner,
        batch_size=batch,
        lease_seconds=lease_seconds(settings),
        snapshot_every=settings.snapshot_every,
        snapshot_seconds=max(settings.snapshot_seconds, 30.0),
        max_event_bytes=settings.max_event_bytes,
    )


async def load_factory(settings: Settings, engine: Engine, attempts: int = 5) -> EvaluatorFactory:
    """The rules (and models) of the database. On a fresh database the first load seeds
    the default pack; workers started together race to seed it, and the losers' unique
    violation is answered by loading again (the pack is then there)."""
    for attempt in range(attempts):
        try:
            return await asyncio.to_thread(
                RulesEvaluatorFactory.load, engine, settings.data_dir / "lists"
            )
        except Exception as exc:
            if attempt == attempts - 1:
                raise
            log.warning("cluster.rules_load_retry", error=type(exc).__name__)
            await asyncio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


async def _bridge(stop: threading.Event, event: asyncio.Event) -> None:
    """Set ``event`` once the signal handlers set ``stop``."""
    while not stop.is_set():
        await asyncio.sleep(0.1)
    event.set()


async def run_partition(
    settings: Settings,
    engine: Engine,
    partition: int,
    partitions: int,
    stop: threading.Event,
    *,
    batch: int = 1_000,
) -> Stats:
    """Own ``partition`` of ``partitions`` until stopped; after a lost lease, try again."""
    factory = await load_factory(settings, engine)
    serve = decisions_server(settings, partitions)
    done = asyncio.Event()
    bridge = asyncio.create_task(_bridge(stop, done))
    stats = Stats()
    owner = default_owner()  # the same over retries: a restart here re-takes its own lease
    try:
        while not done.is_set():
            worker = make_worker(
                settings, engine, factory, partition, partitions, batch=batch, owner=owner
            )
            try:
                stats = await worker.run(done, serve=serve)
            except Exception as exc:  # NATS or the database away at start: try again
                log.error("cluster.partition_failed", partition=partition, error=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 2.0)
                continue
            if not done.is_set():  # the lease was lost: stand by for it again
                log.warning("cluster.partition_lost", partition=partition)
    finally:
        bridge.cancel()
    return stats


async def run_standby(
    settings: Settings,
    engine: Engine,
    partitions: int,
    stop: threading.Event,
    *,
    batch: int = 1_000,
    poll_seconds: float | None = None,
) -> None:
    """Take over every partition of ``partitions`` that has no living owner, and run it
    here until stopped (several partitions may end up in this one process)."""
    factory = await load_factory(settings, engine)
    serve = decisions_server(settings, partitions)
    done = asyncio.Event()
    bridge = asyncio.create_task(_bridge(stop, done))
    poll = poll_seconds if poll_seconds is not None else lease_seconds(settings) / 2
    running: dict[int, asyncio.Task[Stats]] = {}
    log.info("cluster.standby", partitions=partitions)
    try:
        while not done.is_set():
            for index in range(partitions):
                task = running.get(index)
                if task is not None and not task.done():
                    continue
                worker = make_worker(settings, engine, factory, index, partitions, batch=batch)
                if await asyncio.to_thread(worker.try_acquire):
                    log.warning("cluster.takeover", partition=index, owner=worker.owner)
                    running[index] = asyncio.create_task(worker.run(done, serve=serve))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), poll)
        await asyncio.gather(*running.values(), return_exceptions=True)
    finally:
        bridge.cancel()

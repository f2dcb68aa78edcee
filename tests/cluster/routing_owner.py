"""A partition owner for the routing tests, and the events they send.

``FakeOwner`` stands in for the partition worker: a real ``MonitorRuntime`` with the
default rule pack on a SQLite database of its own, answering decision requests through
``serve_decisions``; ``replay_stream`` is what the worker does when it comes back (consume
its partition of the stream, decide what it had not).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.cluster.routing import serve_decisions
from riskops.events import schemas as s
from riskops.events.nats import consume, ensure_stream, partition_of
from riskops.events.validation import decode
from riskops.kernel.db import session_factory
from riskops.monitor.evaluators import RulesEvaluatorFactory
from riskops.monitor.models import Decision
from riskops.monitor.runtime import MonitorRuntime
from riskops.monitor.schemas import DecisionResponse
from support import drop_stream, migrated_engine

T = TypeVar("T")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(
    kind: str, event_id: str, account: str, usd: str, minutes: int = 0, **extra: str
) -> s.Event:
    """A deposit or withdrawal in the wire format, decoded as the API decodes it; each
    account has its own address and IP (no feature crosses partitions)."""
    wire: dict[str, Any] = {
        "type": kind,
        "event_id": event_id,
        "account_id": account,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "asset": "USDT",
        "amount": usd,
        "usd_value": usd,
    }
    if kind == "withdrawal.requested":
        wire |= {"address": f"T-{account}", "chain": "tron", "ip": _ip(account)}
    else:
        wire |= {"rail": "crypto", "chain": "tron", "source_address": f"S-{account}"}
    wire |= extra
    decoded = decode(msgspec.json.encode(wire))
    assert isinstance(decoded, s.Event), decoded
    return decoded


def created(event_id: str, account: str, country: str, minutes: int = 0) -> s.Event:
    """An account's opening, with the country it declares (GEO-001 alerts on high-risk
    IPs of non-residents only)."""
    wire = {
        "type": "account.created",
        "event_id": event_id,
        "account_id": account,
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "country": country,
    }
    decoded = decode(msgspec.json.encode(wire))
    assert isinstance(decoded, s.Event), decoded
    return decoded


def _ip(account: str) -> str:
    n = sum(account.encode()) % 250
    return f"10.1.{n}.{len(account) % 250}"


def accounts_in(partition: int, partitions: int, n: int, prefix: str = "acc") -> list[str]:
    """``n`` account ids of ``partition``."""
    found: list[str] = []
    i = 0
    while len(found) < n:
        account = f"{prefix}-{i}"
        if partition_of(account, partitions) == partition:
            found.append(account)
        i += 1
    return found


def reference_runtime(directory: Path, engine: Engine) -> MonitorRuntime:
    """The in-process monitor: the default pack on ``engine``."""
    factory = RulesEvaluatorFactory.load(engine, directory / "lists")
    return MonitorRuntime(engine, factory, snapshot_path=directory / "monitor.snapshot")


class FakeOwner:
    """The owner of one partition: decides with its own monitor, answers over NATS."""

    def __init__(
        self,
        engine: Engine,
        directory: Path,
        partition: int,
        partitions: int,
        *,
        max_pending: int = 10_000,
    ):
        self.max_pending = max_pending
        self.engine = engine
        self.runtime = reference_runtime(directory, engine)
        self.partition = partition
        self.partitions = partitions
        self.seen: list[str] = []  # event ids handed to decide, in order
        self.groups: list[int] = []  # sizes of the groups decide was called with
        self.gate: asyncio.Event | None = None  # when set up and not set, decide waits
        self.nc: Any = None
        self.sub: Any = None

    async def decide(self, events: list[s.Event]) -> list[DecisionResponse | Exception]:
        self.seen.extend(e.event_id for e in events)
        self.groups.append(len(events))
        if self.gate is not None:
            await self.gate.wait()
        return await asyncio.to_thread(self.runtime.decide_events, events)

    async def start(self, nats_url: str, subject: str) -> None:
        import nats

        self.nc = await nats.connect(nats_url)
        self.sub = await serve_decisions(
            self.nc,
            subject,
            self.partition,
            self.decide,
            partitions=self.partitions,
            max_pending=self.max_pending,
        )

    async def stop(self) -> None:
        if self.nc is not None:
            await self.nc.drain()
            self.nc = None

    async def replay_stream(self, nats_url: str, stream: str, subject: str) -> int:
        """Back after an outage: take what the stream holds for it, decide it; how many
        messages it read."""
        stats = await consume(
            nats_url,
            stream,
            subject,
            f"owner-{self.partition}",
            self.runtime.sessions,
            idle_timeout=1.0,
        )
        await asyncio.to_thread(self.runtime.catch_up)
        return stats.messages

    def decisions_of(self, event_id: str) -> int:
        with session_factory(self.engine)() as session:
            query = select(func.count()).select_from(Decision).where(Decision.event_id == event_id)
            return int(session.scalar(query) or 0)


@contextmanager
def owner_db(directory: Path) -> Iterator[Engine]:
    directory.mkdir(parents=True, exist_ok=True)
    with migrated_engine("sqlite", directory) as engine:
        yield engine


class LoopThread:
    """An event loop in a thread of its own: the owners of a test that drives the API
    through the (synchronous) TestClient live here."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Awaitable[T], timeout: float = 30) -> T:
        async def wrapped() -> T:
            return await work

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def scratch_stream(nats_url: str) -> Iterator[tuple[str, str]]:
    """(stream, subject) of this test alone, created, deleted afterwards."""
    token = uuid.uuid4().hex[:10]
    name, subject = f"T_ROUTE_{token}", f"test.{token}.events"

    async def create() -> None:
        import nats

        nc = await nats.connect(nats_url)
        try:
            await ensure_stream(nc.jetstream(), name, subject)
        finally:
            await nc.close()

    asyncio.run(create())
    try:
        yield name, subject
    finally:
        drop_stream(nats_url, name)


async def stream_messages(nats_url: str, stream: str) -> int:
    import nats

    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()

"""POST /v1/decisions routed to the real partition workers (riskops.cluster.partition) over
the real NATS, the decisions recorded in the real PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cluster_support import worker
from routing_owner import (
    LoopThread,
    accounts_in,
    created,
    event,
    reference_runtime,
    scratch_stream,
)
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.cluster.leases import decisions_server
from riskops.cluster.partition import PartitionWorker, Stats
from riskops.events.schemas import Event, WithdrawalRequested
from riskops.events.validation import decode
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from riskops.monitor.models import Decision, Hold
from riskops.web.app import create_app
from riskops.web.cli import routed_app
from riskops.web.deps import Container
from support import bearer, migrated_engine, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = [pytest.mark.nats, pytest.mark.postgres]
PARTITIONS = 2


class Workers:
    """Partition workers in one event loop of their own, answering routed decisions as
    ``riskops worker --bus nats`` wires them (``leases.decisions_server``)."""

    def __init__(self, engine: Engine, nats_url: str, stream: str, subject: str) -> None:
        self.engine = engine
        self.nats_url = nats_url
        self.stream = stream
        self.subject = subject
        self.loop = LoopThread()
        self.stop = asyncio.Event()
        self.running: list[Future[Stats]] = []
        self.owners: dict[int, PartitionWorker] = {}
        serve = decisions_server(Settings(nats_subject=subject), PARTITIONS)
        assert serve is not None
        self.serve = serve

    def start(self, index: int) -> PartitionWorker:
        ready = threading.Event()

        async def serve(nc: Any, owner: PartitionWorker) -> Any:
            sub = await self.serve(nc, owner)
            ready.set()
            return sub

        owner = worker(self.engine, self.nats_url, self.stream, self.subject, index, PARTITIONS)
        run = owner.run(self.stop, serve=serve)
        self.running.append(asyncio.run_coroutine_threadsafe(run, self.loop.loop))
        assert ready.wait(30), f"partition {index} did not start"
        self.owners[index] = owner
        return owner

    def close(self) -> None:
        self.loop.loop.call_soon_threadsafe(self.stop.set)
        for running in self.running:
            running.result(60)
        self.loop.close()


@contextmanager
def cluster(nats_url: str, tmp_path: Path, live: list[int]) -> Iterator[tuple[TestClient, Workers]]:
    """The routed API, the workers of ``live`` partitions on one PostgreSQL database."""
    with ExitStack() as stack:
        stream, subject = stack.enter_context(scratch_stream(nats_url))
        engine = stack.enter_context(migrated_engine("postgres", tmp_path / "pg"))
        workers = Workers(engine, nats_url, stream, subject)
        stack.callback(workers.close)
        for index in live:
            workers.start(index)
        settings = Settings(
            data_dir=tmp_path / "api",
            nats_url=nats_url,
            nats_subject=subject,
            serve_followers=False,
        )
        app = routed_app(settings, PARTITIONS, timeout_s=5)
        container: Container = app.state.container
        stack.callback(container.engine.dispose)
        client = stack.enter_context(TestClient(app))
        client.headers.update(bearer(token_for(container.engine, ["decision:request"])))
        yield client, workers


def post(client: TestClient, e: Event) -> dict[str, Any]:
    response = client.post("/v1/decisions", content=msgspec.json.encode(e))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return {**body, "hold_id": body["hold_id"] is not None}


def decisions_of(engine: Engine, event_id: str) -> int:
    with session_factory(engine)() as session:
        query = select(func.count()).select_from(Decision).where(Decision.event_id == event_id)
        return int(session.scalar(query) or 0)


def recorded_once(engine: Engine, event_ids: list[str], within: float = 10.0) -> list[int]:
    """How many decisions each event has in the log, once every one has one (or after
    ``within`` seconds). A decision is answered as soon as its batch is decided, and written
    by the batch's commit a moment later (ADR 0049): the log is read until it has caught up,
    and a second copy would show as 2."""
    deadline = time.monotonic() + within
    while True:
        counts = [decisions_of(engine, event_id) for event_id in event_ids]
        if all(counts) or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def test_the_workers_answer_as_the_in_process_monitor(nats_url: str, tmp_path: Path) -> None:
    """The same history through the API routed to two partition workers and through the
    in-process API: the same answers (structuring, pass-through, geography), each
    recorded once by its owner."""
    a = accounts_in(0, PARTITIONS, 2)
    b = accounts_in(1, PARTITIONS, 2)
    history = [
        event("deposit", "d1", b[0], "5000.00", 1),
        *[event("withdrawal.requested", f"s{i}", a[0], f"95{i}0.00", 2 + i) for i in range(4)],
        event("withdrawal.requested", "p1", b[0], "4500.00", 9),
        created("c1", a[1], "DE", 9),
        event("withdrawal.requested", "g1", a[1], "12000.00", 10, ip_country="IR"),
        event("withdrawal.requested", "n1", b[1], "80.00", 11),
    ]
    with migrated_engine("sqlite", tmp_path / "ref") as engine:
        runtime = reference_runtime(tmp_path / "ref", engine)
        app = create_app(Container(Settings(data_dir=tmp_path / "ref"), engine, runtime))
        with TestClient(app) as local:
            local.headers.update(bearer(token_for(engine, ["decision:request"])))
            expected = [post(local, e) for e in history]
    with cluster(nats_url, tmp_path, [0, 1]) as (client, workers):
        answers = [post(client, e) for e in history]
        again = post(client, history[3])
        withdrawals = [e for e in history if isinstance(e, WithdrawalRequested)]
        recorded = recorded_once(workers.engine, [e.event_id for e in withdrawals])
    assert answers == expected
    assert {r["rule_id"] for body in answers for r in body["reasons"]} >= {
        "ST-002",
        "PT-001",
        "GEO-001",
    }
    assert again == {**expected[3], "duplicate": True}
    assert recorded == [1] * len(withdrawals)  # every withdrawal's decision, once


def test_a_dead_partition_is_decided_once_by_its_worker_when_back(
    nats_url: str, tmp_path: Path
) -> None:
    """Partition 1 has no worker: the fail-safe hold, saying so, the withdrawal queued;
    its worker, started, decides it once; asking again returns the worker's decision."""
    [dead] = accounts_in(1, PARTITIONS, 1)
    withdrawal = event("withdrawal.requested", "late-1", dead, "9500.00")
    with cluster(nats_url, tmp_path, [0]) as (client, workers):
        first = post(client, withdrawal)
        assert first["decision"] == "hold"
        [reason] = first["reasons"]
        assert reason["rule_id"] == "FAILSAFE"
        assert reason["reason"].startswith(
            "no owner of partition 1 is listening: held by the fail-safe; queued for the owner"
        )
        assert decisions_of(workers.engine, "late-1") == 0
        workers.start(1)
        # Answered once the worker has decided the queued copy (or this request: whichever
        # it reads first; the other is the same event and is not decided again).
        later = post(client, withdrawal)
        assert (later["decision"], later["reasons"]) == ("allow", [])
        again = post(client, withdrawal)
        assert again == {**later, "duplicate": True}
        assert decisions_of(workers.engine, "late-1") == 1


def test_a_decision_is_answered_before_its_write_and_a_hold_once_stored(
    nats_url: str, tmp_path: Path
) -> None:
    """ADR 0049: with the owner's writes held back, an allow is answered (and not recorded
    yet); a hold (ATO-001: a password reset, then a new device to a new address) is not
    answered until its batch is written, and then with the id of a hold that exists. Both
    are recorded once when the writes go on."""
    [account] = accounts_in(0, PARTITIONS, 1, prefix="early")
    small = event("withdrawal.requested", "e-small", account, "80.00", 1)
    reset = decode(
        msgspec.json.encode(
            {
                "type": "security.change",
                "event_id": "e-reset",
                "account_id": account,
                "occurred_at": "2026-01-01T00:02:00Z",
                "change": "password_reset",
            }
        )
    )
    assert isinstance(reset, Event)
    taken = event(
        "withdrawal.requested", "e-taken", account, "900.00", 3, address="T-new", device_id="d-new"
    )
    gate = threading.Event()
    with cluster(nats_url, tmp_path, [0, 1]) as (client, workers):
        owner = workers.owners[0]
        write = owner.write

        def held_back(work: Any) -> None:
            assert gate.wait(30), "the test did not let the writes go"
            write(work)

        owner.write = held_back  # type: ignore[method-assign]
        try:
            answer = post(client, small)
            assert (answer["decision"], answer["hold_id"]) == ("allow", False)
            assert decisions_of(workers.engine, "e-small") == 0  # answered, not written yet
            assert post(client, reset)["decision"] == "allow"
            with ThreadPoolExecutor(1) as pool:
                asked = pool.submit(post, client, taken)
                with pytest.raises(FuturesTimeout):
                    asked.result(timeout=1.0)  # a hold waits for its write
                gate.set()
                held = asked.result(timeout=30)
        finally:
            gate.set()
        assert (held["decision"], held["hold_id"]) == ("hold", True), held
        assert "ATO-001" in {r["rule_id"] for r in held["reasons"]}
        with session_factory(workers.engine)() as session:
            holds = session.scalars(select(Hold.id).where(Hold.event_id == "e-taken")).all()
        assert len(holds) == 1
        assert recorded_once(workers.engine, ["e-small", "e-taken"]) == [1, 1]

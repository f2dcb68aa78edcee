"""Background passes: a batch per transaction until done or bounded, a pass every few seconds."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.passes import every, in_batches


def test_batches_run_until_one_says_nothing_is_left_each_committed(engine: Engine) -> None:
    sessions = session_factory(engine)
    seen: list[int] = []

    def batch(session: Session) -> bool:
        seen.append(outbox.pending(session, "t"))
        outbox.publish(session, "t", {"i": len(seen)})
        return len(seen) == 3

    assert in_batches(sessions, batch) is True
    # Each batch saw the ones before it committed.
    assert seen == [0, 1, 2]
    with unit_of_work(sessions) as session:
        assert outbox.pending(session, "t") == 3


def test_max_batches_stops_early_and_says_work_is_left(engine: Engine) -> None:
    sessions = session_factory(engine)
    calls: list[Session] = []

    def batch(session: Session) -> bool:
        calls.append(session)
        return False

    assert in_batches(sessions, batch, max_batches=2) is False
    assert len(calls) == 2
    assert in_batches(sessions, batch, max_batches=0) is False
    assert len(calls) == 2


def test_max_seconds_stops_after_the_batch_that_spends_them(engine: Engine) -> None:
    sessions = session_factory(engine)
    calls: list[int] = []

    def batch(session: Session) -> bool:
        calls.append(1)
        return False

    assert in_batches(sessions, batch, max_seconds=0.0) is False
    assert calls == [1]


def test_a_failing_batch_rolls_back_and_propagates_and_the_writer_is_held(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    writer = threading.Lock()
    held: list[bool] = []

    def batch(session: Session) -> bool:
        held.append(writer.locked())
        outbox.publish(session, "t", {"i": len(held)})
        if len(held) == 2:
            raise RuntimeError("the batch failed")
        return False

    with pytest.raises(RuntimeError):
        in_batches(sessions, batch, writer=writer)
    assert held == [True, True]
    assert not writer.locked()
    with unit_of_work(sessions) as session:
        assert outbox.take(session, "t", 10) == [{"i": 1}]


def test_every_runs_the_work_until_stopping_is_set() -> None:
    async def run() -> int:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        runs: list[int] = []

        def work() -> None:  # runs in a thread: the event is set on its loop
            runs.append(1)
            if len(runs) == 3:
                loop.call_soon_threadsafe(stopping.set)

        await asyncio.wait_for(every(work, 0.01, stopping), 5.0)
        return len(runs)

    assert asyncio.run(run()) == 3

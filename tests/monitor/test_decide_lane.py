"""The synchronous decisions' lane: requests decided in groups by one thread, each
answered on its own event loop with its own decision or its group's failure."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from monitor_fakes import FakeFactory, withdrawal
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.events import schemas as s
from riskops.kernel.db import session_factory
from riskops.monitor.models import Decision
from riskops.monitor.runtime import MonitorRuntime
from riskops.monitor.schemas import DecisionResponse


def _deciders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "monitor-decide"]


def _events(start: int, n: int) -> list[s.Event]:
    return [
        withdrawal(f"w{i}", f"acc-{i % 3}", "50.00", minutes=i) for i in range(start, start + n)
    ]


def test_concurrent_requests_are_each_answered_and_stored(engine: Engine, tmp_path: Path) -> None:
    rt = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "m.snapshot")

    async def ask(events: list[s.Event]) -> list[DecisionResponse]:
        answers = await asyncio.gather(*(rt.decide_now(e) for e in events))
        assert len(_deciders()) == 1
        await rt.stop()
        return answers

    first = asyncio.run(ask(_events(0, 40)))
    assert [a.event_id for a in first] == [f"w{i}" for i in range(40)]
    assert not _deciders()  # stop ended the thread
    # a later loop (a restart in the same process) starts the lane again
    again = asyncio.run(ask([*_events(40, 5), *_events(0, 2)]))
    assert [a.event_id for a in again] == [*(f"w{i}" for i in range(40, 45)), "w0", "w1"]
    assert [a.duplicate for a in again] == [False] * 5 + [True] * 2
    assert not _deciders()
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 45


class _FailsOnce(MonitorRuntime):
    failed = False

    def decide_events(self, events: Sequence[s.Event]) -> list[DecisionResponse | Exception]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the database went away")
        return super().decide_events(events)


def test_a_failed_group_fails_its_requests_and_the_lane_goes_on(
    engine: Engine, tmp_path: Path
) -> None:
    rt = _FailsOnce(engine, FakeFactory(), snapshot_path=tmp_path / "m.snapshot")

    async def ask() -> DecisionResponse:
        with pytest.raises(RuntimeError, match="went away"):
            await rt.decide_now(_events(0, 1)[0])
        try:
            return await rt.decide_now(_events(1, 1)[0])
        finally:
            await rt.stop()

    assert asyncio.run(ask()).event_id == "w1"
    assert not _deciders()


def test_a_decision_asked_while_stopping_is_answered(engine: Engine, tmp_path: Path) -> None:
    rt = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "m.snapshot")

    async def ask() -> list[str]:
        first = asyncio.create_task(rt.decide_now(_events(0, 1)[0]))
        await asyncio.sleep(0)  # asked before the stop
        stopping = asyncio.create_task(rt.stop())
        await asyncio.sleep(0)  # the stop has begun: the lane it ends takes no more
        late = await asyncio.wait_for(rt.decide_now(_events(1, 1)[0]), timeout=60)
        await stopping
        await rt.stop()
        return [(await first).event_id, late.event_id]

    assert asyncio.run(ask()) == ["w0", "w1"]
    assert not _deciders()

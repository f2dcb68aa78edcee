"""The runtime: tailing the log, snapshots, restart without loss or duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor_fakes import FakeEvaluator, FakeFactory, deposit, withdrawal
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Alert, Decision
from riskops.monitor.runtime import MonitorRuntime


def log_events(engine: Engine, events: list[s.Event]) -> None:
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in events], source="file")


def stream(n: int, start: int = 0) -> list[s.Event]:
    events: list[s.Event] = []
    for i in range(start, start + n):
        acc = f"acc-{i % 7}"
        if i % 3 == 0:
            events.append(deposit(f"d{i}", acc, "5000.00", minutes=i))
        else:
            events.append(
                withdrawal(f"w{i}", acc, "20000.00" if i % 5 == 0 else "50.00", minutes=i)
            )
    return events


def runtime(engine: Engine, tmp_path: Path, **kwargs: Any) -> MonitorRuntime:
    return MonitorRuntime(
        engine, FakeFactory(), snapshot_path=tmp_path / "monitor.snapshot", **kwargs
    )


def alert_keys(engine: Engine) -> list[tuple[str, str, int]]:
    with session_factory(engine)() as session:
        return sorted(session.execute(select(Alert.rule_id, Alert.event_id, Alert.row)).all())


def test_catch_up_in_batches(engine: Engine, tmp_path: Path) -> None:
    log_events(engine, stream(50))
    rt = runtime(engine, tmp_path, batch_size=8)
    done = rt.catch_up()
    assert (done.events, rt.seq, rt.checkpoint()) == (50, 50, 50)
    evaluator = rt.monitor.evaluator
    assert isinstance(evaluator, FakeEvaluator)
    assert sum(evaluator.counts.values()) == len([e for e in stream(50) if e.event_id[0] == "w"])


def test_restart_from_snapshot_replays_without_duplicates(engine: Engine, tmp_path: Path) -> None:
    events = stream(60)
    log_events(engine, events)
    first = runtime(engine, tmp_path, batch_size=10, snapshot_every=20)
    for _ in range(5):  # 50 events; snapshot at 20 and 40
        first.step()
    assert first.checkpoint() == 50
    # A crash here: the snapshot says 40, the checkpoint 50. The restart replays 41..50.
    second = runtime(engine, tmp_path, batch_size=10, snapshot_every=20)
    assert second.seq == 40
    second.catch_up()
    assert second.checkpoint() == 60
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    reference = runtime(engine, fresh_dir)  # no snapshot: a full replay of the same log
    reference.catch_up()
    assert isinstance(second.monitor.evaluator, FakeEvaluator)
    assert isinstance(reference.monitor.evaluator, FakeEvaluator)
    assert second.monitor.evaluator.counts == reference.monitor.evaluator.counts
    keys = alert_keys(engine)
    assert len(keys) == len(set(keys))
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Decision)) == 60  # all stored


def test_failed_batch_rebuilds_state_and_retries(engine: Engine, tmp_path: Path) -> None:
    log_events(engine, stream(10))
    rt = runtime(engine, tmp_path, batch_size=100)

    class Broken:
        def read_after(self, session, seq, limit):
            from riskops.events.repository import read_after

            return read_after(session, seq, limit)

        def append(self, session, events):
            raise RuntimeError("disk full")

    good_log = rt.log
    rt.log = Broken()
    rt.step()  # reads fine
    rt.log = good_log
    before = dict(rt.monitor.evaluator.counts)  # type: ignore[attr-defined]
    try:
        rt.log = Broken()
        rt.decide_events([withdrawal("new", "acc-1", "1.00")])
    except RuntimeError:
        pass
    rt.log = good_log
    assert rt.monitor.evaluator.counts == {}  # type: ignore[attr-defined]  # rebuilt: no snapshot
    assert rt.seq == 0
    rt.catch_up()
    assert rt.monitor.evaluator.counts == before  # type: ignore[attr-defined]


def test_a_snapshot_ahead_of_the_database_is_not_used(engine: Engine, tmp_path: Path) -> None:
    """A snapshot from another database (or a database restored from an older backup) would
    make the monitor skip events; it is refused and the log is replayed from the start."""
    log_events(engine, stream(30))
    first = runtime(engine, tmp_path, batch_size=10)
    first.catch_up()
    first.snapshot()
    with unit_of_work(session_factory(engine)) as session:
        session.execute(text("UPDATE monitor_checkpoints SET last_seq = 10"))
    second = runtime(engine, tmp_path, batch_size=10)
    assert second.seq == 0
    assert second.catch_up().events == 30

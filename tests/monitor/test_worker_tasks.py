"""The monitor's loop runs the ``Periodic`` tasks it is handed (the composition at the top
chooses them: ``riskops.worker``), each when due, the final ones before ``--once`` returns."""

from __future__ import annotations

from pathlib import Path

from monitor_fakes import withdrawal
from sqlalchemy.engine import Engine

from processes import database_url
from riskops.events.service import ingest
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import worker as monitor_worker


def settings_for(engine: Engine, tmp_path: Path, **values: float) -> Settings:
    return Settings(
        database_url=database_url(engine), data_dir=tmp_path, snapshot_seconds=0, **values
    )


def test_the_loop_runs_each_task_when_due_and_the_final_ones_before_once_returns(
    engine: Engine, tmp_path: Path
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        events = [withdrawal(f"w{i}", "acc-1", "50.00", minutes=i) for i in range(3)]
        ingest(session, [(None, e) for e in events], source="file")
    calls: list[str] = []
    tasks = [
        monitor_worker.Periodic("often", 3600, lambda _s: calls.append("often")),
        monitor_worker.Periodic("off", 0, lambda _s: calls.append("off")),
        monitor_worker.Periodic("last", 0, lambda _s: calls.append("last"), final=True),
        monitor_worker.Periodic("both", 3600, lambda _s: calls.append("both"), final=True),
    ]
    summary = monitor_worker.run(settings_for(engine, tmp_path), once=True, tasks=tasks)
    assert summary.result.events == 3
    # due at the start, not again within the hour; a period of 0 never runs on time;
    # the final ones run once the log is drained, after everything else
    assert calls == ["often", "both", "last", "both"]

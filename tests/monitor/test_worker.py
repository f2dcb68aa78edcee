"""The worker outlives a lost database (backoff, then it goes on), and a restart reaches live
decisions within seconds: the state is snapshotted by time as well as by count.

Finding 13: a restart replayed up to 50,000 events (the count interval) before it decided
again; now it replays at most what arrived since the last timed snapshot."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from monitor_fakes import FakeFactory, withdrawal
from sqlalchemy import text
from sqlalchemy.engine import Engine

from processes import database_url, environment, reap_group, start, wait_for
from riskops.events.service import ingest
from riskops.kernel.config import Settings
from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
from riskops.kernel.retry import Backoff
from riskops.monitor import repository as repo
from riskops.monitor import worker
from riskops.monitor.runtime import SNAPSHOT_FILE, MonitorRuntime, SnapshotFile
from support import migrated_engine


def log_withdrawals(engine: Engine, prefix: str, n: int) -> None:
    events = [withdrawal(f"{prefix}{i}", f"acc-{i % 5}", "50.00", minutes=i) for i in range(n)]
    with unit_of_work(session_factory(engine)) as session:
        assert ingest(session, [(None, e) for e in events], source="file").accepted == n


def checkpoint(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return repo.get_checkpoint(session, "default")


def snapshot_seq(path: Path) -> int:
    try:
        return msgspec.msgpack.decode(path.read_bytes(), type=SnapshotFile).seq
    except (OSError, msgspec.DecodeError):
        return -1


# --- snapshot by time ----------------------------------------------------------------


def test_a_timed_snapshot_bounds_the_replay_after_a_crash(engine: Engine, tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "monitor.snapshot"

    def runtime() -> MonitorRuntime:
        return MonitorRuntime(
            engine,
            FakeFactory(),
            snapshot_path=path,
            snapshot_every=1_000_000,  # the count interval never comes
            snapshot_seconds=5,
            batch_size=4,
            clock=lambda: now[0],
        )

    first = runtime()
    log_withdrawals(engine, "a", 10)
    first.catch_up()
    assert not path.exists()  # under 5 s since the start
    now[0] = 5.0
    assert first.step().read == 0  # idle, and 5 s passed with progress: snapshot now
    assert snapshot_seq(path) == 10
    log_withdrawals(engine, "b", 7)
    first.catch_up()  # no snapshot: the clock did not move
    assert snapshot_seq(path) == 10 and first.checkpoint() == 17
    now[0] = 9.0
    first.step()
    assert snapshot_seq(path) == 10  # 4 s since the last one
    # A crash here (no stop, no final snapshot): the restart replays 7 events, not 17.
    second = runtime()
    assert second.seq == 10
    assert second.catch_up().events == 7
    log_withdrawals(engine, "c", 3)
    now[0] = 20.0
    second.catch_up()  # the batch that crosses the 5 s mark writes one
    assert snapshot_seq(path) == 20


def test_a_killed_worker_restarts_from_its_timed_snapshot(tmp_path: Path) -> None:
    """The real worker, SIGKILLed once it has caught up and its timed snapshot is written:
    the restart decides only what arrived since."""
    engine = make_engine(f"sqlite:///{tmp_path / 'riskops.db'}")
    migrate(engine)
    log_withdrawals(engine, "w", 120)
    env = environment(engine, tmp_path)
    env.update(RISKOPS_SNAPSHOT_EVERY="1000000", RISKOPS_SNAPSHOT_SECONDS="0.2")
    proc = start(env, "worker", "--batch", "50")
    try:
        wait_for(lambda: snapshot_seq(tmp_path / SNAPSHOT_FILE) == 120, "a timed snapshot")
        proc.kill()
        proc.communicate(timeout=30)
        log_withdrawals(engine, "late", 9)
        again = start(env, "worker", "--once", "--batch", "50")
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err.decode()
        assert "processed 9 events" in out.decode()
        assert checkpoint(engine) == 129
    finally:
        reap_group(proc.pid)
        engine.dispose()


# --- a lost database -----------------------------------------------------------------


@pytest.fixture
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine("postgres", tmp_path_factory.mktemp("pg")) as engine:
        yield engine


@pytest.mark.postgres
def test_the_worker_outlives_terminated_connections(postgres: Engine, tmp_path: Path) -> None:
    """Every connection of the running worker is terminated (pg_terminate_backend), three
    times, with events arriving between: it keeps running and decides them all."""
    engine = postgres
    name = f"h2-worker-{uuid.uuid4().hex[:8]}"
    env = environment(engine, tmp_path)
    env.update(
        RISKOPS_DATABASE_URL=f"{database_url(engine)}&application_name={name}",
        RISKOPS_HOUSEKEEPING_SECONDS="0.05",  # every pass touches the database first
        RISKOPS_INTAKE_POLL_SECONDS="0.05",
    )
    log_withdrawals(engine, "first", 20)
    proc = start(env, "worker", "--batch", "10")
    try:
        wait_for(lambda: checkpoint(engine) == 20, "the first events decided")
        for round_ in range(3):
            killed = _terminate(engine, name)
            assert killed, "the worker should hold a connection"
            log_withdrawals(engine, f"r{round_}-", 10)
            expected = 30 + 10 * round_
            wait_for(lambda e=expected: checkpoint(engine) == e, f"round {round_} decided")
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    finally:
        reap_group(proc.pid)


def _terminate(engine: Engine, application_name: str) -> int:
    with engine.begin() as conn:
        return len(
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name},
            ).all()
        )


def test_the_worker_waits_for_a_database_that_is_not_there_yet(tmp_path: Path) -> None:
    """Started while its database cannot be opened, it retries with backoff and, once it
    can, decides what is logged."""
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data directory should be")
    settings = Settings(
        data_dir=blocked, housekeeping_seconds=0, intake_poll_seconds=0, snapshot_seconds=0
    )
    backoff = Backoff(initial=0.01, maximum=0.05)
    stop = threading.Event()
    summary: list[Any] = []
    thread = threading.Thread(
        target=lambda: summary.append(worker.run(settings, stop=stop, backoff=backoff))
    )
    thread.start()
    try:
        wait_for(lambda: backoff.failures >= 3, "three failed starts")
        assert thread.is_alive()
        blocked.unlink()  # the database can be created now
        wait_for(lambda: (blocked / "riskops.db").exists() and backoff.failures == 0, "a start")
        engine = make_engine(settings.sqlalchemy_url)
        wait_for(lambda: _migrated(engine), "the migrated database")
        log_withdrawals(engine, "x", 5)
        wait_for(lambda: checkpoint(engine) == 5, "the events decided")
        engine.dispose()
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert summary[0].result.events == 5


def _migrated(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT 1 FROM sqlite_master WHERE name = 'monitor_checkpoints'")
            ).first()
        )


def test_a_database_lost_mid_batch_keeps_the_snapshot(engine: Engine, tmp_path: Path) -> None:
    """The state is rebuilt from the snapshot once the database answers again. Before, the
    rebuild read the checkpoint while the database was gone, judged the snapshot unusable
    and replayed the whole log from the start."""
    from sqlalchemy.exc import OperationalError

    from riskops.kernel.db import session_factory as sessions_of

    rt = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "s", batch_size=4)
    log_withdrawals(engine, "a", 10)
    rt.catch_up()
    rt.snapshot()
    log_withdrawals(engine, "b", 5)
    working = rt.sessions
    rt.sessions = sessions_of(make_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}"))
    (tmp_path / "gone").rmdir()  # make_engine made it: without it SQLite cannot open the file
    with pytest.raises(OperationalError):
        rt.step()
    with pytest.raises(OperationalError):  # still gone: the rebuild waits, nothing is lost
        rt.step()
    rt.sessions = working
    assert rt.catch_up().events == 5  # from the snapshot at 10, not 15 from the start
    assert rt.checkpoint() == 15


def test_snapshots_are_written_by_a_forked_child_in_the_background(
    engine: Engine, tmp_path: Path
) -> None:
    """The state as it was at the fork, written while the runtime goes on deciding (the
    encoding takes about a second for a large state, under the runtime's lock otherwise)."""
    path = tmp_path / "monitor.snapshot"
    rt = MonitorRuntime(
        engine,
        FakeFactory(),
        snapshot_path=path,
        snapshot_every=5,
        batch_size=5,
        background_snapshots=True,
    )
    log_withdrawals(engine, "a", 20)
    rt.catch_up()
    wait_for(lambda: snapshot_seq(path) in (5, 10, 15, 20), "a snapshot from the child")
    rt.snapshot()  # waits for a child still writing, then writes the state now
    assert snapshot_seq(path) == 20
    assert not list(tmp_path.glob("*.tmp"))
    restored = MonitorRuntime(engine, FakeFactory(), snapshot_path=path)
    assert restored.seq == 20
    assert restored.monitor.evaluator.counts == rt.monitor.evaluator.counts  # type: ignore[attr-defined]

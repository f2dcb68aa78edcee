"""The kill test: SIGKILL the worker mid-stream, restart it, lose nothing, duplicate nothing.

Runs the real rules engine with the default pack over simulated exchange traffic, in a
worker subprocess on SQLite and on PostgreSQL, and compares with an uninterrupted run on a
fresh database of the same kind. Nothing of the killed worker survives it, and the event
log takes writes at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from processes import environment, kill_and_reap
from riskops.events.service import ingest
from riskops.events.validation import decode, from_obj
from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
from riskops.monitor import repository as repo
from riskops.monitor.models import Alert, Decision
from riskops.sim import SimConfig, generate
from support import migrated_engine

SRC = str(Path(__file__).resolve().parents[2] / "src")


def setup_db(directory: Path, events: list) -> tuple[Engine, dict[str, str]]:
    """A SQLite file holding ``events``, and the worker's environment on it."""
    directory.mkdir()
    engine = make_engine(f"sqlite:///{directory / 'riskops.db'}")
    migrate(engine)
    return engine, fill(engine, directory, events)


def fill(engine: Engine, directory: Path, events: list) -> dict[str, str]:
    """Store ``events`` in the log of ``engine``; the worker's environment on it."""
    with unit_of_work(session_factory(engine)) as session:
        report = ingest(session, [(None, e) for e in events], source="file")
        assert report.accepted == len(events)
    return {
        **environment(engine, directory),
        "RISKOPS_SNAPSHOT_EVERY": "700",
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "riskops.worker", "--batch", "50", *args]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def checkpoint(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return repo.get_checkpoint(session, "default")


def outcome(engine: Engine) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
    with session_factory(engine)() as session:
        alerts = [
            tuple(r) for r in session.execute(select(Alert.rule_id, Alert.event_id, Alert.row))
        ]
        decisions = [tuple(r) for r in session.execute(select(Decision.event_id, Decision.row))]
    return sorted(alerts), sorted(decisions)  # type: ignore[arg-type]


def outbox_size(engine: Engine) -> int:
    """Monitor alerts published and not yet delivered into cases."""
    from riskops.kernel import outbox
    from riskops.monitor.service import ALERT_RAISED

    with session_factory(engine)() as session:
        return outbox.pending(session, ALERT_RAISED)


def case_grouping(engine: Engine) -> list[tuple[str | None, str, bool, int]]:
    """Each case alert with its account, whether it is a duplicate, and its case's count."""
    from riskops.cases.models import Case, CaseAlert

    with session_factory(engine)() as session:
        rows = session.execute(
            select(
                Case.account_id, CaseAlert.source_ref, CaseAlert.duplicate_of, Case.alert_count
            ).join(Case, Case.id == CaseAlert.case_id)
        )
        return sorted((a, ref, dup is not None, n) for a, ref, dup, n in rows)


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing_duplicates_nothing(
    engine: Engine, tmp_path: Path, groups: list[int]
) -> None:
    events = [from_obj(o) for o in generate(SimConfig(accounts=200, days=6, seed=11))]
    n = len(events)
    env = fill(engine, tmp_path, events)
    snapshot = tmp_path / "monitor.snapshot"
    proc = worker(env)
    groups.append(proc.pid)
    deadline = time.monotonic() + 60
    while checkpoint(engine) < n * 0.4 or not snapshot.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.01)
    left = kill_and_reap(proc)
    assert left == set(), f"processes of the killed worker still alive: {left}"
    at_kill = checkpoint(engine)
    assert 0 < at_kill < n, f"killed at {at_kill} of {n}: not mid-stream"
    # The event log takes a write at once (on PostgreSQL: its lock is free).
    late = decode(msgspec.json.encode(_late_event()))
    with unit_of_work(session_factory(engine)) as session:
        assert ingest(session, [(None, late)], source="http").accepted == 1

    restarted = worker(env, "--once")
    groups.append(restarted.pid)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()
    assert checkpoint(engine) == n + 1
    assert "events/s" in out.decode()

    with ExitStack() as stack:
        elsewhere = tmp_path / "reference"
        elsewhere.mkdir()
        kind = "sqlite" if engine.dialect.name == "sqlite" else "postgres"
        reference_engine = stack.enter_context(migrated_engine(kind, elsewhere))
        reference_env = fill(reference_engine, elsewhere, [*events, late])
        reference = worker(reference_env, "--once")
        groups.append(reference.pid)
        _, err = reference.communicate(timeout=120)
        assert reference.returncode == 0, err.decode()

        alerts, decisions = outcome(engine)
        expected_alerts, expected_decisions = outcome(reference_engine)
        assert len(alerts) == len(set(alerts)), "duplicate alerts"
        assert len(expected_alerts) > 50, "the default pack should raise alerts on this traffic"
        assert alerts == expected_alerts
        assert decisions == expected_decisions
        # Each worker delivers the intake outbox before --once exits; the killed run's
        # outbox rows (and the replayed batches' again) were kept until delivered, and a
        # replayed alert changed nothing: no case alert lost or doubled.
        assert outbox_size(engine) == outbox_size(reference_engine) == 0
        cases = case_grouping(engine)
        assert len(cases) > 10, "live review/hold/block hits should open cases"
        assert cases == case_grouping(reference_engine)


def _late_event() -> dict[str, object]:
    """A login written after the kill, later than the simulated traffic."""
    return {
        "type": "login",
        "event_id": "after-kill",
        "account_id": "after-kill",
        "occurred_at": "2026-01-01T00:00:00Z",
        "ip": "192.0.2.1",
        "success": True,
    }


def test_sigterm_stops_gracefully_with_a_snapshot(tmp_path: Path) -> None:
    import msgspec

    from riskops.monitor.runtime import SnapshotFile

    events = [from_obj(o) for o in generate(SimConfig(accounts=100, days=5, seed=5))]
    engine, env = setup_db(tmp_path / "db", events)
    proc = worker(env)
    deadline = time.monotonic() + 60
    while checkpoint(engine) < len(events):
        assert proc.poll() is None
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    snap = msgspec.msgpack.decode(
        (tmp_path / "db" / "monitor.snapshot").read_bytes(), type=SnapshotFile
    )
    assert snap.seq == len(events)

"""The kill test: SIGKILL the worker mid-stream, restart it, lose nothing, duplicate nothing.

Runs the real rules engine with the default pack over simulated exchange traffic, in a
worker subprocess on a SQLite file, and compares with an uninterrupted run on a fresh DB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.events.service import ingest
from riskops.events.validation import from_obj
from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
from riskops.monitor import repository as repo
from riskops.monitor.models import Alert, Decision
from riskops.sim import SimConfig, generate

SRC = str(Path(__file__).resolve().parents[2] / "src")


def setup_db(directory: Path, events: list) -> tuple[Engine, dict[str, str]]:
    directory.mkdir()
    url = f"sqlite:///{directory / 'riskops.db'}"
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(session_factory(engine)) as session:
        report = ingest(session, [(None, e) for e in events], source="file")
        assert report.accepted == len(events)
    env = {
        **os.environ,
        "RISKOPS_DATABASE_URL": url,
        "RISKOPS_DATA_DIR": str(directory),
        "RISKOPS_SNAPSHOT_EVERY": "700",
        "RISKOPS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    return engine, env


def worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "riskops.monitor.worker", "--batch", "50", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


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
    from riskops.cases.repository import outbox_size

    with session_factory(engine)() as session:
        return outbox_size(session)


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
def test_sigkill_mid_stream_loses_nothing_duplicates_nothing(tmp_path: Path) -> None:
    events = [from_obj(o) for o in generate(SimConfig(accounts=600, days=10, seed=11))]
    n = len(events)
    engine, env = setup_db(tmp_path / "killed", events)
    snapshot = tmp_path / "killed" / "monitor.snapshot"
    proc = worker(env)
    deadline = time.monotonic() + 60
    while checkpoint(engine) < n * 0.4 or not snapshot.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    at_kill = checkpoint(engine)
    assert 0 < at_kill < n, f"killed at {at_kill} of {n}: not mid-stream"
    print(f"killed at checkpoint {at_kill} of {n} events")

    restarted = worker(env, "--once")
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()
    assert checkpoint(engine) == n
    assert "events/s" in out.decode()

    reference_engine, reference_env = setup_db(tmp_path / "reference", events)
    reference = worker(reference_env, "--once")
    _, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err.decode()

    alerts, decisions = outcome(engine)
    expected_alerts, expected_decisions = outcome(reference_engine)
    assert len(alerts) == len(set(alerts)), "duplicate alerts"
    assert len(expected_alerts) > 50, "the default pack should raise alerts on this traffic"
    assert alerts == expected_alerts
    assert decisions == expected_decisions
    # Each worker delivers the intake outbox before --once exits; the killed run's outbox
    # rows (and the replayed batches' again) were kept until delivered, and a replayed
    # alert changed nothing: no case alert lost or doubled.
    assert outbox_size(engine) == outbox_size(reference_engine) == 0
    cases = case_grouping(engine)
    assert len(cases) > 10, "live review/hold/block hits should open cases"
    assert cases == case_grouping(reference_engine)


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

"""kill -9 of a partition worker in the middle of the stream, a standby takes over: the
decisions and alerts are exactly those of the single-process monitor (nothing lost,
nothing doubled), every event is in the log once. Real processes on PostgreSQL and NATS."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cluster_support import (
    baseline_results,
    cluster_environment,
    history,
    publish_all,
    results,
    unique,
)
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from processes import kill_and_reap, start, wait_for
from riskops.cluster import repository as repo
from riskops.events.models import EventRecord
from riskops.kernel.db import session_factory
from support import drop_stream, migrated_engine

pytestmark = pytest.mark.postgres


def _checkpoints(engine: Engine, stream: str) -> dict[int, int]:
    with session_factory(engine)() as session:
        return {p.partition: p.checkpoint for p in repo.partitions(session, stream)}


def test_kill_9_mid_stream_then_takeover_is_exactly_once(
    nats_url: str, tmp_path: Path, groups: list[int]
) -> None:
    events = history()
    stream, subject = unique("kill")
    try:
        expected = baseline_results(tmp_path, events)
        with migrated_engine("postgres", tmp_path / "db") as engine:
            env = cluster_environment(
                engine,
                tmp_path / "data",
                nats_url,
                stream,
                subject,
                RISKOPS_SNAPSHOT_EVERY="200",
                RISKOPS_CLUSTER_LEASE_SECONDS="2",  # a quicker takeover
            )
            assert publish_all(nats_url, stream, subject, events) == len(events)
            worker = ("worker", "--bus", "nats", "--batch", "20")
            doomed = start(env, *worker, "--partition", "0/2")
            other = start(env, *worker, "--partition", "1/2")
            groups.extend([doomed.pid, other.pid])
            wait_for(lambda: _checkpoints(engine, stream).get(0, 0) > 0, "partition 0 to commit")
            assert not kill_and_reap(doomed), "the killed worker left processes behind"
            at_kill = _checkpoints(engine, stream)[0]
            standby = start(env, *worker, "--standby", "--partitions", "2")
            groups.append(standby.pid)
            done = len(events)
            wait_for(
                lambda: set(_checkpoints(engine, stream).values()) == {done},
                "the standby to take partition 0 over and finish",
                seconds=90,
            )
            # A transfer's second row waits for its event's partition to log the event.
            wait_for(lambda: results(engine) == expected, "the same results", seconds=30)
            for proc in (other, standby):
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=30)
                assert proc.returncode == 0, err.decode()[-2000:]
            assert at_kill < done, "the kill came after the end: not a mid-stream kill"
            assert results(engine) == expected
            with session_factory(engine)() as session:
                stored = session.scalar(select(func.count()).select_from(EventRecord))
                assert stored == len(events)
                (zero, _) = repo.partitions(session, stream)
                assert zero.fence >= 2, "partition 0 should have changed owner"
                assert zero.owner is None, "a clean stop gives the partition up"
    finally:
        drop_stream(nats_url, stream)

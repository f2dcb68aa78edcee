"""Recovery: a partition restarts from its snapshot and replays the stream from the
snapshot's sequence to the checkpoint without writing, then goes on; the results are those
of one uninterrupted run (nothing lost, nothing written twice)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cluster_support import (
    baseline_results,
    history,
    publish_all,
    results,
    unique,
    worker,
)
from sqlalchemy import func, select

from riskops.cluster import repository as repo
from riskops.cluster.partition import Message
from riskops.events.models import EventRecord
from riskops.kernel.db import session_factory
from support import drop_stream, migrated_engine

pytestmark = pytest.mark.postgres


def test_restart_from_snapshot_replays_to_the_checkpoint(nats_url: str, tmp_path: Path) -> None:
    events = history()
    stream, subject = unique("snap")
    messages = [Message(i + 1, msgspec.json.encode(e)) for i, e in enumerate(events)]
    snap_at, crash_at = len(events) // 3, (2 * len(events)) // 3
    try:
        publish_all(nats_url, stream, subject, events)
        expected = baseline_results(tmp_path, events)
        with migrated_engine("postgres", tmp_path / "two") as engine:
            first = worker(engine, nats_url, stream, subject, 0, 1, owner="first")
            assert first.try_acquire()
            first.recover()
            for start in range(0, snap_at, 250):
                first.apply(messages[start : min(start + 250, snap_at)])
            first.snapshot()
            first.apply(messages[snap_at:crash_at])
            # ... and the process dies here: no snapshot of the later batch, lease kept.
            first.release()  # (a kill -9 leaves it to expire: the kill test covers that)
            with session_factory(engine)() as session:
                row = repo.load_snapshot(session, stream, 0)
                assert row is not None and row.seq == snap_at
                assert repo.checkpoint(session, stream, 0) == crash_at

            second = worker(engine, nats_url, stream, subject, 0, 1, owner="second")

            async def run() -> None:
                await second.run(asyncio.Event(), idle_exit=1.0)

            asyncio.run(run())
            assert second.stats.replayed == crash_at - snap_at
            assert second.stats.messages == len(events) - crash_at
            assert results(engine) == expected
            with session_factory(engine)() as session:
                stored = session.scalar(select(func.count()).select_from(EventRecord))
                assert stored == len(events)
                row = repo.load_snapshot(session, stream, 0)
                assert row is not None and row.seq == len(events)  # the clean stop's snapshot
    finally:
        drop_stream(nats_url, stream)


def test_a_snapshot_ahead_of_the_checkpoint_is_not_used(nats_url: str, tmp_path: Path) -> None:
    """A snapshot from another database (or a restored older backup) would skip events."""
    events = history()[:300]
    stream, subject = unique("ahead")
    with migrated_engine("postgres", tmp_path / "db") as engine:
        first = worker(engine, nats_url, stream, subject, 0, 1, owner="first")
        assert first.try_acquire()
        first.recover()
        first.apply([Message(i + 1, msgspec.json.encode(e)) for i, e in enumerate(events)])
        first.snapshot()
        with session_factory(engine).begin() as session:
            from riskops.cluster.models import PartitionLease

            session.execute(
                PartitionLease.__table__.update().values(checkpoint=100)  # an older backup
            )
        first.recover()
        assert (first.seq, first.durable) == (0, 100)  # replays from the start, state-only


def test_pending_second_rows_survive_a_snapshot() -> None:
    """A transfer's second row waiting for its event's partition is part of the state."""
    from riskops.cluster import snapshots
    from riskops.monitor.engine import Reason, RowDecision
    from riskops.rules.types import Action, Hit

    hit = Hit("AML-001", 2, Action.REVIEW, 30, "fan-in", "mule", False)
    decision = RowDecision(
        "t1", 1, "acc-2", 7, "transfer.internal", Action.REVIEW, 30,
        [Reason("AML-001", "review", 30, "fan-in")], [hit], [],
    )  # fmt: skip
    state = snapshots.PartitionState(
        7, b"evaluator", ["t1"], pending=[snapshots.Pending('{"event_id": "t1"}', [decision])]
    )
    again = snapshots.decode(snapshots.encode(state))
    assert again == state
    assert again.pending[0].decisions[0].outcome is Action.REVIEW


def _apply_some(first: Any, events: list[Any]) -> None:
    assert first.try_acquire()
    first.recover()
    first.apply([Message(i + 1, msgspec.json.encode(e)) for i, e in enumerate(events)])


def _stored(engine: Any, stream: str) -> bytes:
    with session_factory(engine)() as session:
        row = repo.load_snapshot(session, stream, 0)
    assert row is not None
    return bytes(row.state)


def test_the_forked_snapshot_is_the_one_taken_under_the_lock(nats_url: str, tmp_path: Path) -> None:
    """ADR 0053: a child encodes the state as it was at the fork, byte for byte."""
    events = history()[:400]
    stream, subject = unique("forked")
    with migrated_engine("postgres", tmp_path / "db") as engine:
        first = worker(engine, nats_url, stream, subject, 0, 1, owner="first")
        _apply_some(first, events)
        first.snapshot()
        forked = _stored(engine, stream)
        first.fork_snapshots = False
        first.snapshot()
        assert _stored(engine, stream) == forked
        assert first.stats.snapshots == 2


def test_decisions_go_on_while_the_child_encodes(
    nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state's lock is held for the fork, not for the encoding; a failed child leaves
    the snapshot before it, and the next one is taken."""
    events = history()[:300]
    stream, subject = unique("aside")
    with migrated_engine("postgres", tmp_path / "db") as engine:
        first = worker(engine, nats_url, stream, subject, 0, 1, owner="first")
        _apply_some(first, events)
        inner = first.evaluator.snapshot

        def slow() -> bytes:
            time.sleep(1.5)  # in the child: a state that takes long to encode
            return bytes(inner())

        monkeypatch.setattr(first.evaluator, "snapshot", slow)
        taking = threading.Thread(target=first.snapshot)
        started = time.monotonic()
        taking.start()
        time.sleep(0.2)
        assert first._lock.acquire(timeout=0.5), "the lock waited for the encoding"
        waited = time.monotonic() - started
        first._lock.release()
        assert taking.is_alive() and waited < 1.0
        taking.join(timeout=30)
        assert first.stats.snapshots == 1
        kept = _stored(engine, stream)

        def broken() -> bytes:
            raise RuntimeError("cannot encode")

        monkeypatch.setattr(first.evaluator, "snapshot", broken)
        first.snapshot()  # the child fails: logged, nothing stored, nothing raised here
        assert first.stats.snapshots == 1 and _stored(engine, stream) == kept
        monkeypatch.setattr(first.evaluator, "snapshot", inner)
        first.snapshot()
        assert first.stats.snapshots == 2

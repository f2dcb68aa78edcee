"""Ownership: one owner per partition at a time, fenced in the commit transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from riskops.cluster import repository as repo
from riskops.cluster.partition import (
    LeaseLost,
    Message,
    PartitionSpec,
    PartitionWorker,
    parse_partition,
)
from riskops.events.validation import from_obj
from riskops.kernel.clock import utcnow
from riskops.kernel.db import session_factory
from riskops.monitor.evaluators import RulesEvaluatorFactory
from riskops.monitor.models import Decision

SPEC = PartitionSpec("T_LEASE", "t.lease", 0, 1)


def _worker(engine: Engine, owner: str, ahead: float = 0.0) -> PartitionWorker:
    """A worker whose clock is ``ahead`` seconds in the future (a lease seen as expired)."""
    factory = RulesEvaluatorFactory.load(engine)
    return PartitionWorker(
        engine,
        factory,
        SPEC,
        nats_url="nats://unused",
        owner=owner,
        lease_seconds=5.0,
        clock=lambda: utcnow() + timedelta(seconds=ahead),
    )


def _withdrawal(n: int) -> Message:
    event = from_obj(
        {
            "event_id": f"w{n}",
            "type": "withdrawal.requested",
            "account_id": "acc-1",
            "occurred_at": f"2026-01-01T00:{n:02d}:00Z",
            "withdrawal_id": f"wd{n}",
            "asset": "BTC",
            "amount": "0.1",
            "usd_value": "5000",
            "chain": "bitcoin",
            "address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        }
    )
    import msgspec

    return Message(n, msgspec.json.encode(event))


def _decided(engine: Engine) -> set[str]:
    with session_factory(engine)() as session:
        return set(
            session.scalars(Decision.__table__.select().with_only_columns(Decision.event_id))
        )


def test_a_held_partition_cannot_be_taken_and_a_stale_owner_cannot_commit(engine: Engine) -> None:
    first, second = _worker(engine, "first"), _worker(engine, "second")
    assert first.try_acquire()
    assert not second.try_acquire(), "a living lease must keep the partition its owner's"
    first.recover()
    first.apply([_withdrawal(1)])
    assert _decided(engine) == {"w1"}

    # The first owner stalls past its lease; a standby whose clock says so takes over.
    late = _worker(engine, "standby", ahead=60.0)
    assert late.try_acquire()
    assert late.fence is not None and first.fence is not None and late.fence > first.fence
    with pytest.raises(LeaseLost):
        first.apply([_withdrawal(2)])  # fenced: nothing of it is committed
    assert _decided(engine) == {"w1"}
    with session_factory(engine)() as session:
        assert repo.checkpoint(session, SPEC.stream, 0) == 1
        (row,) = repo.partitions(session, SPEC.stream)
        assert row.owner == "standby"

    # The new owner goes on from the checkpoint, and decides the event the stale one lost.
    late.recover()
    assert late.durable == 1
    late.apply([_withdrawal(1), _withdrawal(2)])
    assert _decided(engine) == {"w1", "w2"}


def test_a_released_partition_is_free_at_once(engine: Engine) -> None:
    first, second = _worker(engine, "first"), _worker(engine, "second")
    assert first.try_acquire()
    first.release()
    assert second.try_acquire()


@pytest.mark.parametrize("text", ["", "1", "2/2", "-1/2", "a/b", "0/0", "1/2/3"])
def test_a_bad_partition_is_refused_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="--partition"):
        parse_partition(text)
    assert parse_partition("1/4") == (1, 4)


def test_status_shows_owner_lag_and_snapshot(engine: Engine) -> None:
    from riskops.cluster.status import cluster_status

    live = _worker(engine, "live")
    assert live.try_acquire()
    live.recover()
    live.apply([_withdrawal(1), _withdrawal(2)])
    live.snapshot()
    with session_factory(engine)() as session:
        found = cluster_status(session, SPEC.stream, 5, utcnow(), max_lag=10)
        assert found.ready and found.reason is None
        (part,) = found.partitions
        assert (part.owner, part.checkpoint, part.lag, part.snapshot_seq) == ("live", 2, 3, 2)
        assert cluster_status(session, SPEC.stream, 50, utcnow(), max_lag=10).ready is False
        later = utcnow() + timedelta(seconds=60)  # the lease has run out: nobody owns it
        dead = cluster_status(session, SPEC.stream, 2, later)
        assert not dead.ready and dead.partitions[0].owner is None
        assert "without a living owner" in (dead.reason or "")
        assert cluster_status(session, "NO_SUCH_STREAM", None, utcnow()).ready is False


def test_a_hole_in_the_stream_is_read_again_then_passed(sqlite_engine: Engine) -> None:
    """Nothing is acked: a message lost on the way would never come again, so at a hole
    the worker reads again from it; the same hole seen twice is the stream's own."""
    live = _worker(sqlite_engine, "live")
    live.seq = 4
    batch = [_withdrawal(n) for n in (3, 4, 5, 8, 9)]
    kept, hole = live._before_hole(batch)
    assert hole and [m.seq for m in kept] == [3, 4, 5]
    live.seq = 5  # the prefix applied; read again from 6: the stream starts over at 8
    kept, hole = live._before_hole([_withdrawal(n) for n in (8, 9)])
    assert not hole and [m.seq for m in kept] == [8, 9]
    live.seq = 9
    kept, hole = live._before_hole([_withdrawal(n) for n in (10, 12)])
    assert hole and [m.seq for m in kept] == [10]  # a new hole: read again first

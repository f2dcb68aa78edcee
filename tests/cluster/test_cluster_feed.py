"""The accounts follower of a partitioned monitor (``cluster.feed``): behind the
single-process monitor's checkpoint (``default``), which partition workers never move, it
reads nothing, ever; behind ``ClusterFeed`` it follows the log up to what every partition
has committed, and keeps the profiles and the signals of the partitions' decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_support import history, publish_all, run_until_idle, unique, worker
from sqlalchemy import func, select

from riskops.accounts import tasks as accounts_tasks
from riskops.accounts.models import AccountProfile, AccountSignal
from riskops.accounts.watch import AccountWatch
from riskops.cluster.feed import ClusterFeed
from riskops.events.models import EventRecord
from riskops.kernel.db import session_factory
from riskops.monitor.service import AccountFeed
from support import drop_stream, migrated_engine

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


def test_the_accounts_follower_follows_the_partitions(nats_url: str, tmp_path: Path) -> None:
    events = history()
    stream, subject = unique("feed")
    try:
        with migrated_engine("postgres", tmp_path / "db") as engine:
            assert publish_all(nats_url, stream, subject, events) == len(events)
            workers = [worker(engine, nats_url, stream, subject, i, 2) for i in (0, 1)]
            run_until_idle(workers)
            sessions = session_factory(engine)
            feed = ClusterFeed(stream)
            with sessions() as session:
                checkpoints = feed.checkpoints(session)
                position = feed.position(session)
                last = session.scalar(select(func.max(EventRecord.seq)))
            assert set(checkpoints) == {0, 1}
            assert position == min(checkpoints.values()) > 0
            assert last is not None and position <= last

            # Behind the single process's checkpoint: nothing (the stall of cluster mode).
            stalled = accounts_tasks.follow(sessions, AccountFeed(), AccountWatch())
            assert (stalled.events, stalled.caught_up) == (0, True)
            with sessions() as session:
                assert accounts_tasks.cursor(session) == 0

            moving = accounts_tasks.follow(sessions, feed, AccountWatch())
            assert moving.caught_up
            assert moving.events > 0 and moving.profiles > 0 and moving.signals > 0
            with sessions() as session:
                assert accounts_tasks.cursor(session) == position
                profiles = session.scalar(select(func.count()).select_from(AccountProfile))
                signals = session.scalar(select(func.count()).select_from(AccountSignal))
            assert profiles == moving.profiles
            assert signals == moving.signals
    finally:
        drop_stream(nats_url, stream)

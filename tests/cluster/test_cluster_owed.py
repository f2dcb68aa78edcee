"""The accounts follower of a partitioned monitor reads no transfer before its second row
(the counterparty's, ADR 0041) is written: the event's partition records the row as owed
when it logs the event, the counterparty's partition settles it when it writes the row, and
``ClusterFeed.position`` stays below the first owed event in the log (ADR 0047)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from cluster_support import history, worker
from sqlalchemy.orm import Session

from riskops.accounts import tasks as accounts_tasks
from riskops.accounts.watch import AccountWatch
from riskops.cluster import repository as repo
from riskops.cluster.feed import ClusterFeed
from riskops.cluster.partition import PartitionSpec, PartitionWorker
from riskops.cluster.reader import Message
from riskops.cluster.status import cluster_status
from riskops.events import schemas as s
from riskops.events.nats import partition_of
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import repository as monitor_repo
from riskops.monitor.evaluators import RulesEvaluatorFactory
from support import migrated_engine

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _name(stream: str, partition: int) -> str:
    return PartitionSpec(stream, "", partition, 2).checkpoint_name


def test_position_stays_below_an_owed_second_row_in_the_log(tmp_path: Path) -> None:
    events = history()[:12]
    stream = "T_OWED"
    with migrated_engine("sqlite", tmp_path) as engine:
        sessions = session_factory(engine)
        with unit_of_work(sessions) as session:
            repo.ensure_partitions(session, stream, 2, NOW)
            ingest(session, [(i + 1, e) for i, e in enumerate(events)], source="nats")
            seqs = repo.log_seqs(session, [e.event_id for e in events])
            monitor_repo.advance_checkpoint(
                session, _name(stream, 0), seqs[events[9].event_id], NOW
            )
            monitor_repo.advance_checkpoint(
                session, _name(stream, 1), seqs[events[11].event_id], NOW
            )
        feed = ClusterFeed(stream)

        def position() -> int:
            with sessions() as session:
                return feed.position(session)

        committed = seqs[events[9].event_id]
        assert position() == committed  # nothing owed: the smallest checkpoint

        owed_seq = seqs[events[4].event_id]
        with unit_of_work(sessions) as session:
            repo.owe(session, stream, [(events[4].event_id, 1), (events[7].event_id, 0)])
        assert position() == owed_seq - 1  # below the first owed event, not at 10

        with unit_of_work(sessions) as session:  # not in the log: holds nothing
            repo.owe(session, stream, [("not-logged", 1)])
            repo.owe(session, "T_OTHER", [(events[1].event_id, 0)])  # another stream's
        assert position() == owed_seq - 1

        with unit_of_work(sessions) as session:
            repo.settle(session, stream, [events[4].event_id])
        assert position() == seqs[events[7].event_id] - 1
        with unit_of_work(sessions) as session:
            repo.settle(session, stream, [events[7].event_id])
        assert position() == committed
        with sessions() as session:
            assert feed.checkpoints(session) == {0: committed, 1: seqs[events[11].event_id]}
            assert repo.owed(session, stream) == {"not-logged": 1}


class HeldBack(PartitionWorker):
    """A partition whose second rows' write is held back (a slow or stuck writer)."""

    held = True

    def _write_pending(self, session: Session, now: datetime) -> list[str]:
        return [] if self.held else super()._write_pending(session, now)


def _transfer_across(events: tuple[s.Event, ...]) -> int:
    """A transfer of partition 0 to partition 1 of 2, with events of partition 1 before."""
    return next(
        i
        for i, e in enumerate(events)
        if i >= 100
        and isinstance(e, s.TransferInternal)
        and partition_of(e.account_id, 2) == 0
        and partition_of(e.counterparty_id, 2) == 1
    )


def _messages(events: tuple[s.Event, ...]) -> list[Message]:
    return [Message(i + 1, msgspec.json.encode(e)) for i, e in enumerate(events)]


@pytest.mark.postgres
def test_a_partition_behind_in_the_stream_holds_the_follower(tmp_path: Path) -> None:
    """The counterparty's partition reads the stream behind the event's: it logs its own
    earlier events after the transfer was logged, so its checkpoint passes the transfer's
    seq before it has even decided the second row. The smallest checkpoint alone let the
    follower read the transfer then."""
    events = history()
    at = _transfer_across(events)
    transfer, messages = events[at], _messages(events)
    stream = "T_BEHIND"
    with migrated_engine("postgres", tmp_path) as engine:
        ahead = worker(engine, "", stream, "t.behind", 0, 2)
        behind = worker(engine, "", stream, "t.behind", 1, 2)
        for w in (ahead, behind):
            assert w.try_acquire()
            w.recover()
        sessions = session_factory(engine)
        feed = ClusterFeed(stream)

        ahead.apply(messages[: at + 1])  # logs the transfer, its last event
        behind.apply(messages[:at])  # logs its own events after it; the transfer is unread
        with sessions() as session:
            logged = repo.log_seqs(session, [transfer.event_id])[transfer.event_id]
            checkpoints = feed.checkpoints(session)
            position = feed.position(session)
            assert repo.owed(session, stream)[transfer.event_id] == 1
        assert min(checkpoints.values()) >= logged  # what the follower read before
        assert position < logged
        moved = accounts_tasks.follow(sessions, feed, AccountWatch())
        assert moved.caught_up
        with sessions() as session:
            assert accounts_tasks.cursor(session) == position

        behind.apply(messages[at : at + 1])  # decides the second row and writes it
        with sessions() as session:
            assert transfer.event_id not in repo.owed(session, stream)
            assert feed.position(session) >= logged
        accounts_tasks.follow(sessions, feed, AccountWatch())
        with sessions() as session:
            assert accounts_tasks.cursor(session) >= logged


@pytest.mark.postgres
def test_a_held_second_row_holds_the_follower_across_a_restart(tmp_path: Path) -> None:
    """The counterparty's partition decided the second row but has not written it (its
    write held back) while both checkpoints passed the transfer: the follower waits. A
    worker that takes the partition over restores the pending row from the snapshot,
    writes it and settles it; then the follower goes on."""
    events = history()
    at = _transfer_across(events)
    later = next(
        i
        for i in range(at + 1, len(events))
        if partition_of(events[i].account_id, 2) == 1 and i > at + 20
    )
    transfer, messages = events[at], _messages(events)
    stream, subject = "T_HELD", "t.held"
    with migrated_engine("postgres", tmp_path) as engine:
        factory = RulesEvaluatorFactory.load(engine)
        spec = PartitionSpec(stream, subject, 1, 2)
        held = HeldBack(engine, factory, spec, nats_url="", owner="held")
        owner = worker(engine, "", stream, subject, 0, 2, owner="owner")
        for w in (held, owner):
            assert w.try_acquire()
            w.recover()
        sessions = session_factory(engine)
        feed = ClusterFeed(stream)

        held.apply(messages[: at + 1])  # decided: pending until the event is logged
        assert transfer.event_id in held.pending
        owner.apply(messages[: later + 1])  # logs the transfer, and goes on
        held.apply(messages[at + 1 : later + 1])  # its own later events; the row held
        with sessions() as session:
            logged = repo.log_seqs(session, [transfer.event_id])[transfer.event_id]
            assert min(feed.checkpoints(session).values()) > logged  # what the follower read
            assert feed.position(session) < logged
            assert repo.owed(session, stream)[transfer.event_id] == 1
            shown = cluster_status(session, stream, None, NOW).partitions
            assert shown[1].owed >= 1  # what ``riskops status`` shows
        assert transfer.event_id in held.pending

        held.snapshot()  # with the pending rows; then the worker stops without writing them
        held.release()
        second = worker(engine, "", stream, subject, 1, 2, owner="second")
        assert second.try_acquire()
        second.recover()
        assert transfer.event_id in second.pending  # from the snapshot
        with sessions() as session:
            assert repo.owed(session, stream)[transfer.event_id] == 1  # still true
            assert feed.position(session) < logged
        assert second.flush_pending() >= 1
        assert transfer.event_id not in second.pending
        owner.flush_pending()  # the rows partition 0 owes for partition 1's transfers
        with sessions() as session:
            assert transfer.event_id not in repo.owed(session, stream)
            assert feed.position(session) >= logged
            assert cluster_status(session, stream, None, NOW).partitions[1].owed == 0

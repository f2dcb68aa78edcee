"""A transfer's second row, decided by the counterparty's partition, is written only once
the event's own partition has committed its results, not as soon as the event is in the
log: a partition logs its events before it writes their results (ADR 0044), and writing the
second row (with the event's timeline row) against the owner's open transaction would wait
on it, or deadlock with it."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from cluster_support import history, worker

from riskops.cluster.reader import Message
from riskops.events import schemas as s
from riskops.events.nats import partition_of
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from support import migrated_engine

pytestmark = pytest.mark.postgres


def test_second_row_waits_for_the_owner_partitions_commit(tmp_path: Path) -> None:
    events = history()
    at = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, s.TransferInternal)
        and partition_of(e.account_id, 2) == 0
        and partition_of(e.counterparty_id, 2) == 1
    )
    transfer = events[at]
    messages = [Message(i + 1, msgspec.json.encode(e)) for i, e in enumerate(events[: at + 1])]
    with migrated_engine("postgres", tmp_path) as engine:
        owner = worker(engine, "", "T_PENDING", "t.pending", 0, 2)
        other = worker(engine, "", "T_PENDING", "t.pending", 1, 2)
        for w in (owner, other):
            assert w.try_acquire()
            w.recover()
        sessions = session_factory(engine)
        # What the owner's first transaction does: the event is logged, its results (and
        # the owner's checkpoint) are not committed yet.
        with unit_of_work(sessions) as session:
            ingest(session, [(len(messages), transfer)], source="nats")

        other.apply(messages)
        assert transfer.event_id in other.pending  # logged, but the owner has not written
        assert other.flush_pending() == 0
        assert transfer.event_id in other.pending
        owner.apply(messages)  # the owner commits its results and its checkpoint
        assert other.flush_pending() >= 1
        assert transfer.event_id not in other.pending  # written (a plain allow is counted)

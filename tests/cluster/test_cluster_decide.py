"""``PartitionWorker.decide`` (the contract with the routing): a withdrawal is decided with
the partition's state, in the stream's order, once; asked again it is the stored answer;
another partition's account is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cluster_support import unique, worker
from sqlalchemy import func, select

from riskops.cluster.answers import NotOwner
from riskops.events import schemas as s
from riskops.events.nats import partition_of
from riskops.events.validation import from_obj
from riskops.kernel.db import session_factory
from riskops.monitor.models import Decision
from riskops.monitor.schemas import DecisionResponse
from support import drop_stream, migrated_engine

pytestmark = pytest.mark.postgres


def _withdrawal(event_id: str, account: str, usd: str) -> s.Event:
    return from_obj(
        {
            "event_id": event_id,
            "type": "withdrawal.requested",
            "account_id": account,
            "occurred_at": "2026-01-02T00:00:00Z",
            "withdrawal_id": f"wd-{event_id}",
            "asset": "BTC",
            "amount": "3",
            "usd_value": usd,
            "chain": "bitcoin",
            "address": "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
        }
    )


def test_decide_once_in_stream_order(nats_url: str, tmp_path: Path) -> None:
    stream, subject = unique("decide")
    mine = next(f"acc-{i}" for i in range(100) if partition_of(f"acc-{i}", 2) == 0)
    theirs = next(f"acc-{i}" for i in range(100) if partition_of(f"acc-{i}", 2) == 1)
    big = _withdrawal("w-big", mine, "250000")
    try:
        with migrated_engine("postgres", tmp_path / "db") as engine:
            owner = worker(engine, nats_url, stream, subject, 0, 2)

            async def scenario() -> list[list[DecisionResponse | Exception]]:
                stop = asyncio.Event()
                running = asyncio.create_task(owner.run(stop))
                while owner.nc is None or owner.fence is None:
                    await asyncio.sleep(0.05)
                first = await owner.decide([big, _withdrawal("w-other", theirs, "10")])
                again = await owner.decide([big])
                stop.set()
                await running
                return [first, again]

            (answer, refused), (repeated,) = asyncio.run(scenario())
            assert isinstance(answer, DecisionResponse), answer
            assert answer.event_id == "w-big" and not answer.duplicate
            assert isinstance(refused, NotOwner) and "partition 1" in str(refused)
            # a 503: the routing answers its fail-safe and queues the event for the owner
            assert (refused.status_code, refused.code) == (503, "not_owner")
            assert isinstance(repeated, DecisionResponse) and repeated.duplicate
            assert (repeated.decision, repeated.score) == (answer.decision, answer.score)
            assert owner.stats.messages == 1  # JetStream dropped the copy (Nats-Msg-Id)
            with session_factory(engine)() as session:
                count = select(func.count()).select_from(Decision)
                assert session.scalar(count.where(Decision.event_id == "w-big")) == 1
                stored = session.scalars(select(Decision).where(Decision.event_id == "w-big")).one()
                assert (str(stored.outcome), stored.score) == (answer.decision, answer.score)
    finally:
        drop_stream(nats_url, stream)

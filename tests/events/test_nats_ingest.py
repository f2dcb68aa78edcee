"""The broker adapter against the real NATS JetStream: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import repository, service
from riskops.events.nats import consume, partition_of, publish
from riskops.events.schemas import Event
from riskops.events.validation import decode
from riskops.kernel.db import unit_of_work

pytestmark = pytest.mark.nats
Wire = Callable[..., dict[str, Any]]


@pytest.fixture
def stream(nats_url: str) -> Iterator[tuple[str, str]]:
    """A stream and subject of this test alone, deleted afterwards."""
    token = uuid.uuid4().hex[:10]
    name, subject = f"T_EVENTS_{token}", f"test.{token}.events"
    yield name, subject

    async def drop() -> None:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(name)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(drop())


def _events(wire: Wire, ids: range) -> list[Event]:
    events = [decode(msgspec.json.encode(wire(i))) for i in ids]
    assert all(isinstance(e, Event) for e in events)
    return events  # type: ignore[return-value]


def _count(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as session:
        return repository.count_events(session)


def _consume(url: str, stream: tuple[str, str], sessions: Any, **kw: Any) -> Any:
    kw.setdefault("idle_timeout", 1.0)
    return asyncio.run(consume(url, stream[0], stream[1], "ingest", sessions, **kw))


def test_publish_consume_and_republish(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    events = _events(wire, range(200))
    assert asyncio.run(publish(nats_url, stream[1], events, stream=stream[0])) == 200
    stats = _consume(nats_url, stream, sessions, batch=64)
    assert (stats.messages, stats.accepted, stats.duplicates) == (200, 200, 0)
    assert _count(sessions) == 200
    # Re-publishing is dropped by JetStream (Nats-Msg-Id), so there is nothing to consume.
    assert asyncio.run(publish(nats_url, stream[1], events, stream=stream[0])) == 0
    assert _consume(nats_url, stream, sessions).messages == 0
    assert _count(sessions) == 200
    with unit_of_work(sessions) as session:
        stored = repository.read_after(session, 0, limit=1)[0]
        assert (stored.source, stored.source_name) == ("nats", stream[0])


def test_stopped_consumer_resumes_without_loss_or_duplicates(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    asyncio.run(publish(nats_url, stream[1], _events(wire, range(300)), stream=stream[0]))
    first = _consume(nats_url, stream, sessions, batch=50, max_messages=120)
    assert (first.messages, first.accepted) == (120, 120)
    assert _count(sessions) == 120
    rest = _consume(nats_url, stream, sessions, batch=50)
    assert (rest.messages, rest.accepted, rest.duplicates) == (180, 180, 0)
    with unit_of_work(sessions) as session:
        ids = [r.event_id for r in repository.read_after(session, 0, limit=1000)]
    assert sorted(ids) == sorted(f"e-{i}" for i in range(300))


def test_redelivery_after_a_crash_between_commit_and_ack(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    events = _events(wire, range(40))
    asyncio.run(publish(nats_url, stream[1], events, stream=stream[0]))
    # A consumer committed the first 25 and died before acking: they come again.
    with unit_of_work(sessions) as session:
        service.ingest(session, [(None, e) for e in events[:25]], source="nats")
    stats = _consume(nats_url, stream, sessions)
    assert (stats.messages, stats.accepted, stats.duplicates) == (40, 15, 25)
    assert _count(sessions) == 40


def test_bad_messages_are_dead_lettered(
    nats_url: str, stream: tuple[str, str], sessions: sessionmaker[Session], wire: Wire
) -> None:
    import nats

    async def send() -> None:
        await publish(nats_url, stream[1], _events(wire, range(1)), stream=stream[0])
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        lines = msgspec.json.encode(wire(1)) + b"\n" + msgspec.json.encode(wire(2, rail="x"))
        await js.publish(f"{stream[1]}.0", lines)
        await js.publish(f"{stream[1]}.1", b'{"type": "login"')
        await nc.close()

    asyncio.run(send())
    stats = _consume(nats_url, stream, sessions)
    assert (stats.messages, stats.accepted, stats.rejected) == (3, 2, 2)
    with unit_of_work(sessions) as session:
        letters, total = repository.list_dead_letters(session, source="nats")
    assert total == 2 and {d.event_id for d in letters} == {"e-2", None}
    assert all(d.source_row is not None for d in letters)  # the stream sequence


def test_partition_is_stable() -> None:
    assert partition_of("acct-1", 8) == partition_of("acct-1", 8)
    assert {partition_of(f"a{i}", 8) for i in range(100)} == set(range(8))

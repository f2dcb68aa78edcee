"""The broker adapter: events through NATS JetStream, at least once, stored exactly once.

Producers publish each event to ``{subject}.{partition}`` (partition = crc32(account_id)
mod N, so one account always lands on one partition) with ``Nats-Msg-Id`` = event id, which
lets JetStream drop re-published copies. The consumer pulls a batch, ingests it in ONE
transaction and acks only after the commit: a crash before the commit means redelivery,
and idempotent ingestion turns a redelivered event into a counted duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import service, validation
from riskops.events.models import Source
from riskops.events.schemas import Event
from riskops.events.validation import Rejection
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Busy
from riskops.kernel.logging import get_logger
from riskops.kernel.retry import Backoff

_encode = msgspec.json.Encoder().encode
log = get_logger(__name__)


@dataclass
class ConsumeStats:
    """What a consumer run did."""

    messages: int = 0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


def partition_of(account_id: str, partitions: int) -> int:
    """The partition of an account: stable across processes and languages (crc32)."""
    return zlib.crc32(account_id.encode()) % partitions


async def ensure_stream(js: Any, stream: str, subject: str) -> None:
    """Create the stream for ``{subject}.>`` if it does not exist yet."""
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(name=stream, subjects=[f"{subject}.>"])


async def publish(
    nats_url: str,
    subject: str,
    events: Iterable[Event],
    partitions: int = 8,
    *,
    stream: str | None = None,
) -> int:
    """Publish events to ``{subject}.{partition}``; returns how many JetStream stored anew.

    With ``stream`` given, the stream is created if missing. ``Nats-Msg-Id`` is the event
    id, so a re-publish within the stream's duplicate window is dropped by the server.
    """
    import nats

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        if stream is not None:
            await ensure_stream(js, stream, subject)
        futures = []
        for event in events:
            target = f"{subject}.{partition_of(event.account_id, partitions)}"
            headers = {"Nats-Msg-Id": event.event_id}
            futures.append(await js.publish_async(target, _encode(event), headers=headers))
        acks = await asyncio.gather(*futures)
        return sum(1 for ack in acks if not ack.duplicate)
    finally:
        await nc.close()


def _parse(msg: Any, max_event_bytes: int) -> list[tuple[int | None, Event | Rejection]]:
    """A message: one JSON event, or NDJSON lines; source row = stream sequence."""
    row = msg.metadata.sequence.stream
    data: bytes = msg.data
    lines = [line for line in data.split(b"\n") if line.strip()] if b"\n" in data else [data]
    if not lines:
        lines = [data]
    return [(row, validation.decode(line, max_bytes=max_event_bytes)) for line in lines]


def _ingest_batch(
    sessions: sessionmaker[Session],
    items: list[tuple[int | None, Event | Rejection]],
    source_name: str,
) -> service.IngestReport:
    with unit_of_work(sessions) as session:
        return service.ingest(session, items, source=Source.NATS.value, source_name=source_name)


# Errors of a database that is away (down, restarting, unreachable, its lock busy): the
# batch can succeed later. Others (a bug, a constraint) are not retried.
_TRANSIENT = (OperationalError, InterfaceError, Busy)


async def _ingest_until_stored(
    sessions: sessionmaker[Session],
    items: list[tuple[int | None, Event | Rejection]],
    stream: str,
    msgs: list[Any],
    backoff: Backoff,
    stop_event: asyncio.Event | None,
) -> service.IngestReport | None:
    """Ingest one fetched batch, trying again while the database is away; None if
    stopped first (nothing acked: JetStream delivers the batch again)."""
    while True:
        try:
            report = await asyncio.to_thread(_ingest_batch, sessions, items, stream)
        except _TRANSIENT as exc:
            delay = backoff.next_delay()
            log.warning(
                "nats.batch_failed",
                error=type(exc).__name__,
                messages=len(msgs),
                failures=backoff.failures,
                retry_in=round(delay, 2),
            )
            # Still working on them: JetStream must not hand them to another consumer.
            await asyncio.gather(*(msg.in_progress() for msg in msgs))
            if await _stopped_within(stop_event, delay):
                return None
            continue
        if backoff.failures:
            log.info("nats.database_back", failures=backoff.failures)
        backoff.reset()
        return report


async def _stopped_within(stop_event: asyncio.Event | None, seconds: float) -> bool:
    if stop_event is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), seconds)
    return stop_event.is_set()


async def consume(
    nats_url: str,
    stream: str,
    subject: str,
    durable: str,
    sessions: sessionmaker[Session],
    *,
    batch: int = 500,
    stop_event: asyncio.Event | None = None,
    max_messages: int | None = None,
    idle_timeout: float | None = None,
    max_event_bytes: int = 64 * 1024,
    backoff: Backoff | None = None,
) -> ConsumeStats:
    """Pull, ingest and ack until stopped, ``max_messages`` are done, or idle too long.

    Each fetched batch is ingested in one transaction (in a worker thread, so the event
    loop keeps the connection alive) and its messages are acked only after the commit.
    While the database cannot be reached, the batch is tried again with ``backoff``
    (default: 0.5 s doubling up to 10 s), unacked; the consumer goes on once it is back.
    """
    import nats

    stats = ConsumeStats()
    backoff = backoff or Backoff(initial=0.5, maximum=10.0)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream, subject)
        sub = await js.pull_subscribe(f"{subject}.>", durable=durable, stream=stream)
        idle = 0.0
        while not (stop_event is not None and stop_event.is_set()):
            want = batch if max_messages is None else min(batch, max_messages - stats.messages)
            if want <= 0:
                break
            try:
                msgs = await sub.fetch(want, timeout=1.0)
            except TimeoutError:  # nats raises both its own subclass and the plain one
                idle += 1.0
                if idle_timeout is not None and idle >= idle_timeout:
                    break
                continue
            idle = 0.0
            items = [item for msg in msgs for item in _parse(msg, max_event_bytes)]
            report = await _ingest_until_stored(sessions, items, stream, msgs, backoff, stop_event)
            if report is None:  # stopped while the database was away: redelivered later
                break
            for msg in msgs:  # only after the commit: at-least-once, never lost
                await msg.ack()
            stats.messages += len(msgs)
            stats.batches += 1
            stats.accepted += report.accepted
            stats.duplicates += report.duplicates
            stats.rejected += report.rejected_count
        await nc.flush()
    finally:
        await nc.close()
    return stats

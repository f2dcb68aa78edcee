"""Publish an event file to the stream the partition workers read (``riskops publish``).

Any file ``riskops ingest`` reads (``riskops.events.adapters``): each row is validated as
ingestion would, the valid events go to ``{subject}.{crc32(account_id) % N}`` with
``Nats-Msg-Id`` = event id (JetStream drops a copy published again within its duplicate
window), the refused rows are reported with their reasons and never published.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from riskops.events.adapters import read_events
from riskops.events.nats import ensure_stream, partition_of
from riskops.events.schemas import Event
from riskops.events.validation import Rejection

_encode = msgspec.json.Encoder().encode
MAX_REASONS = 20  # rejected rows whose reasons the report keeps (the count is exact)


@dataclass
class PublishReport:
    """What a publish did."""

    published: int = 0  # stored anew by JetStream
    duplicates: int = 0  # dropped by the server (already in the stream)
    rejected: int = 0
    reasons: list[tuple[int, str]] = field(default_factory=list)  # (data row, why)

    @property
    def rows(self) -> int:
        return self.published + self.duplicates + self.rejected


async def publish_rows(
    nats_url: str,
    stream: str,
    subject: str,
    rows: Iterable[tuple[int, Event | Rejection]],
    *,
    partitions: int,
    per_message: int = 1,
    chunk: int = 1_000,
    progress: Callable[[int], None] | None = None,
) -> PublishReport:
    """Publish the valid rows (creating the stream if missing), report the rest.

    ``per_message`` > 1 packs that many consecutive events (file order kept) into one NDJSON
    message on ``{subject}.batch``, its ``Nats-Msg-Id`` a digest of their ids: the partition
    workers, which all read the whole stream, then pay the read per message, not per event.
    """
    import nats

    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    if per_message < 1:
        raise ValueError("per_message must be at least 1")
    report = PublishReport()
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream, subject)
        pending: list[Any] = []
        sizes: list[int] = []
        packed: list[Event] = []

        async def settle() -> None:
            acks = await asyncio.gather(*pending)
            for ack, size in zip(acks, sizes, strict=True):
                if ack.duplicate:
                    report.duplicates += size
                else:
                    report.published += size
            if progress is not None:
                progress(sum(sizes))
            pending.clear()
            sizes.clear()

        async def pack() -> None:
            digest = hashlib.sha256("\n".join(e.event_id for e in packed).encode()).hexdigest()
            data = b"\n".join(_encode(e) for e in packed) + b"\n"
            headers = {"Nats-Msg-Id": f"batch-{digest[:32]}"}
            pending.append(await js.publish_async(f"{subject}.batch", data, headers=headers))
            sizes.append(len(packed))
            packed.clear()

        for row, item in rows:
            if isinstance(item, Rejection):
                report.rejected += 1
                if len(report.reasons) < MAX_REASONS:
                    report.reasons.append((row, item.reason))
                if progress is not None:
                    progress(1)
                continue
            if per_message > 1:
                packed.append(item)
                if len(packed) >= per_message:
                    await pack()
            else:
                target = f"{subject}.{partition_of(item.account_id, partitions)}"
                headers = {"Nats-Msg-Id": item.event_id}
                pending.append(await js.publish_async(target, _encode(item), headers=headers))
                sizes.append(1)
            if len(pending) >= chunk:
                await settle()
        if packed:
            await pack()
        if pending:
            await settle()
    finally:
        await nc.close()
    return report


def publish_file(
    nats_url: str,
    stream: str,
    subject: str,
    path: Path,
    fmt: str | None,
    *,
    partitions: int,
    per_message: int = 1,
    progress: Callable[[int], None] | None = None,
) -> PublishReport:
    """``publish_rows`` over an event file (``UnreadableFile`` / ``UnknownFormat`` when the
    file as a whole cannot be read)."""
    rows = read_events(path, fmt)
    return asyncio.run(
        publish_rows(
            nats_url,
            stream,
            subject,
            rows,
            partitions=partitions,
            per_message=per_message,
            progress=progress,
        )
    )

"""The ceiling of per-partition subjects (docs/scaling.md, "What removes it"): what two
partition workers would reach on this machine if each read only its own partition's
events, with no cross-key state to keep.

The partitioned monitor (ADR 0041) has every worker read the whole stream, so that the
features keyed by IP, device, phone, address, counterparty and instrument hold on every
partition what the single process holds: exact parity, at the price of every worker
handling every event. The remedy studied is per-partition subjects plus a keys lane (each
worker reads its subject and only the cross-key columns of the others). Before building
it, this bench measures its upper bound: the same worker processes (``riskops.worker
--bus nats --partition I/N``, full default pack, PostgreSQL, batches of 2,000), but each
reads only ``{subject}.{I}.e``, where the events of its accounts are published. Nothing
keeps the cross-key features of other partitions' events and a transfer's second row on
another partition is never decided: **the results are not the single process's**. It is
a measurement of the read and the owned work alone, and what a keys lane would cost comes
on top of it.

The worker is the real one with two methods replaced in its process (``_ceiling_worker``):
the reader's subject, and the check for holes in the stream sequence (a subject's
sequence has the other subjects' numbers missing). Nothing in ``riskops`` changes.

    python -m bench.bench_cluster_ceiling [N_EVENTS]
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

from bench.bench_cluster import NATS_URL, _budget_row, _drop, _events, run_partitions
from bench.common import Result, at_least

NAME = "cluster_ceiling"
PER_MESSAGE = 50


def _subject(subject: str, partition: int) -> str:
    return f"{subject}.{partition}.e"


async def _publish(
    stream: str, subject: str, events: list[Any], partitions: int, per_message: int
) -> dict[int, int]:
    """Each event to its account's partition subject, ``per_message`` of one partition's
    events a message (their order kept); returns each partition's last stream sequence."""
    import msgspec
    import nats

    from riskops.events.nats import ensure_stream, partition_of

    encode = msgspec.json.Encoder().encode
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream, subject)
        packs: dict[int, list[Any]] = {p: [] for p in range(partitions)}
        pending: list[Any] = []

        async def send(partition: int) -> None:
            pack, packs[partition] = packs[partition], []
            data = b"\n".join(encode(e) for e in pack) + (b"\n" if len(pack) > 1 else b"")
            headers = {"Nats-Msg-Id": f"{pack[0].event_id}+{len(pack)}"}
            target = _subject(subject, partition)
            pending.append(await js.publish_async(target, data, headers=headers))

        for event in events:
            partition = partition_of(event.account_id, partitions)
            packs[partition].append(event)
            if len(packs[partition]) >= per_message:
                await send(partition)
            if len(pending) >= 2_000:
                await asyncio.gather(*pending)
                pending.clear()
        for partition, pack in packs.items():
            if pack:
                await send(partition)
        await asyncio.gather(*pending)
        last = {}
        for partition in range(partitions):
            message = await js.get_last_msg(stream, _subject(subject, partition))
            if message.seq is None:
                raise RuntimeError(f"partition {partition}: no last message on the stream")
            last[partition] = message.seq
        return last
    finally:
        await nc.close()


def _ceiling_worker(argv: list[str]) -> None:
    """``riskops.worker`` reading only its partition's subject (see the module's doc)."""
    from riskops.cluster.partition import PartitionWorker
    from riskops.cluster.reader import Message, StreamReader
    from riskops.worker import main

    async def subscribe(self: PartitionWorker, js: Any) -> StreamReader:
        # the reader reads "{subject}.>": here "{subject}.{I}.>", which holds "{subject}.{I}.e"
        own = f"{self.spec.subject}.{self.spec.partition}"
        reader = StreamReader(self.nc, js, self.spec.stream, own, self.seq + 1, self.batch_size)
        self._reader = await reader.open()
        return self._reader

    def no_holes(self: PartitionWorker, batch: list[Message]) -> tuple[list[Message], bool]:
        return batch, False

    PartitionWorker._subscribe = subscribe  # type: ignore[method-assign]
    PartitionWorker._before_hole = no_holes  # type: ignore[method-assign]
    main(argv)


def _run(events: list[Any], partitions: int, per_message: int) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"BENCH_CEILING_{tag}", f"bench.ceiling.{tag}"
    try:
        last = asyncio.run(_publish(stream, subject, events, partitions, per_message))
        worker = [sys.executable, "-m", "bench.bench_cluster_ceiling", "--worker"]
        return run_partitions(stream, subject, len(events), partitions, worker, last)
    finally:
        asyncio.run(_drop(stream))


def measure(quick: bool = False, n_events: int | None = None) -> list[Result]:
    events = _events(n_events or (15_000 if quick else 60_000))
    n = len(events)
    rows: list[Result] = []
    for per_message, label in ((1, "one event a message"), (PER_MESSAGE, "50 a message")):
        # 1, 2, 1: the single partition before and after, for the machine's drift
        first, two, again = (_run(events, p, per_message) for p in (1, 2, 1))
        one = max(first["events/s"], again["events/s"])
        rows += [
            _budget_row(f"machine budget, {label}, 1 partition", first, n, NAME),
            _budget_row(f"machine budget, {label}, 2 partitions", two, n, NAME),
            Result(NAME, f"{label}: 1 partition events/s (best of 2)", one, "ev/s"),
            Result(NAME, f"{label}: 2 partitions events/s", two["events/s"], "ev/s"),
            at_least(NAME, f"  {label}: 2 / 1, own subject only", two["events/s"] / one, "x", 1.7),
            Result(
                NAME, f"  {label}: busiest worker CPU an event, 1", first["cpu"] * 1e6 / n, "us"
            ),
            Result(NAME, f"  {label}: busiest worker CPU an event, 2", two["cpu"] * 1e6 / n, "us"),
        ]
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _ceiling_worker(sys.argv[2:])
        sys.exit(0)
    size = int(sys.argv[1]) if len(sys.argv) > 1 else None
    for result in measure(n_events=size):
        print(f"{result.name:55} {result.shown:>16} {result.target}")

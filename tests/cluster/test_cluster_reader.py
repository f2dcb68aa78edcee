"""The partition worker's stream reader (``cluster.reader``): the stream sequence from a
delivery's reply subject, and a real stream read in order from a start sequence, in batches,
with a timeout when nothing comes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cluster_support import unique

from riskops.cluster.reader import Message, StreamReader, stream_seq
from riskops.events.nats import ensure_stream
from support import drop_stream


def test_stream_seq_of_both_reply_forms() -> None:
    assert stream_seq("$JS.ACK.S.C.1.42.7.1700000000000000000.3") == 42
    assert stream_seq("$JS.ACK._.ACCHASH.S.C.1.43.8.1700000000000000000.2.rnd") == 43
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        stream_seq("_INBOX.abc.def")


def test_reads_in_order_from_a_start_in_batches(nats_url: str) -> None:
    stream, subject = unique("reader")

    async def scenario() -> tuple[list[Message], list[int], bool]:
        import nats

        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, stream, subject)
            for i in range(25):
                await js.publish(f"{subject}.{i % 3}", f"m{i}".encode())
            reader = await StreamReader(nc, js, stream, subject, 6, batch=10).open()
            got: list[Message] = []
            sizes: list[int] = []
            while len(got) < 20:
                batch = await reader.fetch(2.0)
                sizes.append(len(batch))
                got += batch
            timed_out = False
            try:
                await reader.fetch(0.2)
            except TimeoutError:
                timed_out = True
            await js.publish(f"{subject}.0", b"late")  # an idle reader wakes for it
            late = await reader.fetch(2.0)
            await reader.close()
            return got + late, sizes, timed_out
        finally:
            await nc.close()

    try:
        got, sizes, timed_out = asyncio.run(scenario())
    finally:
        drop_stream(nats_url, stream)
    assert [m.seq for m in got] == list(range(6, 27))
    assert [m.data for m in got] == [f"m{i}".encode() for i in range(5, 25)] + [b"late"]
    assert max(sizes) <= 10  # never more than the batch asked for
    assert timed_out


def test_a_request_whose_408_never_comes_is_asked_again(nats_url: str) -> None:
    """nats-server 2.9 may drop an expired pull request without its 408: the reader asks
    again once the request's expiry has passed, and never waits on it for ever."""
    stream, subject = unique("reader408")

    async def scenario() -> list[Message]:
        import nats

        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            await ensure_stream(js, stream, subject)
            reader = await StreamReader(nc, js, stream, subject, 1, batch=10).open()
            delivered = reader._delivered

            async def statuses_lost(msg: Any) -> None:
                if not (msg.headers and msg.headers.get("Status")):
                    await delivered(msg)

            reader._sub._cb = statuses_lost
            with pytest.raises(TimeoutError):
                await reader.fetch(0.2)  # its request expires; the 408 is lost
            await asyncio.sleep(0.3)
            await js.publish(f"{subject}.0", b"after")
            got = await reader.fetch(3.0)
            await reader.close()
            return got
        finally:
            await nc.close()

    try:
        got = asyncio.run(scenario())
    finally:
        drop_stream(nats_url, stream)
    assert [m.data for m in got] == [b"after"]

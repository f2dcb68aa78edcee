"""The partition worker's read of the stream: a JetStream pull consumer spoken to directly
(ADR 0041, "What it costs").

nats-py's ``PullSubscription.fetch`` costs about 40 us of CPU a message (an ``asyncio``
``wait_for`` and a task for each message it takes from its queue), and every partition
worker reads every message. This reader keeps the same consumer (ephemeral, pull, no acks,
from a start sequence, the stream's whole subject tree) but takes the deliveries in a plain
subscription callback into a list, and asks for the next batch itself
(``$JS.API.CONSUMER.MSG.NEXT``): a pull request is answered by messages up to the batch,
or ended by a status message (408 when it expired, with how many it did not bring;
404/409); the next one is made as a batch is handed over, so that messages keep coming
while the worker applies it.
A message's stream sequence is read from its reply subject (the ``$JS.ACK`` tokens).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, NamedTuple

import msgspec

_V1_TOKENS = 9  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
_V1_SEQ, _V2_SEQ = 5, 7  # v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<d>.<sseq>...
_encode = msgspec.json.Encoder().encode
_GRACE = 0.1  # seconds a pull request's 408 may come after its expiry
_AHEAD_EXPIRES = 1.0  # seconds a request made ahead (while a batch is applied) stays open


class Message(NamedTuple):
    """What the worker needs of a JetStream message."""

    seq: int
    data: bytes


def stream_seq(reply: str) -> int:
    """The stream sequence of a JetStream delivery, from its ``$JS.ACK...`` reply subject."""
    tokens = reply.split(".")
    if len(tokens) < _V1_TOKENS or tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream delivery: {reply[:80]!r}")
    return int(tokens[_V1_SEQ] if len(tokens) == _V1_TOKENS else tokens[_V2_SEQ])


class StreamReader:
    """Reads ``{subject}.>`` of ``stream`` from ``start`` in order, in batches."""

    def __init__(self, nc: Any, js: Any, stream: str, subject: str, start: int, batch: int):
        self.nc, self.js = nc, js
        self.stream, self.subject, self.start = stream, subject, start
        self.batch = batch
        self.name = ""
        self._sub: Any = None
        self._inbox = ""
        self._got: list[Message] = []
        self._outstanding = 0  # messages the pull requests made may still bring
        self._expiry = 0.0  # when the last of them expires (monotonic)
        self._woken = asyncio.Event()

    async def open(self) -> StreamReader:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.start,
            filter_subject=f"{self.subject}.>",
            max_waiting=4,
        )
        info = await self.js.add_consumer(self.stream, config=config)
        self.name = info.name
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox, cb=self._delivered)
        return self

    async def _delivered(self, msg: Any) -> None:
        headers = msg.headers
        if headers and headers.get("Status") and not msg.data:
            status = headers["Status"]
            if status == "100":  # a heartbeat is no answer
                return
            # A request that expired says how many of its messages it did not bring; any
            # other status (404, 409) ends what was asked.
            left = headers.get("Nats-Pending-Messages", "")
            if status == "408" and left.isdigit():
                self._outstanding = max(0, self._outstanding - int(left))
            else:
                self._outstanding = 0
            self._woken.set()
            return
        self._got.append(Message(stream_seq(msg.reply), msg.data))
        self._outstanding -= 1
        self._woken.set()

    async def _ask(self, expires: float) -> None:
        request = {"batch": self.batch, "expires": int(expires * 1e9)}
        self._outstanding = max(0, self._outstanding) + self.batch
        self._expiry = time.monotonic() + expires
        target = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.name}"
        await self.nc.publish(target, _encode(request), reply=self._inbox)

    async def fetch(self, timeout: float, settle: float = 0.002) -> list[Message]:
        """The next messages in stream order, at most a batch: wait up to ``timeout`` for
        a first one (``TimeoutError`` if none), then up to ``settle`` for more of the batch.

        The next batch is asked for before this one is returned, so that it arrives while
        the caller works on this one (a worker that asked only once it was idle again
        waited a round trip and the settle for every batch)."""
        deadline = time.monotonic() + timeout
        while not self._got:
            if time.monotonic() >= self._expiry + _GRACE:
                # Every request made has expired (the last expires last). nats-server 2.9
                # drops a request it finds expired as a message arrives without its 408:
                # what it would have brought is not coming.
                self._outstanding = 0
            if self._outstanding <= 0 or time.monotonic() >= self._expiry:
                await self._ask(max(0.01, deadline - time.monotonic()))
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                raise TimeoutError
            self._woken.clear()
            with contextlib.suppress(TimeoutError):  # never past the requests' expiry
                await asyncio.wait_for(self._woken.wait(), min(left, self._expiry + _GRACE - now))
        if self._outstanding > 0 and len(self._got) < self.batch:
            await asyncio.sleep(settle)  # what is on its way joins this batch
        got = self._got[: self.batch]
        del self._got[: self.batch]
        if self._outstanding + len(self._got) < self.batch:
            await self._ask(max(timeout, _AHEAD_EXPIRES))
        return got

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
        with contextlib.suppress(Exception):
            await self.js.delete_consumer(self.stream, self.name)

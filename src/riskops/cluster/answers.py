"""A partition worker's synchronous decisions (ADR 0042, ADR 0049): a withdrawal asked of
the owner is published to the partition's subject and answered once the stream processing
has decided it: as soon as its batch is decided (``PartitionWorker._commit`` hands the
answers over with ``_post_answers``), a hold once the batch has committed (its answer
carries the hold's id). Kept apart from the stream loop (``riskops.cluster.partition``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy.orm import Session

from riskops.events import schemas as s
from riskops.events.nats import partition_of
from riskops.kernel.errors import Conflict, RiskopsError
from riskops.monitor import repository as monitor_repo
from riskops.monitor.engine import RowDecision
from riskops.monitor.schemas import DecisionResponse
from riskops.rules.types import Action

if TYPE_CHECKING:
    from riskops.cluster.partition import PartitionSpec

_encode = msgspec.json.Encoder().encode


class NotOwner(RiskopsError):
    """A decision asked of a partition that does not own the account (or owns nothing):
    a 503, so the routing answers its fail-safe and queues the event for the real owner
    (ADR 0042), rather than a 409 the caller would take as the owner's refusal."""

    status_code = 503
    code = "not_owner"


class Answering:
    """The decisions someone waits for: the worker's part that answers them."""

    spec: PartitionSpec
    nc: Any
    fence: int | None
    seq: int
    sessions: Any
    _js: Any
    _wanted: dict[str, int]  # event id -> how many ``decide`` calls wait for its answer
    _answers: dict[str, DecisionResponse]
    _loop: asyncio.AbstractEventLoop | None
    _waiters: list[asyncio.Future[None]]
    # The stream position whose answers are all given (on the loop only): the commit's
    # answers are delivered before it moves past them, so a waiter never finds the position
    # passed and its hold's answer not there yet.
    _answered_upto: int
    durable: int

    def owns(self, account_id: str) -> bool:  # pragma: no cover - the worker's
        raise NotImplementedError

    def _waited(self, made: Mapping[str, list[RowDecision]]) -> list[str]:
        """The events of ``made`` someone waits for, with a decision on their first row.
        Called from the batch's thread: ``_wanted`` is only probed, never iterated (the
        loop adds to it meanwhile)."""
        wanted = self._wanted
        return [i for i, rows in made.items() if i in wanted and rows and rows[0].row == 0]

    def _early_answers(self, made: Mapping[str, list[RowDecision]]) -> dict[str, DecisionResponse]:
        """The answers that need nothing of the commit: every decision but a hold (whose
        answer carries the id of the hold row the batch's commit creates)."""
        return {
            i: DecisionResponse.of(made[i][0], None)
            for i in self._waited(made)
            if made[i][0].outcome is not Action.HOLD
        }

    def _collect_answers(
        self, session: Session, made: Mapping[str, list[RowDecision]], *, holds_only: bool
    ) -> dict[str, DecisionResponse]:
        """The answers of the decisions someone waits for, hold ids included (in the
        batch's transaction: hand them over once it has committed). ``holds_only``: the
        others were answered when the batch was decided."""
        wanted = self._waited(made)
        held = [i for i in wanted if made[i][0].outcome is Action.HOLD]
        if holds_only:
            wanted = held
        if not wanted:
            return {}
        holds = monitor_repo.hold_ids(session, held) if held else {}
        return {i: DecisionResponse.of(made[i][0], holds.get(i)) for i in wanted}

    def _post_answers(self, answers: dict[str, DecisionResponse], upto: int = 0) -> None:
        """Hand answers from the batch's thread to the waiting ``decide`` calls; ``upto``:
        the stream position committed with them (0: a decided batch not committed yet)."""
        if (answers or upto) and self._loop is not None:
            self._loop.call_soon_threadsafe(self._deliver, answers, upto)

    def _deliver(self, answers: dict[str, DecisionResponse], upto: int = 0) -> None:
        """On the loop: keep the answers someone still waits for, and wake the waiters."""
        for event_id, answer in answers.items():
            if event_id in self._wanted:
                self._answers[event_id] = answer
        self._answered_upto = max(self._answered_upto, upto)
        self._wake()

    def _settle(self) -> None:
        """On the loop, after the stream processing moved (a batch applied, a recovery):
        every answer up to the committed position is given."""
        self._deliver({}, self.durable)

    def _wake(self) -> None:
        """On the loop: every ``_until`` looks at its condition again (an answer came, or
        the stream position moved)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Until ``ready()``, looked at again at every ``_wake`` (``TimeoutError`` after
        ``timeout`` seconds)."""
        assert self._loop is not None
        deadline = time.monotonic() + timeout
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            await asyncio.wait_for(waiter, left)

    # --- decisions asked synchronously (H6 routes them here) -----------------------------

    async def decide(self, events: list[s.Event]) -> list[DecisionResponse | Exception]:
        """Decide events of this partition's accounts with the partition's state.

        Each event is published to the stream (``Nats-Msg-Id`` = event id), and answered
        once the stream processing has decided it (ADR 0049: as soon as its batch is
        decided; a hold once the batch has committed): the request becomes part of the
        partition's history exactly once, and a copy arriving on the stream later is the
        same event (JetStream drops it within its duplicate window, the recent-ids window
        after). An event decided before is answered from the decision log (``duplicate``)
        once the stream processing has committed past it."""
        answers: list[DecisionResponse | Exception | None] = [None] * len(events)
        if self.nc is None or self.fence is None or self._loop is None:
            error = NotOwner(f"partition {self.spec.partition} is not running here")
            return [error for _ in events]
        js = self._js
        targets: dict[int, int] = {}
        sent: list[tuple[int, Any]] = []
        subject = f"{self.spec.subject}.{self.spec.partition}"
        mine: list[int] = []
        for index, event in enumerate(events):
            if self.owns(event.account_id):
                mine.append(index)
                continue
            owner = partition_of(event.account_id, self.spec.partitions)
            answers[index] = NotOwner(
                f"account of event {event.event_id} belongs to partition {owner}"
            )
        try:
            for index in mine:
                event = events[index]
                self._wanted[event.event_id] = self._wanted.get(event.event_id, 0) + 1
                headers = {"Nats-Msg-Id": event.event_id}
                # The whole group in flight at once, its PubAcks gathered after (the
                # stream keeps the order they were sent in on this connection).
                future = await js.publish_async(subject, _encode(event), headers=headers)
                sent.append((index, future))
            acks = await asyncio.wait_for(asyncio.gather(*(f for _, f in sent)), 30.0)
            targets = {index: int(ack.seq) for (index, _), ack in zip(sent, acks, strict=True)}
            if targets:
                upto = max(targets.values())
                ids = [events[i].event_id for i in targets]
                given = self._answers

                def ready() -> bool:  # all answered, or committed past (a duplicate's)
                    return self._answered_upto >= upto or all(i in given for i in ids)

                await self._until(ready, 30.0)
            late = [events[i] for i in targets if events[i].event_id not in self._answers]
            stored = await asyncio.to_thread(self._stored, late) if late else {}
            for index in targets:
                event_id = events[index].event_id
                answers[index] = self._answers.get(event_id) or stored.get(event_id)
        finally:
            for index in mine:
                event_id = events[index].event_id
                left = self._wanted.get(event_id, 0) - 1
                if left > 0:  # another request waits for the same event's answer
                    self._wanted[event_id] = left
                else:
                    self._wanted.pop(event_id, None)
                    self._answers.pop(event_id, None)
        return [
            a if a is not None else Conflict(f"event {e.event_id} was not decided")
            for a, e in zip(answers, events, strict=True)
        ]

    def _stored(self, events: Sequence[s.Event]) -> dict[str, DecisionResponse]:
        found: dict[str, DecisionResponse] = {}
        with self.sessions() as session:
            holds = monitor_repo.hold_ids(session, [e.event_id for e in events])
            for event in events:
                row = monitor_repo.decision_for(session, event.event_id)
                if row is not None:
                    found[event.event_id] = DecisionResponse.stored(row, holds.get(event.event_id))
                else:  # a plain allow is counted, not stored (never a withdrawal)
                    found[event.event_id] = DecisionResponse(
                        event.event_id, "allow", 0, [], None, True
                    )
        return found

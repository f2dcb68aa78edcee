"""A partition worker's synchronous decisions (ADR 0042): a withdrawal asked of the owner
is published to the partition's subject and answered once the stream processing has
decided it, in its batch's transaction (``PartitionWorker._commit`` calls
``_collect_answers``). Kept apart from the stream loop (``riskops.cluster.partition``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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
    _wanted: set[str]
    _answers: dict[str, DecisionResponse]
    _moved: asyncio.Condition | None

    def owns(self, account_id: str) -> bool:  # pragma: no cover - the worker's
        raise NotImplementedError

    def _collect_answers(self, session: Session, made: dict[str, list[RowDecision]]) -> None:
        """The answers of the decisions someone waits for (``decide``), hold ids included."""
        wanted = [i for i in self._wanted if i in made and made[i] and made[i][0].row == 0]
        if not wanted:
            return
        held = [i for i in wanted if made[i][0].outcome is Action.HOLD]
        holds = monitor_repo.hold_ids(session, held) if held else {}
        for event_id in wanted:
            self._answers[event_id] = DecisionResponse.of(made[event_id][0], holds.get(event_id))

    # --- decisions asked synchronously (H6 routes them here) -----------------------------

    async def decide(self, events: list[s.Event]) -> list[DecisionResponse | Exception]:
        """Decide events of this partition's accounts with the partition's state.

        Each event is published to the stream (``Nats-Msg-Id`` = event id), and answered
        once the stream processing has decided it, in its batch's transaction: the request
        becomes part of the partition's history exactly once, and a copy arriving on the
        stream later is the same event (JetStream drops it within its duplicate window, the
        recent-ids window after). An event decided before is answered from the decision
        log (``duplicate``)."""
        answers: list[DecisionResponse | Exception | None] = [None] * len(events)
        if self.nc is None or self.fence is None or self._moved is None:
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
                self._wanted.add(event.event_id)
                headers = {"Nats-Msg-Id": event.event_id}
                # The whole group in flight at once, its PubAcks gathered after (the
                # stream keeps the order they were sent in on this connection).
                future = await js.publish_async(subject, _encode(event), headers=headers)
                sent.append((index, future))
            acks = await asyncio.wait_for(asyncio.gather(*(f for _, f in sent)), 30.0)
            targets = {index: int(ack.seq) for (index, _), ack in zip(sent, acks, strict=True)}
            if targets:
                upto = max(targets.values())
                async with self._moved:
                    await asyncio.wait_for(self._moved.wait_for(lambda: self.seq >= upto), 30.0)
            late = [events[i] for i in targets if events[i].event_id not in self._answers]
            stored = await asyncio.to_thread(self._stored, late) if late else {}
            for index in targets:
                event_id = events[index].event_id
                answers[index] = self._answers.pop(event_id, None) or stored.get(event_id)
        finally:
            for index in mine:
                self._wanted.discard(events[index].event_id)
                self._answers.pop(events[index].event_id, None)
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

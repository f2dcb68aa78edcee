"""A partition's state as stored: the evaluator (opaque bytes of its factory), the window of
recent event ids, and the stream sequence both cover.

The evaluator is restored through its factory only (``EvaluatorFactory.restore``): whatever
it holds (rule features, model state) is its own business. The snapshot row sits in
PostgreSQL beside the checkpoint (``cluster_snapshots``, ADR 0041), written by the owner
under its fence, after the batch it covers has committed: it is never ahead of the
checkpoint, and a restart replays the stream from its sequence to the checkpoint without
writing (those results are committed already), then goes on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import msgspec

from riskops.monitor.engine import RowDecision

FORMAT = 1


class Pending(msgspec.Struct):
    """A decision on a transfer's second row (the counterparty's, owned here) whose event
    belongs to another partition: written once that partition has put the event in the
    log (its seq is the decision's), kept in the state until then (ADR 0041)."""

    payload: str
    decisions: list[RowDecision]


class PartitionState(msgspec.Struct):
    """What a snapshot holds."""

    seq: int
    evaluator: bytes
    recent: list[str]
    format: int = FORMAT
    pending: list[Pending] = msgspec.field(default_factory=list)


def encode(state: PartitionState) -> bytes:
    return msgspec.msgpack.encode(state)


def decode(blob: bytes) -> PartitionState:
    state = msgspec.msgpack.decode(blob, type=PartitionState)
    if state.format != FORMAT:
        raise ValueError(f"unknown partition snapshot format {state.format}")
    return state


class RecentIds:
    """The ids of the last ``size`` events of the stream, in order: a copy of an event
    re-published after JetStream's duplicate window is still recognised (and passed over
    by every partition alike) while it is within this window. Part of the state, so it is
    the same on every partition at every sequence."""

    def __init__(self, size: int, ids: Iterable[str] = ()) -> None:
        self.size = size
        self._order: deque[str] = deque()
        self._ids: set[str] = set()
        for event_id in ids:
            self.seen(event_id)

    def seen(self, event_id: str) -> bool:
        """Whether ``event_id`` is in the window; remembers it if not."""
        if event_id in self._ids:
            return True
        self._order.append(event_id)
        self._ids.add(event_id)
        if len(self._order) > self.size:
            self._ids.discard(self._order.popleft())
        return False

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def ids(self) -> list[str]:
        return list(self._order)

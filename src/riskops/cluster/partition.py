"""The partition worker: one partition of the monitor, fed by NATS JetStream (ADR 0041).

A worker owns partition I of N: the accounts whose ``crc32(account_id) % N`` is I, the
mapping the publisher uses (``riskops.events.nats.partition_of``). It reads the WHOLE
stream in stream order (JetStream keeps one order across its subjects), decides in full the
rows of its accounts, and lets every other row update only the features keyed by something
else than the account (``riskops.cluster.crosskey``): a feature by IP, device or
counterparty sees every row on every partition, exactly as in the single process, so N
partitions make the decisions and alerts of one, event for event.

A batch is decided in stream order first (the routed decisions answered then, a hold once
written: ADR 0049), and written while the next batch is decided, one write at a time, in two
transactions (ADR 0044), each fenced by the lease (and renewing it): the partition's events
are ingested (idempotent on event id), then its decisions, alerts and holds written
(``riskops.monitor.service.process_batch``, idempotent) with the checkpoint (the stream
sequence covered). The consumer acks nothing: the checkpoint in the same transaction as the
results is the position, so a crash anywhere loses nothing (what was decided after the
checkpoint is read again) and duplicates nothing (it was not committed, or it was and the
stream is read after it). Snapshots (state + the sequence it covers) go to
``cluster_snapshots``; a restart restores one and replays the stream from it to the
checkpoint without writing, then goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.accounts.rating import RatingCache
from riskops.cluster import repository as repo
from riskops.cluster import snapshots
from riskops.cluster.answers import Answering
from riskops.cluster.crosskey import CrossKeyObserver, LearningObserver, OwnedRows
from riskops.cluster.reader import Message, StreamReader
from riskops.events import schemas as s
from riskops.events import validation
from riskops.events.flat import to_rows
from riskops.events.models import Source
from riskops.events.nats import ensure_stream, partition_of
from riskops.events.service import ingest
from riskops.events.validation import Rejection
from riskops.kernel.clock import utcnow
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.logging import get_logger
from riskops.kernel.processes import ChildBytes
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service
from riskops.monitor.engine import Evaluator, Monitor, RowDecision
from riskops.monitor.evaluators import EvaluatorFactory
from riskops.monitor.schemas import DecisionResponse

log = get_logger(__name__)
_encode = msgspec.json.Encoder().encode
# A process_batch that must not count or tell (the row-1-only events of a partition).
_NEVER_TOLD = 2**62


STREAM_SETTLE = 0.002
"""Seconds the stream read waits for more of a batch once its first message is in, unless
routed decisions wait for answers (``StreamReader.fetch``)."""


class LeaseLost(RuntimeError):
    """Another worker took the partition: this one must stop writing at once."""


@dataclass(frozen=True)
class PartitionSpec:
    """Which stream, which subject tree, which partition of how many."""

    stream: str
    subject: str
    partition: int
    partitions: int

    def __post_init__(self) -> None:
        if self.partitions < 1 or not 0 <= self.partition < self.partitions:
            message = f"partition {self.partition}/{self.partitions}: want 0 <= I < N, N >= 1"
            raise ValueError(message)

    @property
    def checkpoint_name(self) -> str:
        """The monitor checkpoint ``process_batch`` keeps (in event log seqs)."""
        return f"cluster:{self.partition}:{self.stream}"[:64]


def parse_partition(text: str) -> tuple[int, int]:
    """``I/N`` -> (I, N), with a clear error."""
    try:
        left, right = text.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise ValueError(f"--partition {text!r}: use I/N, e.g. 0/2") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--partition {text!r}: want 0 <= I < N and N >= 1")
    return index, count


def default_owner() -> str:
    """A name no other process has: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _event_id(pending: snapshots.Pending) -> str:
    return pending.decisions[0].event_id if pending.decisions else ""


@dataclass(slots=True)
class _Record:  # what process_batch reads (``monitor.service.LogRecord``)
    seq: int
    payload: str
    event: s.Event | None = None  # decoded already: process_batch need not decode it again


@dataclass
class _Work:
    """A decided batch waiting to be written (``PartitionWorker.write``)."""

    messages: list[Message]
    now: datetime
    rejected: list[tuple[int | None, s.Event | Rejection]] = field(default_factory=list)
    owned: list[tuple[int, s.Event]] = field(default_factory=list)  # the events it logs
    decided: list[tuple[s.Event, str, list[RowDecision]]] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.messages[-1].seq

    def merge(self, later: _Work) -> _Work:
        """This batch and the next one as one write (stream order kept)."""
        return _Work(
            self.messages + later.messages,
            later.now,
            self.rejected + later.rejected,
            self.owned + later.owned,
            self.decided + later.decided,
        )


class _Sender(msgspec.Struct):
    account_id: str


_sender = msgspec.json.Decoder(_Sender).decode


class _Decided(Monitor):
    """The decisions already made in stream order, handed to ``process_batch`` to write."""

    def __init__(self, evaluator: Evaluator, made: dict[str, list[RowDecision]]) -> None:
        super().__init__(evaluator)
        self.made = made

    def decide(self, event: s.Event, seq: int) -> list[RowDecision]:
        return self.made[event.event_id]


@dataclass
class Stats:
    """What a worker did since it started."""

    batches: int = 0
    messages: int = 0
    decided: int = 0  # events with a row of this partition
    observed: int = 0  # events of other partitions (cross-key state only)
    duplicates: int = 0
    rejected: int = 0
    replayed: int = 0
    snapshots: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class PartitionWorker(Answering):
    """Owns one partition: its lease, its state, its stream position and its writes."""

    def __init__(
        self,
        engine: Engine,
        factory: EvaluatorFactory,
        spec: PartitionSpec,
        *,
        nats_url: str,
        owner: str | None = None,
        batch_size: int = 1_000,
        lease_seconds: float = 5.0,
        snapshot_every: int = 50_000,
        snapshot_seconds: float = 30.0,
        max_event_bytes: int = 64 * 1024,
        dedupe_window: int = 100_000,
        clock: Callable[[], datetime] = utcnow,
        early_answers: bool = True,
        fork_snapshots: bool = True,
    ) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.factory = factory
        self.spec = spec
        self.nats_url = nats_url
        self.owner = owner or default_owner()
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.snapshot_every = snapshot_every
        self.snapshot_seconds = snapshot_seconds
        self.max_event_bytes = max_event_bytes
        self.dedupe_window = dedupe_window
        self.clock = clock
        # A routed decision is answered once its batch is decided, before the batch's
        # commit (a hold after it, with its id): ADR 0049. False: every answer after the
        # commit, as before.
        self.early_answers = early_answers
        # The state is encoded by a forked child while decisions go on (ADR 0053); False
        # (or no fork): under the state's lock, as before.
        self.fork_snapshots = fork_snapshots
        self.fence: int | None = None
        self.seq = 0  # the stream sequence the in-memory state covers
        self.durable = 0  # the checkpoint: results committed up to this sequence
        self.stats = Stats()
        self.nc: Any = None
        self._js: Any = None  # one JetStream context (its PubAck subscription) per connection
        self._reader: StreamReader | None = None
        self.ratings = RatingCache()
        self._kinds: dict[str, set[RestrictionKind]] = {}
        self._lock = threading.Lock()  # the state: deciding, recovering, snapshotting
        self._write_lock = threading.Lock()  # the writes (one batch behind the decisions)
        self._pending_lock = threading.Lock()
        self._stale = True
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()
        self._renewed_at = 0.0
        self._hole: tuple[int, int] | None = None  # a hole in the sequence, seen once
        self._wanted: dict[str, int] = {}
        self._answers: dict[str, DecisionResponse] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._answered_upto = 0
        self._queued: _Work | None = None  # decided, waiting for the writer
        self._writer: asyncio.Task[None] | None = None
        self._snapshotting: asyncio.Task[None] | None = None
        self.recent = snapshots.RecentIds(dedupe_window)
        self.pending: dict[str, snapshots.Pending] = {}
        self.evaluator: Evaluator = factory.new()
        self.monitor = Monitor(self.evaluator)
        self._observer: Callable[[dict[str, Any]], None] = lambda row: None
        self._observe_event: Callable[[s.Event, int], bool] | None = None

    def owns(self, account_id: str) -> bool:
        return partition_of(account_id, self.spec.partitions) == self.spec.partition

    # --- the lease ---------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take the partition if nobody holds it (or its holder's lease ran out)."""
        now = self.clock()
        with unit_of_work(self.sessions) as session:
            repo.ensure_partitions(session, self.spec.stream, self.spec.partitions, now)
            fence = repo.acquire(
                session,
                self.spec.stream,
                self.spec.partition,
                self.owner,
                now + self.lease,
                now,
            )
        if fence is None:
            return False
        self.fence = fence
        self._renewed_at = time.monotonic()
        log.info("cluster.lease_taken", partition=self.spec.partition, owner=self.owner)
        return True

    def _fenced(self, session: Session, checkpoint: int | None) -> None:
        """First statement of every writing transaction: still ours? (raises otherwise)"""
        now = self.clock()
        if self.fence is None or not repo.fenced_advance(
            session,
            self.spec.stream,
            self.spec.partition,
            self.fence,
            checkpoint,
            now + self.lease,
            now,
        ):
            self.fence = None
            raise LeaseLost(f"partition {self.spec.partition}: another worker owns it now")
        self._renewed_at = time.monotonic()

    def renew(self) -> None:
        """Keep the lease while idle (raises ``LeaseLost``)."""
        with self._lock, self._write_lock, unit_of_work(self.sessions) as session:
            self._fenced(session, None)

    def renew_due(self) -> bool:
        return time.monotonic() - self._renewed_at >= self.lease.total_seconds() / 3

    def release(self) -> None:
        """Give the partition up (a clean stop), so a standby takes it at once."""
        if self.fence is None:
            return
        with unit_of_work(self.sessions) as session:
            repo.release(session, self.spec.stream, self.spec.partition, self.fence, self.clock())
        self.fence = None

    # --- state -------------------------------------------------------------------------

    def recover(self) -> None:
        """State from the snapshot (or empty), position from it; the checkpoint as the
        point up to which the stream is replayed without writing."""
        with self._lock, self._write_lock:
            with self.sessions() as session:
                durable = repo.checkpoint(session, self.spec.stream, self.spec.partition)
                row = repo.load_snapshot(session, self.spec.stream, self.spec.partition)
                blob = (row.state, row.rules) if row is not None else None
            evaluator, seq, recent = self.factory.new(), 0, snapshots.RecentIds(self.dedupe_window)
            pending: dict[str, snapshots.Pending] = {}
            if blob is not None:
                try:
                    state = snapshots.decode(blob[0])
                    if state.seq > durable:
                        message = f"snapshot at {state.seq} is ahead of the checkpoint {durable}"
                        raise ValueError(message)
                    if blob[1] != self.factory.fingerprint:
                        log.info("cluster.rules_changed_since_snapshot", seq=state.seq)
                    evaluator = self.factory.restore(state.evaluator)
                    seq = state.seq
                    recent = snapshots.RecentIds(self.dedupe_window, state.recent)
                    pending = {_event_id(p): p for p in state.pending}
                except Exception as exc:
                    log.warning("cluster.snapshot_unusable", reason=str(exc)[:200])
                    evaluator, seq, pending = self.factory.new(), 0, {}
                    recent = snapshots.RecentIds(self.dedupe_window)
            self.evaluator = evaluator
            owned = OwnedRows(evaluator, self.owns)
            self._observer = owned.observe
            observer = owned.observe
            fast = (
                observer.event
                if isinstance(observer, CrossKeyObserver | LearningObserver)
                else None
            )
            self._observe_event = fast
            self.monitor = Monitor(owned, self._restrictions)
            self.monitor.ratings = self.ratings.get
            self.seq, self.durable, self.recent, self.pending = seq, durable, recent, pending
            self._since_snapshot = 0
            self._stale = False
            log.info(
                "cluster.recovered",
                partition=self.spec.partition,
                snapshot=seq,
                checkpoint=durable,
            )

    def _restrictions(self, account_id: str) -> set[RestrictionKind]:
        return self._kinds.get(account_id) or set()

    def snapshot(self, wait: float = 30.0) -> None:
        """Store the state with the sequence it covers (under the fence).

        The state is taken between two batches' decisions, at the sequence decided. A
        forked child encodes it (ADR 0053): decisions wait only for the fork (a few ms),
        not for the encoding, which grows with the state (about 120 ms for 5,000 accounts
        and 60,000 events; seconds for an exchange's millions). It is written once the
        writes have committed that far (a snapshot is never ahead of the checkpoint),
        while the stream processing goes on. Given up (kept for the next one) if the child
        fails, or the writes do not get there, within ``wait`` seconds."""
        with self._lock:
            if self._stale:
                return
            with self._pending_lock:
                pending = list(self.pending.values())
            seq, since = self.seq, self._since_snapshot
            evaluator, recent = self.evaluator, self.recent

            def capture() -> snapshots.PartitionState:
                return snapshots.PartitionState(
                    seq, evaluator.snapshot(), recent.ids(), pending=pending
                )

            encoded: Callable[[], bytes]
            if (
                self.fork_snapshots
                and (child := ChildBytes.start(lambda: snapshots.encode(capture()))) is not None
            ):
                encoded = functools.partial(child.result, timeout=wait)
            else:  # no fork here: the state is captured under the lock, encoded after it
                encoded = functools.partial(snapshots.encode, capture())
        try:
            blob = encoded()
        except (RuntimeError, TimeoutError) as exc:  # the child failed or overran
            log.warning("cluster.snapshot_not_taken", reason=str(exc)[:200])
            return
        deadline = time.monotonic() + wait
        while self.durable < seq:  # the batches decided before it are being written
            if self._stale or time.monotonic() > deadline:
                return
            time.sleep(0.01)
        with self._write_lock, unit_of_work(self.sessions) as session:
            self._fenced(session, None)
            repo.save_snapshot(
                session,
                self.spec.stream,
                self.spec.partition,
                seq,
                self.factory.fingerprint,
                blob,
                self.clock(),
            )
            self._since_snapshot -= since  # under the write lock, as the writer counts
        self._snapshot_at = time.monotonic()
        self.stats.snapshots += 1

    def snapshot_due(self) -> bool:
        if self._since_snapshot <= 0:
            return False
        if self._since_snapshot >= self.snapshot_every:
            return True
        return 0 < self.snapshot_seconds <= time.monotonic() - self._snapshot_at

    # --- a batch -----------------------------------------------------------------------

    def _mine(self, event: s.Event) -> tuple[bool, bool]:
        """Whether this partition owns the event's row 0 and its row 1 (a transfer's
        counterparty)."""
        first = self.owns(event.account_id)
        second = isinstance(event, s.TransferInternal) and self.owns(event.counterparty_id)
        return first, second

    def apply(self, messages: Sequence[Message]) -> int:
        """Apply messages in stream order: replay (state only) up to the checkpoint, then
        decide the rest and write them (``_write``). Returns how many were new. On any
        failure the state is rebuilt before the next batch (the caller reads again from
        ``seq``)."""
        with self._lock:
            work = self._prepare(messages)
            if work is not None:
                self.write(work)
            return len(work.messages) if work is not None else 0

    def prepare(self, messages: Sequence[Message]) -> _Work | None:
        """The stream loop's first stage (ADR 0049): replay up to the checkpoint, decide the
        rest in stream order and answer the routed decisions (a hold's answer waits for
        the write); what is left to write (``write``, one batch behind), or None."""
        with self._lock:
            return self._prepare(messages)

    def _prepare(self, messages: Sequence[Message]) -> _Work | None:
        if self._stale:
            raise RuntimeError("the partition's state must be recovered first")
        fresh = [m for m in messages if m.seq > self.seq]
        try:
            replay = [m for m in fresh if m.seq <= self.durable]
            if replay:
                self._replay(replay)
            live = [m for m in fresh if m.seq > self.durable]
            return self._decide(live) if live else None
        except BaseException:
            self._stale = True
            raise

    def _decode(self, message: Message) -> s.Event | Rejection:
        # A projection of the routing fields first, then the full decode for the events
        # of the partition only, was tried: the full decode must validate every event on
        # every partition (a refused event must be refused everywhere alike), and msgspec
        # decodes a whole event in about 3 us, so the projection saved nothing.
        return validation.decode(message.data, max_bytes=self.max_event_bytes)

    @staticmethod
    def _units(messages: Sequence[Message]) -> list[tuple[Message, int]]:
        """One unit per event: a message holds one JSON event, or several as NDJSON lines
        (``riskops publish --per-message K``: the stream's read costs per message)."""
        units: list[tuple[Message, int]] = []
        for message in messages:
            data = message.data
            if b"\n" not in data:
                units.append((message, 0))
                continue
            lines = [line for line in data.split(b"\n") if line.strip()] or [data]
            units.extend((Message(message.seq, line), i) for i, line in enumerate(lines))
        return units

    def _replay(self, messages: Sequence[Message]) -> None:
        """State only: these results are committed. A transfer's second row decided here
        goes back to the pending ones (written again if it was: idempotent)."""
        for message, _ in self._units(messages):
            event = self._decode(message)
            self.seq = message.seq
            if isinstance(event, Rejection) or self.recent.seen(event.event_id):
                continue
            first, second = self._mine(event)
            if not (first or second):
                self._observe(event, message.seq)
                continue
            rows = self.monitor.decide(event, message.seq)
            if second and not first:
                self._defer(event, message, rows)
        self.stats.replayed += len(messages)

    def _observe(self, event: s.Event, seq: int) -> None:
        """An event with no row here: its rows only update the cross-key features (what
        ``Monitor.decide`` would do through ``OwnedRows``, without making decisions)."""
        fast = self._observe_event
        if fast is not None and fast(event, seq):
            return
        ratings = self.ratings.get
        observe = self._observer
        for row in to_rows(event, seq):
            if (rated := ratings(row["account_id"])) is not None:
                row["account.rating"], row["account.rating_band"] = rated
            observe(row)

    def _defer(self, event: s.Event, message: Message, rows: list[RowDecision]) -> None:
        kept = [d for d in rows if d.row == 1]
        with self._pending_lock:  # the writer's thread reads them meanwhile
            self.pending[event.event_id] = snapshots.Pending(message.data.decode(), kept)

    def _drop_pending(self, done: Sequence[str]) -> None:
        """Forget the pending second rows committed."""
        if done:
            with self._pending_lock:
                for event_id in done:
                    self.pending.pop(event_id, None)

    def _write_pending(self, session: Session, now: datetime) -> list[str]:
        """Write the pending second rows whose events are in the log and whose own
        partition has committed their results (its checkpoint, in log seqs, has passed
        them), and no longer owed (``cluster_owed``: the accounts follower waits for them,
        ADR 0047); returns their ids (dropped from ``pending`` once committed). Never waits for
        another partition: an event is logged before its results (ADR 0044), and the
        event's timeline row, which this write adds too (a no-op then), would otherwise
        wait on the owner's open transaction, or deadlock with it."""
        with self._pending_lock:  # the next batch is decided (and may add some) meanwhile
            waiting = dict(self.pending)
        if not waiting:
            return []
        seqs = repo.log_seqs(session, waiting)
        if seqs:
            upto = self._checkpoints(session)
            seqs = {
                event_id: seq
                for event_id, seq in seqs.items()
                if seq <= upto.get(self._owner_of(waiting[event_id]), 0)
            }
        if not seqs:
            return []
        written = set(repo.second_rows_stored(session, list(seqs)))
        made: dict[str, list[RowDecision]] = {}
        records: list[_Record] = []
        for event_id, log_seq in sorted(seqs.items(), key=lambda item: item[1]):
            if event_id in written:
                continue
            pending = waiting[event_id]
            for decision in pending.decisions:
                decision.seq = log_seq
            made[event_id] = pending.decisions
            records.append(_Record(log_seq, pending.payload))
        if records:
            service.process_batch(
                session,
                _Decided(self.evaluator, made),
                records,
                checkpoint=self.spec.checkpoint_name,
                counted_through=_NEVER_TOLD,
                now=now,
            )
        repo.settle(session, self.spec.stream, seqs)  # the accounts follower may read them
        return list(seqs)

    def _owed_elsewhere(self, logged: Sequence[tuple[int, s.Event]]) -> list[tuple[str, int]]:
        """The transfers among the events this partition logs whose second row another
        partition owes: (event id, that partition), recorded with the events (ADR 0047)."""
        partitions, mine = self.spec.partitions, self.spec.partition
        return [
            (event.event_id, other)
            for _, event in logged
            if isinstance(event, s.TransferInternal)
            and (other := partition_of(event.counterparty_id, partitions)) != mine
        ]

    def _checkpoints(self, session: Session) -> dict[int, int]:
        """Each partition's committed position in the event log (its monitor checkpoint)."""
        spec = self.spec
        return {
            p: monitor_repo.get_checkpoint(
                session,
                PartitionSpec(spec.stream, spec.subject, p, spec.partitions).checkpoint_name,
            )
            for p in range(spec.partitions)
        }

    def _owner_of(self, pending: snapshots.Pending) -> int:
        """The partition of a pending second row's event (its sender's account)."""
        return partition_of(_sender(pending.payload).account_id, self.spec.partitions)

    def flush_pending(self) -> int:
        """Write what is pending and can be (while the stream is idle); how many."""
        with self._lock, self._write_lock:
            if self._stale or not self.pending:
                return 0
            with unit_of_work(self.sessions) as session:
                self._fenced(session, None)
                done = self._write_pending(session, self.clock())
            self._drop_pending(done)
            return len(done)

    def _decide(self, messages: Sequence[Message]) -> _Work:
        """Decide a batch in stream order (the state moves to its last sequence) and hand
        the routed decisions their answers, all but the holds' (ADR 0049); nothing is
        written: ``write`` does, in two transactions.

        The restrictions and ratings the rules read are those committed when the batch
        is decided (a short read of their own)."""
        work = _Work(list(messages), self.clock())
        with self.sessions() as session:
            self._kinds = accounts.active_kinds(session)
            self.ratings.refresh(session)
        for message, index, event in [(m, i, self._decode(m)) for m, i in self._units(messages)]:
            if isinstance(event, Rejection):
                if (message.seq + index) % self.spec.partitions == self.spec.partition:
                    work.rejected.append((message.seq, event))
                    self.stats.rejected += 1
                continue
            if self.recent.seen(event.event_id):
                self.stats.duplicates += 1
                continue
            first, second = self._mine(event)
            if not (first or second):
                self._observe(event, message.seq)
                self.stats.observed += 1
                continue
            self.stats.decided += 1
            rows = self.monitor.decide(event, message.seq)
            if not first:  # only the counterparty's row: written once the event is logged
                self._defer(event, message, rows)
                continue
            work.owned.append((message.seq, event))
            kept = [d for d in rows if d.row == 0 or second]
            work.decided.append((event, message.data.decode(), kept))
        if self.early_answers:  # the stream holds the requests; a replay decides alike
            self._post_answers(self._early_answers({e.event_id: k for e, _, k in work.decided}))
        self.seq = work.last
        return work

    def write(self, work: _Work) -> None:
        """Write decided batches (one ``_Work``, or several merged) in two transactions.

        Logging events takes the event log's lock until the commit (``events.repository``:
        seq order is commit order), and every partition logs its events: a partition that
        held it while deciding, or while writing its results, made the others wait (2
        partitions ran slower than 1). So the first transaction (fenced) logs the
        partition's events not in the log yet, with the second rows other partitions owe
        for them (ADR 0047), and commits: the lock is held for the append alone. The
        second writes the results with the checkpoint (fenced, all or nothing): the
        refusals' dead letters, the events that were in the log already (a replay's,
        settled as ``ingest`` settles them), the decisions with the log's seq (as a
        transfer's second row always had). A crash between the two leaves events logged
        and the checkpoint before them: read again, decided again alike, logged already (a
        no-op), written once. On a failure the state must be rebuilt (``recover``)."""
        try:
            with self._write_lock:
                if self._stale:  # an earlier write failed: this one would skip its events
                    raise RuntimeError("the partition's state must be recovered first")
                self._write(work)
        except BaseException:
            self._stale = True
            raise

    def _write(self, work: _Work) -> None:
        now, last, owned = work.now, work.last, work.owned
        with unit_of_work(self.sessions) as session:
            self._fenced(session, None)
            logged = repo.log_seqs(session, [event.event_id for _, event in owned])
            fresh = [(seq, event) for seq, event in owned if event.event_id not in logged]
            if fresh:
                ingest(session, fresh, source=Source.NATS.value, source_name=self.spec.stream)
                repo.owe(session, self.spec.stream, self._owed_elsewhere(fresh))
        with unit_of_work(self.sessions) as session:
            self._fenced(session, last)
            items = work.rejected + [(seq, e) for seq, e in owned if e.event_id in logged]
            if items:
                items.sort(key=lambda item: item[0] or 0)
                ingest(session, items, source=Source.NATS.value, source_name=self.spec.stream)
            seqs = repo.log_seqs(session, [event.event_id for event, _, _ in work.decided])
            made: dict[str, list[RowDecision]] = {}
            whole: list[_Record] = []
            for event, payload, kept in work.decided:
                log_seq = seqs[event.event_id]
                for decision in kept:
                    decision.seq = log_seq
                made[event.event_id] = kept
                whole.append(_Record(log_seq, payload, event))
            decider = _Decided(self.evaluator, made)
            name = self.spec.checkpoint_name
            result = service.process_batch(session, decider, whole, checkpoint=name, now=now)
            done = self._write_pending(session, now)
            answers = self._collect_answers(session, made, holds_only=self.early_answers)
        self._drop_pending(done)
        for outcome, count in result.outcomes.items():
            self.stats.outcomes[outcome] = self.stats.outcomes.get(outcome, 0) + count
        self.durable = last
        self._since_snapshot += len(work.messages)
        self.stats.batches += 1
        self.stats.messages += len(work.messages)
        self._post_answers(answers, upto=last)  # committed: the holds' answers, their ids

    # --- the loop ----------------------------------------------------------------------

    async def run(
        self,
        stop: asyncio.Event,
        *,
        idle_exit: float | None = None,
        fetch_timeout: float = 0.5,
        serve: Callable[[Any, PartitionWorker], Any] | None = None,
    ) -> Stats:
        """Own the partition until ``stop`` (or idle ``idle_exit`` seconds, or the lease
        is lost): take the lease (waiting while another holds it), recover, consume."""
        import nats

        while not stop.is_set():
            if await asyncio.to_thread(self.try_acquire):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.lease.total_seconds() / 2)
        if stop.is_set():
            return self.stats
        self._loop = asyncio.get_running_loop()
        self.nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1)
        try:
            js = self._js = self.nc.jetstream()
            await ensure_stream(js, self.spec.stream, self.spec.subject)
            if serve is not None:
                await serve(self.nc, self)
            await self._consume(js, stop, idle_exit, fetch_timeout)
        finally:
            with contextlib.suppress(Exception):
                if self.fence is not None and not self._stale:
                    await asyncio.to_thread(self.flush_pending)
                    await asyncio.to_thread(self.snapshot)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.release)
            await self.nc.close()
            self.nc = self._js = None
        return self.stats

    async def _subscribe(self, js: Any) -> StreamReader:
        """A reader from the sequence after the state's (the one it replaces closed)."""
        reader = StreamReader(
            self.nc, js, self.spec.stream, self.spec.subject, self.seq + 1, self.batch_size
        )
        self._reader = await reader.open()
        return self._reader

    async def _consume(
        self, js: Any, stop: asyncio.Event, idle_exit: float | None, fetch_timeout: float
    ) -> None:
        assert self._loop is not None
        await asyncio.to_thread(self.recover)
        self._settle()
        sub = await self._subscribe(js)
        try:
            await self._consume_from(sub, js, stop, idle_exit, fetch_timeout)
        finally:
            await self._quiesce()
            if self._reader is not None:
                await self._reader.close()

    async def _consume_from(
        self,
        sub: StreamReader,
        js: Any,
        stop: asyncio.Event,
        idle_exit: float | None,
        fetch_timeout: float,
    ) -> None:
        """Read, decide, write: a batch is decided (and its routed decisions answered)
        while the batches before it are written, one write at a time, in stream order; the
        batches decided during a write are written together next (ADR 0049)."""
        assert self._loop is not None
        idle = 0.0
        failures = 0
        while not stop.is_set():
            try:
                try:
                    # The read's settle (more of a batch for a wait of 2 ms) is latency on
                    # every answer while routed decisions wait: none then (ADR 0049).
                    settle = 0.0 if self._wanted else STREAM_SETTLE
                    batch = await sub.fetch(fetch_timeout, settle)
                except TimeoutError:
                    idle += fetch_timeout
                    await self._drain()  # idle: everything decided is written first
                    if self.pending:  # the other partitions may have logged their events now
                        await asyncio.to_thread(self.flush_pending)
                    if idle_exit is not None and idle >= idle_exit and not self.pending:
                        return
                    await self._housekeeping()
                    continue
                idle = 0.0
                batch, hole = self._before_hole(batch)
                self._writer_failed()
                if self._queued is not None and len(self._queued.messages) >= 4 * self.batch_size:
                    await self._drain()  # the writes fell behind: decide no further ahead
                if batch:
                    work = await asyncio.to_thread(self.prepare, batch)
                    if work is not None:
                        self._queue_write(work)
                if hole:  # read again from the hole: lost in flight, or not in the stream
                    with contextlib.suppress(Exception):
                        await sub.close()
                    sub = await self._subscribe(js)
            except LeaseLost:
                log.error("cluster.lease_lost", partition=self.spec.partition)
                return
            except Exception as exc:
                failures += 1
                delay = min(10.0, 0.5 * 2 ** min(failures, 5))
                log.error("cluster.batch_failed", error=type(exc).__name__, retry_in=delay)
                await self._quiesce()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                with contextlib.suppress(Exception):
                    await sub.close()
                try:
                    await asyncio.to_thread(self.recover)
                except Exception as again:
                    log.error("cluster.recover_failed", error=type(again).__name__)
                    continue
                self._settle()
                sub = await self._subscribe(js)
                continue
            if self._writer is not None and self._writer.done():
                failures = 0 if self._writer.exception() is None else failures
            await self._housekeeping()

    def _queue_write(self, work: _Work) -> None:
        """Hand a decided batch to the writer (merged with those still waiting); the
        writer's failure raised instead (the batch is decided again after the recovery)."""
        self._writer_failed()
        self._queued = work if self._queued is None else self._queued.merge(work)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="partition-writer")

    async def _write_queued(self) -> None:
        while self._queued is not None:
            work, self._queued = self._queued, None
            await asyncio.to_thread(self.write, work)
            self._settle()

    def _writer_failed(self) -> None:
        """Raise the writer's failure, if it failed (the state is stale then)."""
        writer = self._writer
        if writer is not None and writer.done() and (error := writer.exception()) is not None:
            self._writer = None
            raise error

    async def _drain(self) -> None:
        """Until every decided batch is written (the writer's failure raised)."""
        if self._writer is not None:
            await asyncio.wait([self._writer])
        self._writer_failed()

    async def _quiesce(self) -> None:
        """No write nor snapshot in flight any more (a failed write is forgotten: the state
        is rebuilt from the checkpoint, the batches decided after it read again)."""
        tasks = [t for t in (self._writer, self._snapshotting) if t is not None]
        if tasks:
            await asyncio.wait(tasks)
        if self._stale:  # decided after a failed write, or by a failed decision: read again
            self._queued = None
        self._writer = None

    def _before_hole(self, batch: list[Message]) -> tuple[list[Message], bool]:
        """The batch up to a hole in the stream sequence, and whether there was one.

        Nothing is acked, so a message lost between the server and this consumer would
        never come again on it: at a hole the worker reads again from the hole. A hole seen
        twice at the same place is the stream's own (messages removed by its limits or a
        purge) and is passed, with an error in the log."""
        expected = self.seq + 1
        for index, message in enumerate(batch):
            if message.seq < expected:
                continue
            if message.seq > expected:
                seen = (expected, message.seq)
                if self._hole == seen:
                    log.error("cluster.stream_hole", missing_from=expected, upto=message.seq - 1)
                    self._hole = None
                    expected = message.seq + 1
                    continue
                self._hole = seen
                return batch[:index], True
            expected = message.seq + 1
        return batch, False

    async def _housekeeping(self) -> None:
        """Between batches: a due snapshot (beside the stream processing), or the lease's
        renewal while idle."""
        if self._snapshotting is not None and not self._snapshotting.done():
            return
        if self.snapshot_due():
            self._snapshotting = asyncio.create_task(self._snapshot_aside(), name="snapshot")
        elif self.renew_due():
            await asyncio.to_thread(self.renew)

    async def _snapshot_aside(self) -> None:
        try:
            await asyncio.to_thread(self.snapshot)
        except Exception as exc:  # a lost lease shows at the next write's fence too
            log.error("cluster.snapshot_failed", error=type(exc).__name__)

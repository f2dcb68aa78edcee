"""The monitor runtime: the one owner of the evaluator state in a process.

It tails the event log by ``seq`` from its state position, decides every event, and writes
each batch (decisions, alerts, holds, checkpoint) in one transaction. The state is
snapshotted to ``{data_dir}/monitor.snapshot``; on start it restores the snapshot (state as
of seq S) and replays the log after S. Replayed writes are idempotent (unique keys, ON
CONFLICT DO NOTHING), so a restart loses no event and duplicates no alert.

The synchronous decision API goes through the same owner: requests that arrive together
are grouped (group commit) and decided in one transaction, under the same lock as the tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.engine import Engine

from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.accounts.rating import RatingCache
from riskops.auth.permissions import Principal
from riskops.events import schemas as s
from riskops.events.models import Source
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import NotFound
from riskops.kernel.logging import get_logger
from riskops.kernel.processes import fork_child
from riskops.kernel.retry import Backoff
from riskops.monitor import quarantine, service
from riskops.monitor import repository as repo
from riskops.monitor.engine import Evaluator, Monitor
from riskops.monitor.evaluators import (
    EvaluatorFactory,
    EventLog,
    RulesEvaluatorFactory,
    SqlEventLog,
    ready_prefix,
)
from riskops.monitor.health import LastError
from riskops.monitor.schemas import DecisionResponse
from riskops.monitor.service import LogRecord
from riskops.rules.types import Action

log = get_logger(__name__)
SNAPSHOT_FILE = "monitor.snapshot"


def tune_gc() -> None:
    """Collect garbage less often: the monitor's state is many long-lived small objects.

    With the default thresholds (700, 10, 10) the collector runs every few requests and
    its older generations rescan the growing state: measured over HTTP on two cores, p99
    of POST /v1/decisions at 32 connections fell from about 100-130 ms to 23-30 ms with
    these thresholds. The process has one monitor runtime, so this process-wide setting
    belongs to it.
    """
    gc.set_threshold(50_000, 50, 1_000)


class SnapshotFile(msgspec.Struct):
    """What the snapshot file holds: the evaluator state and the log position it reflects."""

    seq: int
    state: bytes
    rules: str
    format: int = 1


_Asked = tuple[s.Event, "asyncio.Future[DecisionResponse]"]


def _answer(
    loop: asyncio.AbstractEventLoop,
    group: list[_Asked],
    answers: list[DecisionResponse | Exception] | BaseException,
) -> None:
    """On ``loop``: settle the futures of ``group`` that belong to it with ``answers`` (one
    a request, or the group's failure); a request that stopped waiting is passed over."""
    for index, (_, future) in enumerate(group):
        if future.done() or future.get_loop() is not loop:
            continue
        answer = answers if isinstance(answers, BaseException) else answers[index]
        if isinstance(answer, BaseException):
            future.set_exception(answer)
        else:
            future.set_result(answer)


class MonitorRuntime:
    """Owns one evaluator and its ``Monitor``; every decision in the process goes through it."""

    def __init__(
        self,
        engine: Engine,
        factory: EvaluatorFactory,
        *,
        snapshot_path: Path,
        snapshot_every: int = 50_000,
        snapshot_seconds: float = 5.0,
        batch_size: int = 2_000,
        log_: EventLog | None = None,
        name: str = "default",
        poll_interval: float = 0.1,
        gap_grace: timedelta = timedelta(seconds=2),
        clock: Callable[[], float] = time.monotonic,
        background_snapshots: bool = False,
    ) -> None:
        self.engine = engine
        # the rules read the account ratings (``account.rating``) through the cache, refreshed
        # before each batch; the accounts follower of the log writes them (ADR 0028)
        self.ratings = RatingCache()
        self.sessions = session_factory(engine)
        self.factory = factory
        self.snapshot_path = snapshot_path
        self.snapshot_every = snapshot_every
        self.snapshot_seconds = snapshot_seconds
        self.batch_size = batch_size
        self.log = log_ or SqlEventLog()
        self.name = name
        self.poll_interval = poll_interval
        self.gap_grace = gap_grace
        self.clock = clock
        self.background_snapshots = background_snapshots
        self._writer: int | None = None  # the pid of a child writing a snapshot
        self.totals = service.BatchResult()
        self.last_error: LastError | None = None
        self._kinds: dict[str, set[RestrictionKind]] = {}
        self._lock = threading.Lock()
        self._since_snapshot = 0
        self._snapshot_at = clock()
        self._counted = 0  # outcomes are counted up to this seq (a rebuild replays some)
        # The synchronous decisions' lane: requests queue here, one thread decides them in
        # groups (whatever waits when it is free) and hands each group's answers back.
        self._inbox: queue.SimpleQueue[_Asked | None] = queue.SimpleQueue()
        self._decider: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        # Log positions to skip: quarantined and not replayed (from the dead-letter store),
        # plus those this process quarantined (kept over rebuilds, whatever the store says).
        self._quarantined: set[int] = set()
        self._poisoned: set[int] = set()
        self._failed: Sequence[LogRecord] = ()  # the records of the batch that just failed
        self._stale = False  # the state is ahead of the database: rebuild before going on
        self.seq = 0
        self.monitor = Monitor(self.factory.new(), self._restrictions, self.ratings.get)
        self._rebuild()

    @classmethod
    def create(cls, settings: Settings, engine: Engine, **kwargs: Any) -> MonitorRuntime:
        """The runtime of the settings: rules from the database (or the default pack)."""
        factory = kwargs.pop("factory", None) or RulesEvaluatorFactory.load(
            engine, settings.data_dir / "lists"
        )
        kwargs.setdefault("snapshot_every", settings.snapshot_every)
        kwargs.setdefault("snapshot_seconds", settings.snapshot_seconds)
        kwargs.setdefault("background_snapshots", True)
        return cls(engine, factory, snapshot_path=settings.data_dir / SNAPSHOT_FILE, **kwargs)

    # --- state ------------------------------------------------------------------------

    def _load_state(self) -> Evaluator:
        """Restore the snapshot if there is a usable one, else start empty at seq 0.

        The database is read before the snapshot is judged: a lost database raises here
        (the caller rebuilds later) instead of making a good snapshot look unusable, which
        would replay the whole log once the database is back.
        """
        self.seq = 0
        if not self.snapshot_path.exists():
            return self.factory.new()
        durable = self.checkpoint()
        try:
            snap = msgspec.msgpack.decode(self.snapshot_path.read_bytes(), type=SnapshotFile)
            # A snapshot is written after its batch commits, so it is never ahead of the
            # database's checkpoint; one that is belongs to another database (or this one
            # was restored from an older backup): using it would skip events.
            if snap.seq > durable:
                message = f"snapshot is at seq {snap.seq}, ahead of the database's {durable}"
                raise ValueError(message)
            if snap.rules != self.factory.fingerprint:
                # The engine keeps the state of the features the new set still has.
                log.info("monitor.rules_changed_since_snapshot", seq=snap.seq)
            evaluator = self.factory.restore(snap.state)
        except Exception as exc:
            path = str(self.snapshot_path)
            log.warning("monitor.snapshot_unusable", reason=str(exc), path=path)
            return self.factory.new()
        self.seq = snap.seq
        log.info("monitor.snapshot_restored", seq=snap.seq)
        return evaluator

    def _rebuild(self) -> None:
        """State from the snapshot, and the quarantined positions after it; raises if the
        database is lost, and the next step tries again."""
        self._stale = True
        evaluator = self._load_state()
        with self.sessions() as session:
            skip = quarantine.quarantined_seqs(session, self.seq)
        self.monitor.evaluator = evaluator
        self._quarantined = skip | {q for q in self._poisoned if q > self.seq}
        self._since_snapshot = 0
        self._stale = False

    def _recover(self) -> None:
        """After a failed write the in-memory state is ahead of the log: rebuild it (now,
        or at the next step if the database is not there)."""
        self._stale = True
        try:
            self._rebuild()
        except Exception as exc:
            log.warning("monitor.rebuild_deferred", error=type(exc).__name__)

    def snapshot(self) -> None:
        """Write the state and its seq atomically (tmp file, fsync, rename), here and now
        (after a snapshot being written in the background, which it supersedes)."""
        with self._lock:
            self._reap(block=True)
            if not self._stale:
                self._write_snapshot()

    def _write_snapshot(self) -> None:
        self._write_snapshot_file()
        self._since_snapshot = 0
        self._snapshot_at = self.clock()

    def _periodic_snapshot(self) -> None:
        """The snapshot that is due, in a forked child when ``background_snapshots``.

        Encoding the state takes long (about a second for 5,000 accounts over ten days of
        traffic), and it runs under the runtime's lock, so every decision would wait. A
        forked child holds the state as it is at the fork (copy-on-write) and writes it
        while this process goes on deciding, as Redis does its background saves. One child
        at a time: while it writes, the next due snapshot waits for it.
        """
        if not self.background_snapshots or not hasattr(os, "fork"):
            self._write_snapshot()
            return
        if not self._reap(block=False):
            return  # the previous one is still being written
        self._since_snapshot = 0
        self._snapshot_at = self.clock()
        self._writer = fork_child(self._write_snapshot_file)
        if self._writer is None:
            self._write_snapshot_file()

    def _reap(self, *, block: bool) -> bool:
        """Whether no snapshot child is running (any finished one is reaped)."""
        if self._writer is None:
            return True
        try:
            pid, status = os.waitpid(self._writer, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere
            pid, status = self._writer, 0
        if pid == 0:
            return False
        if status != 0:  # the snapshot before it stays; a restart replays a little more
            log.warning("monitor.snapshot_failed", status=status)
        self._writer = None
        return True

    def _write_snapshot_file(self) -> None:
        snap = SnapshotFile(self.seq, self.monitor.evaluator.snapshot(), self.factory.fingerprint)
        self.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot_path.with_name(f"{self.snapshot_path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(msgspec.msgpack.encode(snap))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.snapshot_path)
        directory = os.open(self.snapshot_path.parent, os.O_RDONLY)
        try:  # the rename itself is durable only once the directory is synced
            os.fsync(directory)
        finally:
            os.close(directory)

    def _snapshot_due(self) -> bool:
        """A snapshot by count (``snapshot_every`` events) or by time (``snapshot_seconds``
        since the last one, with progress since): a restart replays at most that much."""
        if self._since_snapshot <= 0:
            return False
        if self._since_snapshot >= self.snapshot_every:
            return True
        return 0 < self.snapshot_seconds <= self.clock() - self._snapshot_at

    def _restrictions(self, account_id: str) -> set[RestrictionKind]:
        return self._kinds.get(account_id) or set()

    def _advanced(self, result: service.BatchResult) -> None:
        """After a commit: move the state position, count, snapshot when due."""
        self.seq = max(self.seq, result.last_seq)
        self._counted = max(self._counted, result.last_seq)
        self.totals.merge(result, latencies=False)
        self._since_snapshot += result.read
        if self._snapshot_due():
            self._periodic_snapshot()

    def _failure(self, exc: BaseException) -> None:
        """Remember the last error for health (its type, when, where: no message, which may
        carry an account id)."""
        self.last_error = LastError(type(exc).__name__, utcnow(), self.seq)

    # --- tailing ----------------------------------------------------------------------

    def step(self, limit: int | None = None) -> service.BatchResult:
        """Process the next batch of the log in one transaction (nothing read at the end).

        An event that cannot be decided is quarantined and the batch decided without it; a
        lost database raises (nothing is quarantined) and the caller retries later.
        """
        with self._lock:
            result = self._next(limit or self.batch_size)
            if not result.read and self._snapshot_due():
                self._periodic_snapshot()  # idle: the timed one is not left for later
            return result

    def _next(
        self, limit: int, *, keep: Collection[str] = (), wait_gaps: bool = True
    ) -> service.BatchResult:
        if self._stale:
            self._rebuild()
        try:
            return self._batch(limit, keep=keep, wait_gaps=wait_gaps)
        except Exception as exc:
            self._failure(exc)
            if quarantine.transient(exc) or not self._failed:
                raise
            log.warning("monitor.batch_isolating", error=type(exc).__name__, seq=self.seq)
            return self._isolate(keep=keep)

    def _batch(
        self,
        limit: int,
        *,
        below: int | None = None,
        keep: Collection[str] = (),
        wait_gaps: bool = True,
    ) -> service.BatchResult:
        """One transaction: the next ``limit`` records (those before ``below``)."""
        self._failed = ()
        try:
            with unit_of_work(self.sessions) as session:
                records = self.log.read_after(session, self.seq, limit)
                if wait_gaps:
                    records = ready_prefix(records, self.seq, utcnow(), self.gap_grace)
                if below is not None:
                    if records and records[0].seq >= below:  # no event in (seq, below)
                        self.seq = max(self.seq, below - 1)
                    records = [r for r in records if r.seq < below]
                if not records:
                    return service.BatchResult()
                self._failed = records
                self._kinds = accounts.active_kinds(session)
                self.ratings.refresh(session)
                result = service.process_batch(
                    session,
                    self.monitor,
                    records,
                    checkpoint=self.name,
                    keep=keep,
                    skip=self._quarantined,
                    counted_through=self._counted,
                )
        except BaseException:
            self._recover()
            raise
        self._failed = ()
        self._advanced(result)
        return result

    def _isolate(self, *, keep: Collection[str] = ()) -> service.BatchResult:
        """A batch failed for something its events did: decide them again one at a time,
        quarantine each that fails, and move on.

        The state was rebuilt from the snapshot, so every event is applied to it once:
        the events before the failed batch (decided before) go in full batches, those of
        the batch one per transaction. After a quarantine the state is rebuilt again (the
        failing event may have changed it before it raised) and the replay skips it.
        """
        low, high = self._failed[0].seq, self._failed[-1].seq
        done = service.BatchResult()
        while self.seq < high:
            if self._stale:
                self._rebuild()
            before = self.seq
            if self.seq < low - 1:
                try:
                    part = self._batch(self.batch_size, below=low, keep=keep, wait_gaps=False)
                except Exception as exc:
                    if quarantine.transient(exc) or not self._failed:
                        raise
                    low = self._failed[0].seq  # decided before, failing now: suspects too
                    continue
            else:
                try:
                    part = self._batch(1, keep=keep, wait_gaps=False)
                except Exception as exc:
                    if quarantine.transient(exc) or not self._failed:
                        raise
                    record = self._failed[0]
                    self._quarantine(record, exc)
                    done.quarantined += 1
                    low = record.seq + 1
                    continue
            done.merge(part)
            done.decisions.extend(part.decisions)
            if not part.read and self.seq == before:
                break
        return done

    def _quarantine(self, record: LogRecord, exc: BaseException) -> None:
        with unit_of_work(self.sessions) as session:
            quarantine.quarantine(session, record, exc, checkpoint=self.name, now=utcnow())
        self._poisoned.add(record.seq)
        self._quarantined.add(record.seq)
        self.totals.quarantined += 1
        log.error("monitor.event_quarantined", seq=record.seq, error=type(exc).__name__)

    def catch_up(self) -> service.BatchResult:
        """Process the log up to its end; one transaction per batch."""
        done = service.BatchResult()
        while (result := self.step()).read:
            done.merge(result)
        return done

    def checkpoint(self) -> int:
        with self.sessions() as session:
            return repo.get_checkpoint(session, self.name)

    @property
    def writer(self) -> threading.Lock:
        """The lock every batch and decision group holds while it writes."""
        return self._lock

    async def start(self) -> None:
        """Start tailing the log in the background (the app lifespan calls this)."""
        tune_gc()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._tail(), name="monitor-tail")

    async def _tail(self) -> None:
        assert self._stopping is not None
        backoff = Backoff(initial=0.5, maximum=10.0)
        while not self._stopping.is_set():
            try:
                result = await asyncio.to_thread(self.step)
            except Exception as exc:
                delay = backoff.next_delay()
                # The type only: a database error's message carries the statement's values.
                log.error(
                    "monitor.batch_failed", error=type(exc).__name__, seq=self.seq, retry_in=delay
                )
                result = service.BatchResult()
            else:
                backoff.reset()
                delay = self.poll_interval
            if not result.read:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self) -> None:
        """Stop tailing and snapshot the state."""
        if self._stopping is not None:
            self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if (decider := self._decider) is not None:
            # A decision asked from now on starts a thread of its own, on a queue of its own;
            # this one ends after the decisions asked before.
            inbox, self._inbox, self._decider = self._inbox, queue.SimpleQueue(), None
            inbox.put(None)
            await asyncio.to_thread(decider.join)
        try:
            await asyncio.to_thread(self.snapshot)
        except OSError as exc:  # the next start replays a little more; nothing is lost
            log.warning("monitor.snapshot_failed", error=repr(exc))

    # --- synchronous decisions --------------------------------------------------------

    async def decide_now(self, event: s.Event) -> DecisionResponse:
        """Log the event, catch up, decide it, write the results, commit, answer."""
        future: asyncio.Future[DecisionResponse] = asyncio.get_running_loop().create_future()
        decider = self._decider
        if decider is None or not decider.is_alive():
            decider = threading.Thread(
                target=self._decide_asked, args=(self._inbox,), name="monitor-decide"
            )
            decider.daemon = True  # a process that never stops the runtime still exits
            decider.start()
            self._decider = decider
        self._inbox.put((event, future))
        return await future

    def _decide_asked(self, inbox: queue.SimpleQueue[_Asked | None]) -> None:
        """The decision thread: take what waits (blocking for the first), decide it as one
        group, hand the answers to each request's event loop; until ``stop`` says so.

        One thread for the process's life: a group costs one wake-up each way, without an
        executor's work item, a copied context and chained futures per group."""
        while (first := inbox.get()) is not None:
            group = [first]
            stopping = False
            with contextlib.suppress(queue.Empty):
                while True:
                    asked = inbox.get_nowait()
                    if asked is None:
                        stopping = True
                        break
                    group.append(asked)
            answers: list[DecisionResponse | Exception] | BaseException
            try:
                answers = self.decide_events([event for event, _ in group])
            except Exception as exc:
                answers = exc
            loops = {id(future.get_loop()): future.get_loop() for _, future in group}
            for loop in loops.values():
                with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                    loop.call_soon_threadsafe(_answer, loop, group, answers)
            if stopping:
                return

    def decide_events(self, events: Sequence[s.Event]) -> list[DecisionResponse | Exception]:
        """Decide events synchronously (idempotent on event id).

        One transaction logs them, catches up on the log and decides them. If an event
        there cannot be decided (another account's, or one of these), the events are
        logged on their own and the log is decided with the failing events quarantined:
        no decision depends on another account's event. An event of the group that is
        quarantined is answered with ``Undecidable``.
        """
        with self._lock:
            if self._stale:
                self._rebuild()
            try:
                return self._decide_together(events)
            except Exception as exc:
                self._failure(exc)
                if quarantine.transient(exc):
                    raise
                log.warning("monitor.decisions_isolating", error=type(exc).__name__)
            with unit_of_work(self.sessions) as session:
                refused = self.log.append(session, events)
            wanted = {e.event_id for e in events}
            result = service.BatchResult()
            while (part := self._next(self.batch_size, keep=wanted, wait_gaps=False)).read:
                result.merge(part)
                result.decisions.extend(part.decisions)
            with self.sessions() as session:
                return self._answers(session, events, result, refused)

    def _decide_together(self, events: Sequence[s.Event]) -> list[DecisionResponse | Exception]:
        try:
            with unit_of_work(self.sessions) as session:
                refused = self.log.append(session, events)
                account_ids = {e.account_id for e in events}
                fresh = accounts.active_kinds(session, account_ids)
                for account in account_ids:
                    self._kinds[account] = fresh.get(account, set())
                self.ratings.refresh(session)
                wanted = {e.event_id for e in events}
                result = service.BatchResult()
                while records := self.log.read_after(session, self.seq, self.batch_size):
                    part = service.process_batch(
                        session,
                        self.monitor,
                        records,
                        checkpoint=self.name,
                        keep=wanted,
                        skip=self._quarantined,
                        counted_through=self._counted,
                    )
                    result.merge(part)
                    result.decisions.extend(part.decisions)
                    self.seq = part.last_seq  # provisional: restored by _recover on failure
                    if len(records) < self.batch_size:
                        break
                answers = self._answers(session, events, result, refused)
        except BaseException:
            self._recover()
            raise
        self._advanced(result)
        return answers

    def _answers(
        self,
        session: Any,
        events: Sequence[s.Event],
        result: service.BatchResult,
        refused: dict[str, Exception],
    ) -> list[DecisionResponse | Exception]:
        fresh = {d.event_id: d for d in result.decisions if d.row == 0}
        held = [
            e.event_id
            for e in events
            if e.event_id not in fresh or fresh[e.event_id].outcome is Action.HOLD
        ]
        holds = repo.hold_ids(session, held) if held else {}
        stored = {}
        for event in events:
            if event.event_id in fresh or event.event_id in refused:
                continue
            if (decision := repo.decision_for(session, event.event_id)) is not None:
                stored[event.event_id] = decision
        unknown = [
            e.event_id
            for e in events
            if e.event_id not in fresh and e.event_id not in refused and e.event_id not in stored
        ]
        # Not decided now and not stored: a plain allow decided before, unless quarantined.
        quarantined = quarantine.undecided(session, unknown) if unknown else {}
        answers: list[DecisionResponse | Exception] = []
        for event in events:
            if event.event_id in refused:
                answers.append(refused[event.event_id])
            elif (made := fresh.get(event.event_id)) is not None:
                answers.append(DecisionResponse.of(made, holds.get(event.event_id)))
            elif (row := stored.get(event.event_id)) is not None:
                answers.append(DecisionResponse.stored(row, holds.get(event.event_id)))
            elif (dead := quarantined.get(event.event_id)) is not None:
                answers.append(
                    quarantine.Undecidable(
                        f"event {event.event_id} could not be decided; it is quarantined as "
                        f"dead letter {dead}: treat it as not approved",
                        details={"dead_letter_id": dead},
                    )
                )
            else:  # decided before as a plain allow, which is counted but not stored
                answers.append(DecisionResponse(event.event_id, "allow", 0, [], None, True))
        return answers

    # --- replay -----------------------------------------------------------------------

    def replay(
        self, dead_letter_id: int, actor: Principal, *, max_event_bytes: int = 64 * 1024
    ) -> dict[str, Any]:
        """Replay a dead letter: decide a quarantined event now (after a fix), or validate a
        refused input again and ingest it. Marked replayed (audited) in the same
        transaction; an event that still fails stays quarantined (``Undecidable``)."""
        with self._lock:
            with unit_of_work(self.sessions) as session:
                dead = quarantine.replayable(session, actor, dead_letter_id)
                if dead.source != Source.MONITOR.value:
                    return quarantine.replay_input(
                        session, actor, dead, max_event_bytes=max_event_bytes
                    )
            # Decided with the state of the whole log before it, like any decision.
            while self._next(self.batch_size, wait_gaps=False).read:
                pass
            decided = False
            try:
                with unit_of_work(self.sessions) as session:
                    dead = quarantine.replayable(session, actor, dead_letter_id)
                    seq = int(dead.source_row or 0)
                    records = [r for r in self.log.read_after(session, seq - 1, 1) if r.seq == seq]
                    if not records:
                        raise NotFound(f"dead letter {dead_letter_id}: its event is not in the log")
                    event_id = quarantine.event_id_of(records[0].payload)
                    self._kinds.update(accounts.active_kinds(session))
                    self.ratings.refresh(session)
                    decided = True
                    result = service.process_batch(
                        session,
                        self.monitor,
                        records,
                        checkpoint=self.name,
                        keep={event_id} if event_id else (),
                    )
                    decision = result.decisions[0] if result.decisions else None
                    detail = {
                        "outcome": "decided",
                        "seq": seq,
                        "event_id": event_id,
                        "decision": decision.outcome.label if decision else None,
                    }
                    answer = quarantine.mark_replayed(session, actor, dead, detail)
            except Exception as exc:
                if decided:  # the evaluator may have taken the event in before it failed
                    self._recover()
                if quarantine.transient(exc) or not decided:
                    raise
                raise quarantine.Undecidable(
                    f"dead letter {dead_letter_id}: the event still cannot be decided "
                    f"({quarantine.reason_of(exc)[:200]})"
                ) from exc
            self._poisoned.discard(seq)
            self._quarantined.discard(seq)
            self._advanced(result)
            return answer

"""The accounts follower: keeps profiles, KYC/KYB reviews and ratings current by following
the event log behind the monitor.

``follow_once`` reads a bounded batch of the log after the accounts cursor, never past the
monitor's committed checkpoint: the events that change a profile (``watch.PROFILE_EVENTS``)
and the signals of the monitor's decisions on the same range (its live alerts that act, its
held withdrawals, its blocks), which the composition at the top hands in as a ``MonitorFeed``
(``riskops.monitor.service.AccountFeed``: accounts is below the monitor and imports nothing of
it). It writes the profiles, opens the reviews (their case messages go out on the kernel
outbox), records the signals, recomputes the ratings that changed and moves the cursor, all
in the caller's transaction: a crash replays the batch, and a replay finds its reviews and
signals stored (unique on event and reference) and its ratings unchanged, so nothing is done
twice (ADR 0028). ``follow`` does that a batch per transaction; ``watch_pass`` is what the
worker's loop runs between the monitor's batches (a ``Periodic``) and ``loop`` what the
server runs (``web.deps``). The monitor's own batch does none of this: its rules read the
ratings through its cache (``rating.RatingCache``).
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from riskops.accounts import kyc
from riskops.accounts.models import AccountsCursor
from riskops.accounts.rating import Signal, graph_links
from riskops.accounts.watch import PROFILE_EVENTS, AccountWatch, FlushResult
from riskops.events import follow as log_follow
from riskops.events import schemas as s
from riskops.kernel import passes
from riskops.kernel.clock import utcnow
from riskops.kernel.logging import get_logger

log = get_logger(__name__)
CURSOR = "accounts"
FOLLOW_BATCH = 2_000  # profile events per transaction at most
# Log positions per transaction at most: bounds the monitor's decisions read as signals
# when profile events are sparse (a first start on a long log).
FOLLOW_SPAN = 20_000
# What one pass of the worker's loop does at most, so a backlog is worked off between the
# monitor's batches instead of holding them.
PASS_SECONDS = 1.0
PROFILE_TYPES = frozenset(str(t.__struct_config__.tag) for t in PROFILE_EVENTS)
_event_decoder = msgspec.json.Decoder(s.AnyEvent)


class MonitorFeed(Protocol):
    """What the follower reads of the monitor (``riskops.monitor.service.AccountFeed``)."""

    def position(self, session: Session) -> int:
        """The seq up to which the monitor's decisions are committed."""
        ...

    def signals(self, session: Session, after: int, upto: int) -> list[Signal]:
        """The signals of the monitor's decisions on the events in (after, upto]."""
        ...


@dataclass
class Progress:
    events: int = 0  # profile events read
    batches: int = 0  # transactions committed
    profiles: int = 0
    reviews: int = 0
    signals: int = 0
    rated: int = 0  # accounts recomputed (a rating is written only if it changed)
    caught_up: bool = False  # the last batch reached the monitor's checkpoint

    def add(self, events: int, done: FlushResult) -> None:
        self.events += events
        self.batches += 1
        self.profiles += done.profiles
        self.reviews += done.reviews
        self.signals += done.signals
        self.rated += done.rated


def follow_once(
    session: Session,
    watch: AccountWatch,
    feed: MonitorFeed,
    *,
    limit: int = FOLLOW_BATCH,
    span: int = FOLLOW_SPAN,
    now: datetime | None = None,
) -> tuple[int, bool, FlushResult]:
    """One batch of the log after the cursor and up to the monitor's checkpoint, in the
    caller's transaction: (profile events read, whether the monitor's checkpoint was
    reached, what the watch wrote). The cursor row is locked first, so two followers (the
    server's and the worker's) take turns."""
    now = now or utcnow()
    after = log_follow.claim(session, AccountsCursor, CURSOR, now)
    position = feed.position(session)
    if position <= after:
        return 0, True, FlushResult()
    upto = min(position, after + span)
    rows, covered = log_follow.events_after(session, after, PROFILE_TYPES, limit, upto=upto)
    decided: list[s.KycDecided | s.KybDecided] = []
    try:
        for seq, payload in rows:
            event = _event_decoder.decode(payload)
            watch.add(event, seq)
            if isinstance(event, s.KycDecided | s.KybDecided):
                decided.append(event)
        watch.signals(feed.signals(session, after, covered))
        done = watch.flush(session, now=now)
    finally:
        watch.clear()
    if decided:  # after the flush: a review submitted in this batch is stored by now
        kyc.exchange_decided(session, decided, now=now)
    log_follow.advance(session, AccountsCursor, CURSOR, covered, now)
    return len(rows), covered >= position, done


def follow(
    sessions: sessionmaker[Session],
    feed: MonitorFeed,
    watch: AccountWatch | None = None,
    *,
    limit: int = FOLLOW_BATCH,
    span: int = FOLLOW_SPAN,
    max_batches: int | None = None,
    max_seconds: float | None = None,
    writer: AbstractContextManager[object] | None = None,
    now: datetime | None = None,
) -> Progress:
    """Follow the log up to the monitor's checkpoint (or for ``max_batches`` transactions,
    or until ``max_seconds`` have passed). ``writer``, if given, is held around each
    transaction (the server's SQLite writer lock); ``now`` stamps what is written (default:
    the clock at each batch)."""
    active = watch or process_watch()
    progress = Progress()

    def batch(session: Session) -> bool:
        read, at_end, done = follow_once(session, active, feed, limit=limit, span=span, now=now)
        progress.add(read, done)
        return at_end

    progress.caught_up = passes.in_batches(
        sessions, batch, max_batches=max_batches, max_seconds=max_seconds, writer=writer
    )
    return progress


def cursor(session: Session) -> int:
    """How far the follower has read the log."""
    return log_follow.cursor(session, AccountsCursor, CURSOR)


_watch: AccountWatch | None = None
_watch_lock = threading.Lock()


def process_watch() -> AccountWatch:
    """The process's watch (with the links graph as the rating's source of links)."""
    global _watch
    with _watch_lock:
        if _watch is None:
            _watch = AccountWatch(links=graph_links)
        return _watch


# The watch is not thread-safe: the passes of one process (the worker's loop, the server's
# task) run one at a time.
_pass_lock = threading.Lock()


def watch_pass(
    sessions: sessionmaker[Session],
    writer: AbstractContextManager[object] | None = None,
    *,
    feed: MonitorFeed,
) -> Progress | None:
    """Follow the log for up to ``PASS_SECONDS`` (the rest on the next pass), logged; an
    error is logged, never fatal (the cursor did not move, so the next pass retries)."""
    try:
        with _pass_lock:
            progress = follow(sessions, feed, max_seconds=PASS_SECONDS, writer=writer)
    except Exception as exc:
        log.error("accounts.pass_failed", error=type(exc).__name__)
        return None
    if progress.profiles or progress.signals:
        log.info(
            "accounts.pass",
            events=progress.events,
            profiles=progress.profiles,
            reviews=progress.reviews,
            signals=progress.signals,
            rated=progress.rated,
            caught_up=progress.caught_up,
        )
    return progress


def catch_up(
    sessions: sessionmaker[Session],
    writer: AbstractContextManager[object] | None = None,
    *,
    feed: MonitorFeed,
) -> Progress:
    """Follow the log to the monitor's checkpoint, however long that takes (the worker's
    last pass before ``--once`` returns, so the reviews' cases exist when it does)."""
    with _pass_lock:
        return follow(sessions, feed, writer=writer)


async def loop(
    sessions: sessionmaker[Session],
    every_s: float,
    stopping: asyncio.Event,
    feed: MonitorFeed,
    writer: AbstractContextManager[object] | None = None,
) -> None:
    """``watch_pass`` every ``every_s`` seconds until ``stopping`` is set (the server,
    which passes its SQLite writer lock as ``writer``)."""
    await passes.every(lambda: watch_pass(sessions, writer, feed=feed), every_s, stopping)

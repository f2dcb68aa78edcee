"""The links follower: keeps the linked-accounts graph current by following the event log.

``follow_once`` reads a bounded batch of the log after the links cursor (the events that can
carry a link, ``extract.LINKED_EVENTS``), writes their links, joins and alerts clusters
(``service.LinkKeeper``; the alerts go out on the kernel outbox) and moves the cursor, all in
the caller's transaction: a crash replays the batch, and a replay finds its links stored, so
nothing joins again and nothing is alerted twice (ADR 0026). ``follow`` does that a batch
per transaction; ``links_pass`` is what the worker's loop runs between the monitor's batches
(``riskops.worker``, a ``Periodic``) and ``loop`` what the server runs (``web.deps``): the
graph is kept by a consumer of the log, never by the monitor's batch and never nightly.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import follow as log_follow
from riskops.events import schemas as s
from riskops.kernel.clock import utcnow
from riskops.kernel.logging import get_logger
from riskops.kernel.passes import every, in_batches
from riskops.links.extract import LINKED_EVENTS
from riskops.links.keeper import FlushResult, LinkKeeper
from riskops.links.models import LinksCursor

log = get_logger(__name__)
CURSOR = "links"
FOLLOW_BATCH = 2_000
# What one pass of the worker's loop does at most, so a backlog (a first start on a long
# log) is worked off between the monitor's batches instead of holding them.
PASS_SECONDS = 1.0
_event_decoder = msgspec.json.Decoder(s.AnyEvent)


@dataclass
class Progress:
    events: int = 0  # log events read that can carry a link
    batches: int = 0  # transactions committed
    new: int = 0  # links that did not exist
    joins: int = 0  # pairs of accounts joined
    alerts: int = 0  # cluster alerts published
    caught_up: bool = False  # the last batch reached the end of the log

    def add(self, events: int, done: FlushResult) -> None:
        self.events += events
        self.batches += 1
        self.new += done.new
        self.joins += done.joins
        self.alerts += done.alerts


def follow_once(
    session: Session,
    keeper: LinkKeeper,
    *,
    limit: int = FOLLOW_BATCH,
    now: datetime | None = None,
) -> tuple[int, bool, FlushResult]:
    """One batch of the log after the cursor, in the caller's transaction: (events read,
    whether the log's end was reached, what keeping their links did). The cursor row is
    locked first, so two followers (the server's and the worker's) take turns."""
    now = now or utcnow()
    after = log_follow.claim(session, LinksCursor, CURSOR, now)
    rows, covered = log_follow.events_after(session, after, LINKED_EVENTS, limit)
    decoded = [(_event_decoder.decode(payload), seq) for seq, payload in rows]
    done = keeper.record(session, decoded, now=now)
    if covered > after:
        log_follow.advance(session, LinksCursor, CURSOR, covered, now)
    return len(rows), len(rows) < limit, done


def follow(
    sessions: sessionmaker[Session],
    keeper: LinkKeeper | None = None,
    *,
    limit: int = FOLLOW_BATCH,
    max_batches: int | None = None,
    max_seconds: float | None = None,
    writer: AbstractContextManager[object] | None = None,
    now: datetime | None = None,
) -> Progress:
    """Follow the log to its end (or for ``max_batches`` transactions, or until
    ``max_seconds`` have passed), ``limit`` events per transaction. ``writer``, if given,
    is held around each transaction (the server's SQLite writer lock); ``now`` stamps the
    clusters and alerts (default: the clock at each batch)."""
    link_keeper = keeper or process_keeper(sessions)
    progress = Progress()

    def batch(session: Session) -> bool:
        read, at_end, done = follow_once(session, link_keeper, limit=limit, now=now)
        progress.add(read, done)
        return at_end

    progress.caught_up = in_batches(
        sessions, batch, max_batches=max_batches, max_seconds=max_seconds, writer=writer
    )
    return progress


def cursor(session: Session) -> int:
    """How far the follower has read the log."""
    return log_follow.cursor(session, LinksCursor, CURSOR)


_keepers: weakref.WeakKeyDictionary[object, LinkKeeper] = weakref.WeakKeyDictionary()
_keeper_lock = threading.Lock()


def process_keeper(sessions: sessionmaker[Session]) -> LinkKeeper:
    """The process's keeper of the database ``sessions`` open (its memory of the links
    committed there saves rewriting them; a memory is only true of its own database)."""
    bind = sessions.kw.get("bind")
    if bind is None:
        return LinkKeeper()
    with _keeper_lock:
        keeper = _keepers.get(bind)
        if keeper is None:
            keeper = _keepers[bind] = LinkKeeper()
        return keeper


# The keeper is not thread-safe: the passes of one process (the worker's loop, the server's
# task) run one at a time.
_pass_lock = threading.Lock()


def links_pass(
    sessions: sessionmaker[Session], writer: AbstractContextManager[object] | None = None
) -> None:
    """Follow the log for up to ``PASS_SECONDS`` (the rest on the next pass), logged; an
    error is logged, never fatal (the cursor did not move, so the next pass retries)."""
    _logged_pass(sessions, PASS_SECONDS, writer)


def links_catch_up(sessions: sessionmaker[Session]) -> None:
    """Follow the log to its end, logged (``riskops worker --once`` before it returns, so
    the clusters of everything it monitored exist)."""
    _logged_pass(sessions, None, None)


def _logged_pass(
    sessions: sessionmaker[Session],
    seconds: float | None,
    writer: AbstractContextManager[object] | None,
) -> None:
    try:
        with _pass_lock:
            progress = follow(sessions, max_seconds=seconds, writer=writer)
    except Exception as exc:
        log.error("links.pass_failed", error=type(exc).__name__)
        return
    if progress.new or progress.alerts:
        log.info(
            "links.pass",
            events=progress.events,
            new=progress.new,
            joins=progress.joins,
            alerts=progress.alerts,
            caught_up=progress.caught_up,
        )


async def loop(
    sessions: sessionmaker[Session],
    every_s: float,
    stopping: asyncio.Event,
    writer: AbstractContextManager[object] | None = None,
) -> None:
    """``links_pass`` every ``every_s`` seconds until ``stopping`` is set (the server,
    which passes its SQLite writer lock as ``writer``)."""
    await every(partial(links_pass, sessions, writer), every_s, stopping)

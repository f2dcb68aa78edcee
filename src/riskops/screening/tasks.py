"""Screening background passes: follow the event log, rescreen after a list changed.

``follow`` reads the event log after the screening cursor for the events that name a subject
(``service.SCREENED_EVENTS``: KYC and KYB submissions and decisions, P2P orders), screens
the new and changed subjects, and moves the cursor, in one transaction: a crash replays the
batch, and a replay finds its subjects unchanged and its hits stored. ``rescreen`` screens,
a batch per transaction, the subjects not yet screened against the current list versions
(every subject, after a list changed). ``pass_`` does both and is what a composition at the
top schedules (``riskops.worker`` hands it to the monitor's loop as a ``Periodic``; the
server's container runs ``loop``): screening reads the log itself, so neither the monitor
nor accounts call it, and it imports neither.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import schemas as s
from riskops.kernel.clock import utcnow
from riskops.kernel.logging import get_logger
from riskops.kernel.passes import every, in_batches
from riskops.screening import repository as repo
from riskops.screening import service
from riskops.screening.service import ScreenerCache

log = get_logger(__name__)
CURSOR = "follower"
FOLLOW_BATCH = 1_000
RESCREEN_BATCH = 500
_event_decoder = msgspec.json.Decoder(s.AnyEvent)


@dataclass
class Progress:
    events: int = 0  # log events read that name a subject
    screened: int = 0  # subjects screened
    hits: int = 0  # new hits (alerts)

    def add(self, events: int, screened: int, hits: int) -> None:
        self.events += events
        self.screened += screened
        self.hits += hits


def follow_once(
    session: Session,
    *,
    cache: ScreenerCache | None = None,
    limit: int = FOLLOW_BATCH,
    now: datetime | None = None,
) -> tuple[int, service.Screened]:
    """One batch of the log after the cursor, in the caller's transaction: (events read
    that name a subject, what screening them did). The cursor moves past the batch."""
    now = now or utcnow()
    after = repo.cursor(session, CURSOR)
    rows, covered = repo.events_after(session, after, service.SCREENED_EVENTS, limit)
    facts = []
    for _, payload in rows:
        facts.extend(service.facts_of(_event_decoder.decode(payload)))
    done = service.observe(session, facts, cache=cache, now=now)
    if covered > after:
        repo.advance_cursor(session, CURSOR, covered, now)
    return len(rows), done


def follow(
    sessions: sessionmaker[Session],
    *,
    cache: ScreenerCache | None = None,
    limit: int = FOLLOW_BATCH,
    max_batches: int | None = None,
    writer: AbstractContextManager[object] | None = None,
) -> Progress:
    """Follow the log to its end (or for ``max_batches`` transactions), ``limit`` events per
    transaction. ``writer``, if given, is held around each transaction (the server's SQLite
    writer lock, as for the case delivery)."""
    progress = Progress()

    def batch(session: Session) -> bool:
        before = repo.cursor(session, CURSOR)
        read, done = follow_once(session, cache=cache, limit=limit)
        progress.add(read, done.subjects, len(done.hits))
        return read < limit or repo.cursor(session, CURSOR) <= before

    in_batches(sessions, batch, max_batches=max_batches, writer=writer)
    return progress


def rescreen(
    sessions: sessionmaker[Session],
    *,
    cache: ScreenerCache | None = None,
    limit: int = RESCREEN_BATCH,
    max_batches: int | None = None,
    writer: AbstractContextManager[object] | None = None,
) -> Progress:
    """Screen every subject not screened against the current lists, ``limit`` per
    transaction (at most ``max_batches`` of them, if given; ``writer`` as for ``follow``)."""
    progress = Progress()
    after_id = 0

    def batch(session: Session) -> bool:
        nonlocal after_id
        done = service.rescreen(session, cache=cache, after_id=after_id, limit=limit)
        progress.add(0, done.screened, done.hits)
        after_id = done.last_id
        return done.screened < limit

    in_batches(sessions, batch, max_batches=max_batches, writer=writer)
    return progress


# What one pass of the worker's loop does at most, so a backlog (a first start on a long
# log, a list change of a million subjects) is worked off between the monitor's batches
# instead of holding them: about 0.2 s of screening at 1,000 names/s.
PASS_FOLLOW_BATCHES = 2
PASS_RESCREEN = 200


def run_pass(
    sessions: sessionmaker[Session],
    cache: ScreenerCache | None = None,
    *,
    follow_batches: int | None = PASS_FOLLOW_BATCHES,
    rescreen_limit: int = PASS_RESCREEN,
    writer: AbstractContextManager[object] | None = None,
) -> Progress:
    """Follow the log, then rescreen one batch (the rest on the next passes)."""
    progress = follow(
        sessions, cache=cache, limit=FOLLOW_BATCH, max_batches=follow_batches, writer=writer
    )
    more = rescreen(sessions, cache=cache, limit=rescreen_limit, max_batches=1, writer=writer)
    progress.add(0, more.screened, more.hits)
    return progress


def screening_pass(
    sessions: sessionmaker[Session], writer: AbstractContextManager[object] | None = None
) -> None:
    """``run_pass`` with the process's cache, logged; an error is logged, never fatal (the
    cursor did not move, so the next pass retries)."""
    try:
        progress = run_pass(sessions, writer=writer)
    except Exception as exc:
        log.error("screening.pass_failed", error=repr(exc))
        return
    if progress.screened or progress.hits:
        log.info(
            "screening.pass",
            events=progress.events,
            screened=progress.screened,
            hits=progress.hits,
        )


async def loop(
    sessions: sessionmaker[Session],
    every_s: float,
    stopping: asyncio.Event,
    writer: AbstractContextManager[object] | None = None,
) -> None:
    """``screening_pass`` every ``every_s`` seconds until ``stopping`` is set (the server,
    which passes its SQLite writer lock as ``writer``, like ``cases.tasks.intake_loop``)."""
    await every(partial(screening_pass, sessions, writer), every_s, stopping)

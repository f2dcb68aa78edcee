"""Case background tasks, run by the server and the worker.

``housekeeping`` (every ``RISKOPS_HOUSEKEEPING_SECONDS``): seed the default queues, end
overdue waits for the customer (the SLA clock runs again), and hand unassigned new cases to
analysts on shift. Each run is one transaction. Running it from two processes at once is
safe: waits are ended and cases claimed with the same guarded updates an analyst's action uses.

``drain`` (every ``RISKOPS_INTAKE_POLL_SECONDS``, default 0.5 s): deliver the intake outbox,
the case alerts the monitor wrote in its batch transactions, into cases, and the holds
resolved outside their case (the ``hold.resolved`` topic of the kernel outbox) to it. One owner per
process: in ``riskops serve`` the ``intake_loop`` task started by ``web.deps.Container``
(not the monitor runtime, whose tail and decision path stay free of case work); in
``riskops worker`` the worker's own loop, between batches and once more before ``--once``
exits. So a held withdrawal's case appears within about a second. Two processes draining at
once is safe: on PostgreSQL they take different rows (``FOR UPDATE SKIP LOCKED``), on SQLite
the write lock serializes them, and an alert delivered twice changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from riskops.cases import holds, review_outcomes
from riskops.cases.alert_intake import drain_outbox, ensure_default_queues
from riskops.cases.lifecycle import sweep
from riskops.cases.shifts import auto_assign
from riskops.kernel.clock import utcnow
from riskops.kernel.db import unit_of_work
from riskops.kernel.logging import get_logger
from riskops.kernel.passes import every

log = get_logger(__name__)
DRAIN_BATCH = 500
# Beside live decisions (a writer lock is shared) delivery goes in small transactions with a
# pause between them: a 500-alert transaction held the lock for 100-175 ms on the bench
# machine, and the decisions queued behind it set the p99 (ADR 0008).
SHARED_DRAIN_BATCH = 50
_SHARED_PAUSE_S = 0.002


def housekeeping(sessions: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
    """One pass: queues seeded, expired waits reopened, new cases auto-assigned."""
    now = now or utcnow()
    with unit_of_work(sessions) as session:
        ensure_default_queues(session)
        done = sweep(session, now)
        done["auto_assigned"] = auto_assign(session, now)
    return done


def deliver(
    sessions: sessionmaker[Session],
    limit: int = DRAIN_BATCH,
    writer: AbstractContextManager[object] | None = None,
) -> int:
    """One transaction of delivery: the oldest ``limit`` outbox alerts into cases, then, once
    no alert waits, the oldest ``limit`` holds resolved outside their cases
    (``cases.holds.deliver``): a hold's alert is written before the hold can be resolved, so
    its case exists by then.

    ``writer``, if given, is held around the transaction: on SQLite the server passes the
    monitor runtime's lock, so a decision waits for a delivery on that lock instead of in
    SQLite's busy handler, whose sleeps (1, 2, 5, 10, 15... ms) overshoot the wait.
    """
    with writer or contextlib.nullcontext(), unit_of_work(sessions) as session:
        delivered = drain_outbox(session, limit)
        if delivered < limit:  # every alert is in, so a resolved hold finds the case it opened
            delivered += holds.deliver(session, limit)
        if delivered < limit:  # and a decided KYC review finds the case of its alerts
            delivered += review_outcomes.deliver(session, limit - delivered)
        return delivered


def drain(
    sessions: sessionmaker[Session],
    *,
    limit: int = DRAIN_BATCH,
    writer: AbstractContextManager[object] | None = None,
) -> int:
    """Deliver the intake outbox until it is empty, ``limit`` alerts per transaction;
    returns how many were delivered. Callers that read cases right after monitoring (the
    demo, benchmarks, tests) call this after the monitor."""
    total = 0
    while True:
        started = time.perf_counter()
        done = deliver(sessions, limit, writer)
        total += done
        if done < limit:
            return total
        if writer is not None:  # waiting decisions take the lock (it is not fair) and at
            # least half of the time while a backlog is delivered
            time.sleep(max(_SHARED_PAUSE_S, time.perf_counter() - started))


def housekeeping_pass(sessions: sessionmaker[Session]) -> None:
    """``housekeeping``, logged; an error is logged, never fatal (the next pass retries)."""
    try:
        done = housekeeping(sessions)
    except Exception as exc:
        log.error("cases.housekeeping_failed", error=repr(exc))
        return
    if any(done.values()):
        log.info("cases.housekeeping", **done)


def delivery_pass(
    sessions: sessionmaker[Session], writer: AbstractContextManager[object] | None = None
) -> None:
    """``drain``, logged; an error is logged, never fatal (the rows stay in the outbox for
    the next pass)."""
    limit = DRAIN_BATCH if writer is None else SHARED_DRAIN_BATCH
    try:
        if delivered := drain(sessions, limit=limit, writer=writer):
            log.debug("cases.intake_delivered", alerts=delivered)
    except Exception as exc:
        log.error("cases.intake_failed", error=repr(exc))


async def housekeeping_loop(
    sessions: sessionmaker[Session], every_s: float, stopping: asyncio.Event
) -> None:
    """``housekeeping_pass`` every ``every_s`` until ``stopping`` is set."""
    await every(partial(housekeeping_pass, sessions), every_s, stopping)


async def intake_loop(
    sessions: sessionmaker[Session],
    every_s: float,
    stopping: asyncio.Event,
    writer: AbstractContextManager[object] | None = None,
) -> None:
    """``delivery_pass`` every ``every_s`` until ``stopping`` is set."""
    await every(partial(delivery_pass, sessions, writer), every_s, stopping)

"""Case housekeeping, run every ``RISKOPS_HOUSEKEEPING_SECONDS`` by the server and the
worker: seed the default queues, end overdue waits for the customer (the SLA clock runs
again), and hand unassigned new cases to analysts on shift.

Each run is one transaction. Running it from two processes at once is safe: waits are
ended and cases claimed with the same guarded updates an analyst's action uses.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from riskops.cases.intake import ensure_default_queues
from riskops.cases.lifecycle import sweep
from riskops.cases.shifts import auto_assign
from riskops.kernel.clock import utcnow
from riskops.kernel.db import unit_of_work
from riskops.kernel.logging import get_logger

log = get_logger(__name__)


def housekeeping(sessions: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
    """One pass: queues seeded, expired waits reopened, new cases auto-assigned."""
    now = now or utcnow()
    with unit_of_work(sessions) as session:
        ensure_default_queues(session)
        done = sweep(session, now)
        done["auto_assigned"] = auto_assign(session, now)
    return done


async def housekeeping_loop(
    sessions: sessionmaker[Session], every_s: float, stopping: asyncio.Event
) -> None:
    """Run ``housekeeping`` until ``stopping`` is set; an error is logged, never fatal."""
    while not stopping.is_set():
        try:
            done = await asyncio.to_thread(housekeeping, sessions)
            if any(done.values()):
                log.info("cases.housekeeping", **done)
        except Exception as exc:
            log.error("cases.housekeeping_failed", error=repr(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every_s)

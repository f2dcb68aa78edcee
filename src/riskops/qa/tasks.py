"""QA's background pass: sample the newly closed cases.

``sampling_pass`` runs ``service.sample_pass`` as the system, one batch per transaction, until
the cases closed so far are read; a composition at the top schedules it (``riskops.worker``
as a ``Periodic``, e.g. every ``RISKOPS_HOUSEKEEPING_SECONDS``). Two passes at once never
sample a case twice: the cursor row is locked for the pass (PostgreSQL) or the write lock
serializes them (SQLite); before the cursor row exists, the later of two racing first passes
fails on the unique case id, rolls back and is retried by the next pass.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.permissions import Principal
from riskops.kernel.clock import utcnow
from riskops.kernel.logging import get_logger
from riskops.kernel.passes import in_batches
from riskops.qa import service

log = get_logger(__name__)
SAMPLER = Principal.system("qa")


def run_pass(sessions: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
    """Sample every case closed since the last pass; the totals read and sampled."""
    now = now or utcnow()
    totals = {"read": 0, "sampled": 0}

    def batch(session: Session) -> bool:
        done = service.sample_pass(session, SAMPLER, now=now)
        totals["read"] += done.read
        totals["sampled"] += done.sampled
        return done.read < service.BATCH

    in_batches(sessions, batch)
    return totals


def sampling_pass(sessions: sessionmaker[Session]) -> None:
    """``run_pass``, logged; an error is logged, never fatal (the cursor did not move)."""
    try:
        totals = run_pass(sessions)
    except Exception as exc:
        log.error("qa.sampling_failed", error=repr(exc))
        return
    if totals["read"]:
        log.info("qa.sampled", **totals)

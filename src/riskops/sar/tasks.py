"""Background passes of SAR work, each one transaction; the composition schedules them
(``Periodic("sar.retention", 86_400, retention_pass)``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.permissions import Principal
from riskops.kernel.db import unit_of_work
from riskops.kernel.logging import get_logger
from riskops.sar import service

RETENTION = Principal.system("sar.retention")
log = get_logger(__name__)


def purge_pass(session: Session, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Purge up to ``limit`` reports past their retention date (legal holds kept), audited
    as ``system:sar.retention``; returns how many went."""
    return len(service.purge(session, RETENTION, now=now, limit=limit).purged)


def retention_pass(sessions: sessionmaker[Session]) -> None:
    """``purge_pass`` in a transaction of its own, logged; an error is logged, never fatal
    (the next pass retries)."""
    try:
        with unit_of_work(sessions) as session:
            purged = purge_pass(session)
    except Exception as exc:
        log.error("sar.retention_failed", error=repr(exc))
        return
    if purged:
        log.info("sar.retention_purged", reports=purged)

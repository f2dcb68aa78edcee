"""Background passes of SAR work, each one transaction; the composition schedules them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.sar import service

RETENTION = Principal.system("sar.retention")


def purge_pass(session: Session, *, now: datetime | None = None, limit: int = 1000) -> int:
    """Purge up to ``limit`` reports past their retention date (legal holds kept), audited
    as ``system:sar.retention``; returns how many went. Run daily by the composition."""
    return len(service.purge(session, RETENTION, now=now, limit=limit).purged)

"""How the monitor is doing, for ``/readyz`` and ``/metrics``: lag, progress, quarantine.

Read from the database, so the answer is true whichever process runs the monitor (the
server's tail or ``riskops worker``). Nothing here names an account or an event: health
endpoints need no login, so they carry counts and times only.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from sqlalchemy.orm import Session

from riskops.events.models import Source
from riskops.monitor import quarantine
from riskops.monitor import repository as repo


class LastError(msgspec.Struct, frozen=True):
    """A monitor's last failure: the error's type, when, and the log position then (the
    message is left out: it may carry an account id)."""

    type: str
    at: datetime
    seq: int


class MonitorHealth(msgspec.Struct):
    """The monitor's progress through the log."""

    checkpoint: int  # the last seq decided (or quarantined) and committed
    last_seq: int  # the log's last seq
    lag: int  # events waiting to be decided
    seconds_since_progress: float | None  # None: nothing waiting
    stalled: bool  # events wait, and no progress for longer than the limit
    quarantined: int  # events set aside and not replayed
    last_error: LastError | None = None


class Readiness(msgspec.Struct, omit_defaults=True):
    """What ``/readyz`` answers: ``ready``, ``stalled`` (503) or ``unavailable`` (503, the
    database does not answer: ``reason`` names the error's type)."""

    status: str
    monitor: MonitorHealth | None = None
    reason: str | None = None


def monitor_health(
    session: Session,
    *,
    stall_seconds: float,
    now: datetime,
    name: str = "default",
    last_error: LastError | None = None,
) -> MonitorHealth:
    """The monitor's lag and whether it is stalled.

    Progress is measured from the later of the checkpoint's last move and the arrival of
    the oldest waiting event: a monitor idle for an hour is not stalled by the burst that
    just arrived, but one whose oldest waiting event is older than the limit, with no
    batch committed meanwhile, is.
    """
    checkpoint, moved, last, first_waiting = repo.progress(session, name)
    lag = max(0, last - checkpoint)
    waiting_since = None
    if lag:
        marks = [_utc(t) for t in (moved, first_waiting) if t is not None]
        waiting_since = (now - max(marks)).total_seconds() if marks else None
    stalled = waiting_since is not None and waiting_since > stall_seconds
    return MonitorHealth(
        checkpoint=checkpoint,
        last_seq=last,
        lag=lag,
        seconds_since_progress=waiting_since,
        stalled=stalled,
        quarantined=repo.count_quarantined(
            session, Source.MONITOR.value, quarantine.SUBJECT, quarantine.REPLAYED
        ),
        last_error=last_error,
    )


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

"""Background passes of the reports (each one transaction; a composition schedules them):

- ``rollup_pass``: the incremental rollup, then the spike pass on what it rolled up (every
  few minutes, e.g. ``RISKOPS_HOUSEKEEPING_SECONDS``);
- ``digest_pass``: the last complete ISO week's digest to the managers, once (run it
  hourly: a week already sent costs one cursor read).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.clock import utcnow
from riskops.kernel.db import unit_of_work
from riskops.reports import digest, rollups, spikes
from riskops.reports import repository as repo


def rollup_pass(sessions: sessionmaker[Session], now: datetime | None = None) -> dict[str, int]:
    """Roll up what changed since the cursor, then notify the spikes of the last days."""
    moment = now or utcnow()
    with unit_of_work(sessions) as session:
        done = rollups.roll_up(session, moment)
        found = spikes.notify(session, moment)
    return {"alerts": done.alerts, "events": done.events, "spikes": len(found)}


def digest_pass(sessions: sessionmaker[Session], now: datetime | None = None) -> str | None:
    """Send the last complete week's digest unless it was sent; the week sent, or None."""
    moment = now or utcnow()
    today = moment.date()
    monday = today - timedelta(days=today.weekday() + 7)
    name = f"digest:{digest.week_name(monday)}"
    with unit_of_work(sessions) as session:
        if repo.marker(session, name):
            return None
        digest.send(session, monday, moment)
        repo.mark(session, name, moment)
    return digest.week_name(monday)

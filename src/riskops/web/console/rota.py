"""The shift calendar: who is on duty, for which queues, over the coming week."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from riskops.cases import service as cases
from riskops.cases import settings
from riskops.cases.models import Shift
from riskops.http.deps import DbSession
from riskops.kernel.clock import utcnow
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
DAYS = 7


@router.get("/rota")
def rota_page(request: Request, db: DbSession, user: PageUser) -> Response:
    """Today and the next six days, a row a shift, with who is on duty now highlighted."""
    now = utcnow()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    shifts = settings.list_shifts(db, user.principal, start, start + timedelta(days=DAYS))
    names = cases.user_names(db, user.principal, {s.user_id for s in shifts})
    by_day: dict[str, list[Shift]] = defaultdict(list)
    for shift in shifts:
        by_day[shift.starts_at.strftime("%A %d %B")].append(shift)
    uncovered = _uncovered_hours(shifts, start, now)
    context = {
        "days": list(by_day.items()),
        "names": names,
        "queue_names": settings.queue_names(db, user.principal),
        "now": now,
        "on_now": [s for s in shifts if s.starts_at <= now < s.ends_at],
        "uncovered": uncovered,
        "nav": "rota",
    }
    return render(request, "rota.html", context)


def _uncovered_hours(shifts: list[Shift], start: datetime, now: datetime) -> list[datetime]:
    """The hours from now to the end of the week with nobody on shift (the gaps to fill)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=DAYS)
    gaps = []
    while hour < end:
        if not any(s.starts_at <= hour < s.ends_at for s in shifts):
            gaps.append(hour)
        hour += timedelta(hours=1)
    return gaps

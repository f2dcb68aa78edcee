"""The anomaly panel of the case page (a fragment loaded by htmx): the account's latest
anomalies as the monitor recorded them (ADR 0039).

The monitor names an anomaly on a money event's decision when its score reaches
``learn.anomaly.THRESHOLD``: a hit of rule ``ANOMALY`` (action allow: it raises no case
alert of its own), stored with the decision's alerts in ``monitor_alerts``. The panel reads
them through ``monitor.service.alerts`` (case:view, audited) and lays the newest out as a
table of the deviating features: what happened, the account's usual value, the peers'.
A stored reason of another shape is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from riskops.http.deps import DbSession
from riskops.http.params import Page
from riskops.learn.anomaly import RULE_ID, THRESHOLD, parse_reason, split_deviation
from riskops.monitor import service as monitor
from riskops.monitor.models import Alert
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 5
AccountIdPath = Annotated[str, Path(min_length=1, max_length=128, description="an account id")]


@dataclass(frozen=True)
class Deviation:
    what: str
    own: str | None
    peers: str | None


@dataclass(frozen=True)
class Shown:
    """One recorded anomaly as the panel shows it."""

    id: int
    recorded_at: datetime | None
    event_id: str
    score: float | None
    deviations: list[Deviation]


def shown(alert: Alert) -> Shown:
    """An ``ANOMALY`` alert laid out for the panel; any stored reason gives something."""
    score, parts = parse_reason(alert.reason)
    return Shown(
        id=alert.id,
        recorded_at=alert.created_at if isinstance(alert.created_at, datetime) else None,
        event_id=str(alert.event_id or ""),
        score=score,
        deviations=[Deviation(*split_deviation(part)) for part in parts],
    )


@router.get("/accounts/{account_id:path}/anomaly")
def account_anomaly(
    request: Request, account_id: AccountIdPath, db: DbSession, user: PageUser, page: Page = 1
) -> Response:
    """The account's recorded anomalies, newest first, five a page (case:view). The id may
    hold a slash (event ids allow one): the route takes the whole path up to /anomaly."""
    rows = monitor.alerts(
        db,
        user.principal,
        account_id=account_id,
        rule_id=RULE_ID,
        limit=PAGE + 1,
        offset=(page - 1) * PAGE,
    )
    context = {
        "account_id": account_id,
        "found": [shown(a) for a in rows[:PAGE]],
        "page": page,
        "has_more": len(rows) > PAGE,
        "threshold": THRESHOLD,
    }
    return render(request, "anomaly_panel.html", context)

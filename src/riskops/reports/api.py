"""HTTP API of the trend reports: ``GET /v1/reports/{chart}``, the numbers of one chart of
/reports (JSON) for the exchange's own dashboards, read from the daily rollups."""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import Response

from riskops.auth.http import CurrentPrincipal
from riskops.http.bodies import json_response
from riskops.http.deps import DbSession
from riskops.http.openapi import URL_TEXT, rules, schema_of
from riskops.kernel.clock import utcnow
from riskops.reports import trends
from riskops.reports.schemas import Chart

router = APIRouter(prefix="/v1", tags=["reports"])


class ChartName(enum.StrEnum):
    ALERTS = "alerts"
    RULE_RATES = "rule-rates"
    HOLDS = "holds"
    BACKLOG = "backlog"
    THROUGHPUT = "throughput"
    QA = "qa"


Text = Annotated[
    str | None, Query(max_length=trends.MAX_TEXT, pattern=URL_TEXT, description="exact value")
]


@router.get(
    "/reports/{chart}",
    summary="One trend chart's numbers (alerts, rule-rates, holds, backlog, throughput, qa)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The chart: its labels (days, rules or analysts) and series.",
                "content": {"application/json": {"schema": schema_of(Chart)}},
            }
        },
        **rules(
            ("since", "not after until"),
            ("since", f"the period is at most {trends.MAX_DAYS} days"),
        ),
    },
)
def report_chart(
    chart: Annotated[ChartName, Path(description="which chart")],
    db: DbSession,
    who: CurrentPrincipal,
    since: Annotated[date | None, Query(description="first day (UTC), default 30 days ago")] = None,
    until: Annotated[date | None, Query(description="last day (UTC), default today")] = None,
    queue: Text = None,
    rule: Text = None,
    typology: Text = None,
) -> Response:
    """Needs ``report:view``. The chart's labels and series within the period (inclusive
    UTC days) and filters; a chart whose numbers have no such breakdown ignores a filter
    and says so in ``note``. Read from the daily rollups (``riskops reports rebuild``)."""
    params = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "queue": queue,
        "rule": rule,
        "typology": typology,
    }
    filters = trends.parse_filters(params, utcnow().date())
    return json_response(trends.chart(db, who, str(chart.value), filters))


def include(app: FastAPI) -> None:
    """Mount the reports routes on the app."""
    app.include_router(router)

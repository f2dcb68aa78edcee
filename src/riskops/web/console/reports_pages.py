"""Trends for management: /reports, its charts (uPlot, each with a table beside it) and
each chart's CSV export (/reports/<chart>.csv with the same filters). Needs
``report:view``; reads the daily rollups only (``riskops.reports``, ADR 0035)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import Response

from riskops.http.deps import DbSession
from riskops.kernel.clock import utcnow
from riskops.kernel.errors import NotFound, ValidationFailed
from riskops.reports import spikes, trends
from riskops.reports.repository import Filters
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FILTERS = ("since", "until", "queue", "rule", "typology")


def _params(request: Request) -> dict[str, str | None]:
    return {name: request.query_params.get(name) for name in FILTERS}


@router.get("/reports")
def reports_page(request: Request, db: DbSession, user: PageUser) -> Response:
    """Every trend chart within the filters (GET parameters, so a view is a bookmark)."""
    params = _params(request)
    today = utcnow().date()
    try:
        filters = trends.parse_filters(params, today)
    except ValidationFailed as exc:
        problems = exc.details if isinstance(exc.details, list) else []
        context = _context(db, user, trends.parse_filters({}, today), params)
        context["problems"] = problems
        context["charts"] = []
        return render(request, "reports.html", context, status_code=422)
    context = _context(db, user, filters, params)
    context["charts"] = [
        {"chart": c, "data": msgspec.to_builtins(c), "empty": _empty(c)}
        for c in trends.all_charts(db, user.principal, filters)
    ]
    context["clusters"] = trends.emerging_clusters(db, user.principal, filters)
    context["spikes"] = spikes.recent(db, user.principal, filters)
    return render(request, "reports.html", context)


@router.get("/reports/{chart}.csv")
def chart_csv(chart: str, request: Request, db: DbSession, user: PageUser) -> Response:
    """One chart's table as CSV, within the same filters as the page."""
    if chart not in trends.CHARTS:
        raise NotFound(f"no chart {chart!r}", details=[{"field": "chart", "reason": "unknown"}])
    filters = trends.parse_filters(_params(request), utcnow().date())
    found = trends.chart(db, user.principal, chart, filters)
    name = f"riskops-{chart}-{filters.since.isoformat()}-{filters.until.isoformat()}.csv"
    return Response(
        trends.to_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _empty(chart: Any) -> bool:
    return not chart.labels or all(not v for s in chart.series for v in s.values if v is not None)


def _context(db: Any, user: Any, filters: Filters, params: dict[str, str | None]) -> dict[str, Any]:
    query = {k: v for k, v in params.items() if v}
    return {
        "nav": "reports",
        "filters": filters,
        "params": {k: (v or "") for k, v in params.items()},
        "query": query,
        "options": trends.options(db, user.principal, filters),
        "has_data": trends.has_data(db, user.principal),
        "problems": [],
        "clusters": [],
        "spikes": [],
    }

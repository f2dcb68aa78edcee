"""/reports (console), its CSV exports and GET /v1/reports/<chart>: permissions, filters,
numbers equal to a direct count, the empty state, typed errors for bad filters."""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from reports_fakes import T0, CaseSpec, History, HoldSpec, base, write
from sqlalchemy.engine import Engine

from riskops.cases.models import CaseOutcome
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import HoldStatus
from riskops.reports import api as reports_api
from riskops.reports import rollups
from riskops.web.app import create_app
from riskops.web.console import reports_pages
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")

PERIOD = {"since": "2026-03-02", "until": "2026-03-15"}
HISTORY = History(
    alerts=[
        (T0 + timedelta(days=d, hours=h), rule, typ, False)
        for d, h, rule, typ in [
            (0, 1, "R-1", "mule"),
            (0, 2, "R-1", "mule"),
            (1, 3, "R-2", "structuring"),
            (2, 4, "R-1", "mule"),
            (9, 5, "R-2", "mule"),
        ]
    ]
    + [(T0 + timedelta(hours=7), "R-3", "mule", True)],  # shadow: never counted
    events=[T0 + timedelta(hours=i) for i in range(40)],
    cases=[
        CaseSpec(
            "aml",
            "mule",
            T0,
            24,
            T0 + timedelta(days=1),
            CaseOutcome.RESTRICTED,
            "ana",
            ("R-1",),
            "c0",
        ),
        CaseSpec(
            "aml",
            "mule",
            T0,
            24,
            T0 + timedelta(days=3),
            CaseOutcome.DISMISSED,
            "bo",
            ("R-1", "R-2"),
            "c1",
        ),
        CaseSpec("ato", "structuring", T0 + timedelta(days=1), 1, None, tag="c2"),
    ],
    holds=[HoldSpec(T0, Decimal("1000.50"), HoldStatus.REJECTED, T0 + timedelta(hours=2), "h0")],
)


def _app(engine: Engine, data_dir: Any) -> FastAPI:
    app = create_app(Container(Settings(data_dir=data_dir), engine), start_background=False)
    paths = {getattr(r, "path", None) for r in app.routes}
    if "/v1/reports/{chart}" not in paths:  # until web/app.py wires it
        reports_api.include(app)
    if "/reports" not in paths:
        app.include_router(reports_pages.router)
    return app


@pytest.fixture
def app(engine: Engine, tmp_path: Any) -> Iterator[FastAPI]:
    with unit_of_work(session_factory(engine)) as session:
        base(session)
        make_user(session, "max", "manager")
        make_user(session, "ann", "analyst")
        write(session, HISTORY)
    yield _app(engine, tmp_path)


def _rebuild(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        rollups.rebuild(session, T0 + timedelta(days=14))


def test_the_page_says_how_to_fill_it_before_any_rollup(app: FastAPI) -> None:
    client = client_for(app, "max")
    page = client.get("/reports", params=PERIOD)
    assert page.status_code == 200
    assert "No trend data yet" in page.text and "riskops reports rebuild" in page.text


def test_the_page_draws_every_chart_with_a_table_and_a_csv_link(
    app: FastAPI, engine: Engine
) -> None:
    _rebuild(engine)
    client = client_for(app, "max")
    page = client.get("/reports", params={**PERIOD, "rule": "R-1"})
    assert page.status_code == 200, page.text
    for chart in ("alerts", "rule-rates", "holds", "backlog", "throughput"):
        assert f'id="chart-{chart}"' in page.text
        assert f"/reports/{chart}.csv?" in page.text
    assert 'data-chart="alerts"' in page.text and "data-series=" in page.text
    assert "No trend data yet" not in page.text
    assert "1,000.50 USD" in page.text  # the loss prevented


def test_csv_export_holds_the_filtered_numbers(app: FastAPI, engine: Engine) -> None:
    _rebuild(engine)
    client = client_for(app, "max")
    answer = client.get("/reports/alerts.csv", params={**PERIOD, "rule": "R-1"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["day", "R-1"]
    by_day = {row[0]: int(row[1]) for row in rows[1:]}
    assert len(by_day) == 14
    assert by_day["2026-03-02"] == 2 and by_day["2026-03-04"] == 1 and sum(by_day.values()) == 3
    everything = client.get("/reports/alerts.csv", params=PERIOD)
    header = next(csv.reader(io.StringIO(everything.text)))
    assert sorted(header[1:]) == ["R-1", "R-2"]  # the shadow rule R-3 counts nowhere


def test_the_api_answers_each_chart_as_json(app: FastAPI, engine: Engine) -> None:
    _rebuild(engine)
    client = client_for(app, "max")
    rates = client.get("/v1/reports/rule-rates", params=PERIOD)
    assert rates.status_code == 200, rates.text
    body = rates.json()
    assert body["labels"] == ["R-1", "R-2"]
    hit, tp = body["series"]
    events = 40 + 6  # and each alert's own event
    assert hit["values"] == [pytest.approx(100 * 3 / events), pytest.approx(100 * 2 / events)]
    assert tp["values"] == [50.0, 0.0]  # one restricted, one dismissed; R-2: dismissed
    backlog = client.get("/v1/reports/backlog", params={**PERIOD, "queue": "ato"}).json()
    past_sla = backlog["series"][-1]["values"]
    assert past_sla[0] == 0 and past_sla[1] == 1  # opened day 1 with a 1 h SLA, still open


def test_who_may_not_see_reports_is_refused(app: FastAPI, engine: Engine) -> None:
    client = client_for(app, "ann")
    assert client.get("/v1/reports/alerts").status_code == 403
    assert client.get("/reports/alerts.csv").status_code == 403
    assert client.get("/reports").status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2026-03-10", "until": "2026-03-01"}, "since"),
        ({"since": "2024-01-01", "until": "2026-03-01"}, "since"),
        ({"queue": "q" * 65}, "queue"),
    ],
    ids=["not-a-date", "reversed", "too-long", "long-text"],
)
def test_bad_filters_are_named_never_a_500(
    app: FastAPI, params: dict[str, str], field: str
) -> None:
    client = client_for(app, "max")
    page = client.get("/reports", params=params)
    assert page.status_code == 422
    assert f"<strong>{field}</strong>" in page.text
    answer = client.get("/v1/reports/alerts", params=params)
    assert answer.status_code == 422
    assert field in answer.text
    assert client.get("/v1/reports/nope").status_code in (404, 422)

"""The demo's trend history: a month of days with cases opened, closed and held, the
rollups built, every chart of the page drawn with data."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal
from riskops.kernel.db import session_factory, unit_of_work
from riskops.reports import seed, trends
from support import make_user

NOW = datetime(2026, 4, 1, 9, tzinfo=UTC)


def test_the_seed_leaves_a_month_of_trends(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ana", "analyst")
        make_user(session, "bo", "senior_analyst")
        done = seed.seed(session, NOW, random.Random(3))
        assert done.cases > 30 and done.holds > 30
        f = trends.parse_filters({}, NOW.date())
        reader = Principal.system("tests")
        charts = {c.id: c for c in trends.all_charts(session, reader, f)}
    backlog = charts["backlog"]
    assert len(backlog.labels) == 30
    days_with_backlog = sum(
        1 for i in range(30) if sum(s.values[i] or 0 for s in backlog.series[:-1]) > 0
    )
    assert days_with_backlog >= 25
    closed_per_day = [sum(s.values[i] or 0 for s in charts["throughput"].series) for i in range(30)]
    assert sum(1 for n in closed_per_day if n) >= 25
    assert {s.name for s in charts["throughput"].series} >= {"ana", "bo"}
    rates = charts["rule-rates"]
    assert rates.labels and any(v for v in rates.series[1].values)
    assert any(v for v in charts["holds"].series[1].values)  # loss prevented

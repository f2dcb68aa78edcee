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


def test_only_alerts_that_open_cases_make_the_history_and_the_detection_score(
    engine: Engine,
) -> None:
    """A shadow hit and a signal (action allow: the anomaly's, shown on cases) open no
    case: the backdated case work holds neither, and detection scoring counts neither."""
    from riskops.monitor.models import Alert, DecisionOutcome
    from riskops.reports import detection
    from riskops.reports import repository as repo

    hits = [
        ("MU-004", "mule", DecisionOutcome.REVIEW, False, "e1"),
        ("CF-003", "card_fraud", DecisionOutcome.REVIEW, True, "e2"),
        ("ANOMALY", "anomaly", DecisionOutcome.ALLOW, False, "e3"),
    ]
    with unit_of_work(session_factory(engine)) as session:
        for i, (rule, typology, action, shadow, event_id) in enumerate(hits):
            session.add(
                Alert(
                    rule_id=rule, rule_version=1, typology=typology, event_id=event_id,
                    row=0, account_id=f"acc-{i}", seq=i + 1, action=action, score=50,
                    reason="", shadow=shadow, created_at=NOW,
                )
            )  # fmt: skip
        session.flush()
        assert repo.seed_rules(session) == [("MU-004", "mule")]
        refs = repo.alert_refs(session)
    assert {(r.rule_id, r.shadow, r.opens_case) for r in refs} == {
        ("MU-004", False, True),
        ("CF-003", True, False),
        ("ANOMALY", False, False),
    }
    labels = {e: detection.EventLabel("mule", "s1") for e in ("e1", "e2", "e3")}
    report = detection.score_detection(refs, labels, [])
    assert (report.alerts, report.true_alerts) == (1, 1)

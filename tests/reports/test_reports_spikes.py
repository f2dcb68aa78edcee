"""Spike detection: a real spike is found; weekday seasonality is not a spike; too short a
history is not judged; each spike is notified once, to each manager by email and to the
report.spike webhook, with a link to /reports filtered to it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound import webhooks
from riskops.outbound.models import Channel, OutboundMessage
from riskops.reports import spikes
from riskops.reports.models import ReportDaily, ReportSpike
from support import make_user

START = date(2026, 1, 5)  # a Monday
DAYS = 7 * 8


def _weekly(rng: random.Random, weekday_level: list[int]) -> list[int]:
    """Counts with a weekly pattern and Poisson-like noise."""
    return [
        max(0, round(rng.gauss(weekday_level[d % 7], weekday_level[d % 7] ** 0.5)))
        for d in range(DAYS)
    ]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), peak=st.integers(30, 200))
def test_weekday_seasonality_is_not_a_spike(seed: int, peak: int) -> None:
    """Mondays far above the other days, every week: no Monday is a spike."""
    rng = random.Random(seed)
    series = _weekly(rng, [peak, 10, 10, 10, 10, 3, 3])
    for day in range(7 * 6, DAYS, 7):  # the Mondays with six weeks of history
        # (Other weekdays are plain noise around their level: how often noise alone passes
        # the threshold is not what this test is about; a Poisson 10 can draw 18 against a
        # history whose median drew 6.)
        history = [series[day - 7 * w] for w in range(1, 7)]
        judged = spikes.judge(series[day], history)
        assert judged is not None and not judged.spike, (day, series[day], history)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), level=st.integers(0, 50), factor=st.integers(3, 10))
def test_a_real_spike_is_found(seed: int, level: int, factor: int) -> None:
    rng = random.Random(seed)
    series = _weekly(rng, [level] * 7)
    day = DAYS - 3
    # well beyond the day's noise (a Poisson count's spread is about its square root)
    series[day] = max(level * factor, round(level + 10 * (level + 1) ** 0.5 + 10))
    judged = spikes.judge(series[day], [series[day - 7 * w] for w in range(1, 7)])
    assert judged is not None and judged.spike


def test_too_short_a_history_is_not_judged() -> None:
    assert spikes.judge(500, [1, 1, 1]) is None
    flat = spikes.judge(12, [10, 10, 10, 10, 10, 10])
    assert flat is not None and not flat.spike  # a constant history does not make +2 infinite


def _rollups(session: Session, counts: dict[date, int], rule: str) -> None:
    for day, n in counts.items():
        session.add(
            ReportDaily(
                day=day,
                metric="alerts",
                rule=rule,
                queue="",
                typology="mule",
                analyst="",
                bucket="",
                n=n,
                usd_cents=0,
            )
        )


def test_a_spike_is_notified_once_to_each_manager_and_the_webhook(engine: Engine) -> None:
    spike_day = START + timedelta(days=7 * 7 + 2)  # a Wednesday, week 8
    now = datetime.combine(spike_day + timedelta(days=1), datetime.min.time(), UTC)
    rng = random.Random(7)
    calm = {START + timedelta(days=d): 20 + rng.randint(-3, 3) for d in range(DAYS)}
    busy = dict(calm)
    busy[spike_day] = 90
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        for name, role in (("max", "manager"), ("mia", "manager"), ("ann", "analyst")):
            user = make_user(session, name, role)
            user.email = f"{name}@example.test"
        _rollups(session, calm, "R-calm")
        _rollups(session, busy, "R-busy")
        webhooks.create_subscription(
            session,
            Principal.system("tests"),
            url="https://hooks.example.test/x",
            topics=["report.spike"],
        )
    webhooks.invalidate()
    with unit_of_work(factory) as session:
        found = spikes.notify(session, now)
    assert [(f.day, f.dimension, f.key) for f in found] == [
        (spike_day, "rule", "R-busy"),
        (spike_day, "typology", "mule"),
    ]
    with unit_of_work(factory) as session:
        assert spikes.notify(session, now) == []  # never the same spike twice
        assert spikes.notify(session, now + timedelta(hours=5)) == []
        sent = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
        emails = [m for m in sent if m.channel is Channel.EMAIL]
        hooks = [m for m in sent if m.channel is Channel.WEBHOOK]
        assert sorted({m.recipient for m in emails}) == ["max@example.test", "mia@example.test"]
        assert len(emails) == 4 and len(hooks) == 2
        rule_mail = next(m for m in emails if "R-busy" in (m.subject or ""))
        assert "90 against a usual 20" in rule_mail.body or "90 against a usual" in rule_mail.body
        assert f"/reports?since={(spike_day - timedelta(days=27)).isoformat()}" in rule_mail.body
        assert "rule=R-busy" in rule_mail.body
        assert len(session.scalars(select(ReportSpike)).all()) == 2

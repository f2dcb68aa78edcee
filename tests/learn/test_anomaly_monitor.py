"""The anomaly end to end (ADR 0039): a month of ordinary customers and one sudden fan-out
go through the real monitor with a model in shadow (the learning step runs); the fan-out's
anomaly is stored as an ``ANOMALY`` alert that acts on nothing, and the case page's panel
reads it back as a table of deviating features."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal
from riskops.events import schemas as s
from riskops.events.flat import to_rows
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.learn import model as m
from riskops.learn import registry
from riskops.learn.anomaly import RULE_ID
from riskops.learn.features import FEATURE_NAMES
from riskops.learn.stream import FeatureState
from riskops.monitor import service as monitor
from riskops.monitor.evaluators import LearnSource, RulesEvaluatorFactory
from riskops.monitor.models import Alert, DecisionOutcome
from riskops.monitor.runtime import MonitorRuntime
from riskops.rules.lists import ListStore
from riskops.web.console.anomaly_pages import shown

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SYSTEM = Principal.system("test")
FANNER = "acc-7"


def month(seed: int = 5) -> list[s.Event]:
    """30 customers, 30 days: most days a deposit and a payment to their usual friend;
    then acc-7 pays 14 accounts it never paid, in an afternoon."""
    rng = random.Random(seed)
    events: list[s.Event] = []
    for day in range(30):
        for i in range(30):
            at = T0 + timedelta(days=day, hours=rng.randrange(8), minutes=i)
            usd = Decimal(rng.randrange(50, 200))
            events.append(
                s.Deposit(
                    event_id=f"d-{day}-{i}",
                    account_id=f"acc-{i}",
                    occurred_at=at,
                    asset="USDT",
                    amount=usd,
                    usd_value=usd,
                    rail=s.Rail.CRYPTO,
                    source_address=f"addr-{i}",
                )
            )
            if rng.random() < 0.8:
                usd = Decimal(rng.randrange(30, 150))
                events.append(
                    s.TransferInternal(
                        event_id=f"t-{day}-{i}",
                        account_id=f"acc-{i}",
                        occurred_at=at + timedelta(hours=1),
                        asset="USDT",
                        amount=usd,
                        usd_value=usd,
                        counterparty_id=f"acc-{(i + 1) % 30}",
                    )
                )
    for k in range(14):
        events.append(
            s.TransferInternal(
                event_id=f"fan-{k}",
                account_id=FANNER,
                occurred_at=T0 + timedelta(days=30, hours=12, minutes=10 * k),
                asset="USDT",
                amount=Decimal(90),
                usd_value=Decimal(90),
                counterparty_id=f"new-{k}",
            )
        )
    events.sort(key=lambda e: e.occurred_at)
    return events


def shadow_model(engine: Engine, events: list[s.Event]) -> None:
    """Any model in shadow: the monitor runs the learning step (features, anomaly) only
    while one runs; a shadow's hits never act."""
    state = FeatureState()
    xs = np.array(
        [state.update(to_rows(e, n)[0]) for n, e in enumerate(events, 1) if isinstance(e, s.Money)]
    )
    ys = (xs[:, FEATURE_NAMES.index("usd")] > 140).astype(float)
    half = len(xs) // 2
    params = {"min_data_in_leaf": 5, "bagging_freq": 0, "bagging_fraction": 1.0}
    fit = m.train(
        xs[:half], ys[:half], xs[half:], ys[half:], FEATURE_NAMES, rounds=5, params=params
    )
    with unit_of_work(session_factory(engine)) as session:
        trained = registry.Trained(fit.artifact.encode(), 0.99, T0, T0, {"test": {}})
        version = registry.register(session, SYSTEM, "aml", trained).version
        registry.set_status(session, SYSTEM, "aml", version, "shadow", "test")


def test_a_fan_out_through_the_monitor_is_an_anomaly_on_the_case_page(
    engine: Engine, tmp_path: Path
) -> None:
    events = month()
    shadow_model(engine, events)
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in events], source="file")
    factory = RulesEvaluatorFactory([], ListStore({}), LearnSource(engine))
    MonitorRuntime(engine, factory, snapshot_path=tmp_path / "snap", batch_size=200).catch_up()

    with session_factory(engine)() as session:
        stored = session.scalars(select(Alert).where(Alert.rule_id == RULE_ID)).all()
    flagged = {a.account_id for a in stored}
    assert flagged == {FANNER}  # a quiet month names nobody else
    assert {a.event_id for a in stored} <= {f"fan-{k}" for k in range(14)}
    assert all(a.action is DecisionOutcome.ALLOW and not a.shadow for a in stored)

    with unit_of_work(session_factory(engine)) as session:
        newest = monitor.alerts(session, SYSTEM, account_id=FANNER, rule_id=RULE_ID, limit=1)
        panel = shown(newest[0])
    assert panel.event_id == "fan-13" and panel.score is not None and panel.score >= 0.75
    day = next(d for d in panel.deviations if d.what.endswith("parties in the last 24 hours"))
    assert day.what.startswith("the account sent money to 1")  # 14 new and the usual friend
    assert day.own in ("1", "2") and day.peers == "1"

"""1, 2 and 4 partitions make the decisions and alerts of the single-process monitor, event
for event, on the same simulated history (the full default pack, cross-key features and
transfers between partitions included)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pytest
from cluster_support import (
    baseline_results,
    history,
    publish_all,
    results,
    run_until_idle,
    unique,
    worker,
)
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal
from riskops.cluster.publisher import publish_rows
from riskops.events import schemas as s
from riskops.events.flat import to_rows
from riskops.events.nats import partition_of
from riskops.kernel.db import session_factory, unit_of_work
from riskops.learn import model as m
from riskops.learn import registry, stacking
from riskops.learn.features import FEATURE_NAMES, STACKED_NAMES
from riskops.learn.stream import FeatureState, counterparty_account, is_money
from support import drop_stream, migrated_engine

pytestmark = pytest.mark.postgres


def test_partitions_decide_as_the_single_process(nats_url: str, tmp_path: Path) -> None:
    events = history()
    crossing = [
        e
        for e in events
        if isinstance(e, s.TransferInternal)
        and partition_of(e.account_id, 2) != partition_of(e.counterparty_id, 2)
    ]
    assert crossing, "the history should move money between partitions"
    stream, subject = unique("parity")
    try:
        assert publish_all(nats_url, stream, subject, events) == len(events)
        expected = baseline_results(tmp_path, events)
        decisions, alerts = expected
        assert len(alerts) > 30 and any(a[0] for a in alerts)  # the pack hits on it
        for count in (1, 2, 4):
            with migrated_engine("postgres", tmp_path / f"n{count}") as engine:
                workers = [
                    worker(engine, nats_url, stream, subject, i, count, batch_size=300)
                    for i in range(count)
                ]
                stats = run_until_idle(workers)
                assert sum(s.decided for s in stats) >= len(events)
                got = results(engine)
                assert got[0] == decisions, f"{count} partitions: decisions differ"
                assert got[1] == alerts, f"{count} partitions: alerts differ"
        # The same history packed 40 events a message (riskops publish --per-message 40).
        packed, packed_subject = unique("packed")
        try:
            rows = [(i, e) for i, e in enumerate(events)]
            report = asyncio.run(
                publish_rows(nats_url, packed, packed_subject, rows, partitions=2, per_message=40)
            )
            assert report.published == len(events)
            with migrated_engine("postgres", tmp_path / "packed") as engine:
                workers = [worker(engine, nats_url, packed, packed_subject, i, 2) for i in (0, 1)]
                run_until_idle(workers)
                assert results(engine) == expected, "events packed in messages decide alike"
        finally:
            drop_stream(nats_url, packed)
    finally:
        drop_stream(nats_url, stream)


def _history_model(events: tuple[s.Event, ...], stages: int) -> bytes:
    """A small model of the history's money rows (large amounts score high), so that a
    live model scores, alerts and gates the shape rules during the parity run; with two
    stages, the second also reads each side's earlier first-stage scores (ADR 0051)."""
    state = FeatureState()
    xs, ys, who = [], [], []
    for seq, event in enumerate(events, 1):
        row = to_rows(event, seq)[0]
        if is_money(row):
            xs.append(state.update(row))
            ys.append(1.0 if row["usd_cents"] >= 200_000 else 0.0)
            who.append((state.clock, row["account_id"], counterparty_account(row)))
    x, y = np.array(xs), np.array(ys)
    assert 10 < y.sum() < len(y) - 10, "both classes should be in the history"
    cut = len(x) * 2 // 3
    params = {"min_data_in_leaf": 5, "bagging_freq": 0, "bagging_fraction": 1.0}
    fit = m.train(x[:cut], y[:cut], x[cut:], y[cut:], FEATURE_NAMES, rounds=20, params=params)
    if stages == 1:
        return fit.artifact.encode()
    ts, own, other = zip(*who, strict=True)
    parties = stacking.Parties(np.array(ts), pa.array(own), pa.array(other, pa.string()))
    wide, first = stacking.widen(fit.artifact, x, parties)  # that booster is the first stage
    names = list(FEATURE_NAMES + STACKED_NAMES)
    second = m.train(wide[:cut], y[:cut], wide[cut:], y[cut:], names, rounds=20, params=params)
    return msgspec.structs.replace(second.artifact, **first).encode()


def _put_live(engine: Engine, artifact: bytes) -> None:
    system = Principal.system("test")
    with unit_of_work(session_factory(engine)) as session:
        now = datetime(2026, 3, 1, tzinfo=UTC)
        trained = registry.Trained(artifact, 0.5, now, now, {"test": {}})
        version = registry.register(session, system, "aml", trained).version
        registry.set_status(session, system, "aml", version, "live", "test")


@pytest.mark.parametrize("stages", [1, 2])
def test_partitions_with_a_live_model_decide_as_the_single_process(
    nats_url: str, tmp_path: Path, stages: int
) -> None:
    """With a model live, every partition moves the learning state with every money row
    (features of both sides, anomaly baselines and peer groups, a two-stage model's
    first-stage scores), so the scores, the model's and the anomaly's alerts and the gated
    shape rules match the single process."""
    events = history()
    artifact = _history_model(events, stages)
    assert m.Model.load(artifact).stages == stages
    stream, subject = unique("model")
    try:
        assert publish_all(nats_url, stream, subject, events) == len(events)
        expected = baseline_results(tmp_path, events, lambda e: _put_live(e, artifact))
        model_alerts = [a for a in expected[1] if a[0].startswith("MODEL:")]
        assert model_alerts, "the model should alert on the history"
        with migrated_engine("postgres", tmp_path / "two") as engine:
            _put_live(engine, artifact)
            workers = [worker(engine, nats_url, stream, subject, i, 2) for i in (0, 1)]
            run_until_idle(workers)
            got = results(engine)
        assert got[0] == expected[0], "2 partitions with a model: decisions differ"
        assert got[1] == expected[1], "2 partitions with a model: alerts differ"
    finally:
        drop_stream(nats_url, stream)

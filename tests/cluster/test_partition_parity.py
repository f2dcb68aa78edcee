"""1, 2 and 4 partitions make the decisions and alerts of the single-process monitor, event
for event, on the same simulated history (the full default pack, cross-key features and
transfers between partitions included)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cluster_support import (
    history,
    publish_all,
    results,
    run_until_idle,
    single_process,
    unique,
    worker,
)

from riskops.cluster.publisher import publish_rows
from riskops.events import schemas as s
from riskops.events.nats import partition_of
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
        with migrated_engine("postgres", tmp_path / "one") as baseline:
            single_process(baseline, tmp_path, events)
            expected = results(baseline)
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

"""A partition decides a batch while the one before it is written (ADR 0049): a write that
fails drops what was decided after it, and the worker, recovered, decides it again and
writes every result once (the single process's decisions and alerts, event for event)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cluster_support import (
    baseline_results,
    history,
    publish_all,
    results,
    run_until_idle,
    unique,
)
from cluster_support import worker as make_worker

from support import drop_stream, migrated_engine

pytestmark = pytest.mark.postgres


def test_a_failed_write_is_decided_again_and_written_once(nats_url: str, tmp_path: Path) -> None:
    events = history()
    stream, subject = unique("pipeline")
    try:
        assert publish_all(nats_url, stream, subject, events) == len(events)
        expected = baseline_results(tmp_path, events)
        with migrated_engine("postgres", tmp_path / "pipe") as engine:
            owner = make_worker(engine, nats_url, stream, subject, 0, 1, batch_size=20)
            write = owner.write
            calls: list[int] = []

            def failing_once(work: Any) -> None:
                calls.append(len(work.messages))
                if len(calls) == 2:  # while the next batch is being decided
                    raise RuntimeError("the database went away")
                write(work)

            owner.write = failing_once  # type: ignore[method-assign]
            [stats] = run_until_idle([owner], idle=1.5)
            assert len(calls) > 2, "the write never failed"
            assert stats.decided >= len(events)
            got = results(engine)
        assert got[0] == expected[0], "decisions differ after a failed write"
        assert got[1] == expected[1], "alerts differ after a failed write"
    finally:
        drop_stream(nats_url, stream)

"""Shared pieces of the benchmarks: the result row, latency percentiles, the databases."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
POSTGRES_URL = os.environ.get(
    "RISKOPS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class Result:
    """One measured number, with its target and whether it was met (None: no target)."""

    bench: str
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None

    @property
    def shown(self) -> str:
        if self.unit == "%":
            return f"{self.value:.1f}%"
        if abs(self.value) >= 100:
            return f"{self.value:,.0f} {self.unit}".strip()
        return f"{self.value:,.2f} {self.unit}".strip()


def at_least(bench: str, name: str, value: float, unit: str, floor: float) -> Result:
    return Result(bench, name, value, unit, f">= {floor:,g} {unit}".strip(), value >= floor)


def at_most(bench: str, name: str, value: float, unit: str, ceiling: float) -> Result:
    return Result(bench, name, value, unit, f"<= {ceiling:,g} {unit}".strip(), value <= ceiling)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def schema_engine(schema: str, **kwargs: Any) -> Any:
    """An engine on the benchmark PostgreSQL whose tables live in ``schema`` (created)."""
    from sqlalchemy import text

    from riskops.kernel.db import make_engine

    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    admin.dispose()
    options = {"options": f"-csearch_path={schema}"}
    return make_engine(POSTGRES_URL, connect_args=options, **kwargs)


def drop_schema(schema: str) -> None:
    from sqlalchemy import text

    from riskops.kernel.db import make_engine

    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@contextmanager
def monitor_on_sqlite(events: Sequence[Any], factory: Any) -> Iterator[tuple[Any, Any, Any]]:
    """(engine, sessions, runtime): a fresh SQLite database in a temporary folder, migrated,
    holding ``events`` (ingested as from a file), and a monitor on it with ``factory``'s
    rules, 2,000 events a batch, that never snapshots (by count or by time: the writes are
    measured). The engine is disposed on the way out."""
    from riskops.events.service import ingest
    from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
    from riskops.monitor.runtime import MonitorRuntime

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/riskops.db")
        try:
            migrate(engine)
            sessions = session_factory(engine)
            with unit_of_work(sessions) as session:
                ingest(session, [(None, e) for e in events], source="file")
            runtime = MonitorRuntime(
                engine,
                factory,
                snapshot_path=Path(tmp) / "monitor.snapshot",
                snapshot_every=10**9,
                snapshot_seconds=0,
                batch_size=2_000,
            )
            yield engine, sessions, runtime
        finally:
            engine.dispose()

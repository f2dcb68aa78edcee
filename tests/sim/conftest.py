"""One small simulation, written once and shared by the sim tests (they only read it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from riskops.sim.generator import SimConfig
from riskops.sim.writer import SimResult, simulate

SMALL = SimConfig(accounts=1_500, days=21, seed=11)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(SMALL, tmp_path_factory.mktemp("sim"), "both")


@pytest.fixture(scope="session")
def small_events(small_run: SimResult) -> list[dict[str, Any]]:
    path: Path = small_run.paths["events_ndjson"]
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]

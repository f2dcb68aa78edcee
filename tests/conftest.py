"""Shared fixtures: databases (SQLite and the real PostgreSQL), NATS, and service skips.

On a machine without PostgreSQL or NATS their tests skip with a reason; with
``RISKOPS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service is a failure.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from riskops.kernel.config import get_settings
from riskops.kernel.logging import configure_logging
from support import migrated_engine, missing, require_service

NATS_URL = os.environ.get("RISKOPS_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture(scope="session", autouse=True)
def _logging_as_configured_by_riskops() -> None:
    """Logs as the ``riskops`` command configures them, on stderr: a command a test invokes
    in-process (``CliRunner``) has only its own output on stdout, even when daemon threads
    left by an earlier command log during it."""
    configure_logging()
    get_settings.cache_clear()  # each test reads the settings of its own environment


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated, empty database: a SQLite file, then the real PostgreSQL (own schema)."""
    with migrated_engine(request.param, tmp_path_factory.mktemp("db")) as eng:
        yield eng


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    with migrated_engine("sqlite", tmp_path) as eng:
        yield eng


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings from the environment (what the CLI reads): a SQLite database under
    ``tmp_path / "data"``, the settings cache cleared before and after."""
    monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RISKOPS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def nats_url() -> str:
    require_service("NATS", NATS_URL, 4222)
    return NATS_URL


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole run (it takes seconds to start), shared by the
    Spark backtest and feature tests. Without pyspark or Java it skips (fails in CI)."""
    from riskops.rules import spark as engine

    reason = engine.unavailable()
    if reason is not None:
        missing(reason)
    with engine.session() as session:
        yield session


@pytest.fixture
def groups() -> Iterator[list[int]]:
    """Process groups a test starts (append their pids), killed whatever happens."""
    from processes import reap_group

    started: list[int] = []
    yield started
    for pid in started:
        reap_group(pid)


@pytest.fixture(autouse=True)
def _no_event_loop_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's sync API (the console's browser, one per worker for the session) leaves
    its event loop marked running in the worker's main thread; any later test of that worker
    calling ``asyncio.run`` would fail with "cannot be called from a running event loop",
    whichever test xdist happens to send there. Tests that do not drive the browser run with
    the mark cleared, and it is put back after them."""
    if "browser" in request.fixturenames:
        yield
        return
    loop = asyncio.events._get_running_loop()
    if loop is None:
        yield
        return
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(loop)

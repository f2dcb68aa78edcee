"""Shared fixtures: databases (SQLite and the real PostgreSQL), NATS, and service skips.

On a machine without PostgreSQL or NATS their tests skip with a reason; with
``RISKOPS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from riskops.kernel.db import make_engine, migrate
from support import missing

POSTGRES_URL = os.environ.get(
    "RISKOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("RISKOPS_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip (or fail, in CI) when a real service is not reachable."""
    if not _reachable(url, default_port):
        missing(f"{name} is not reachable at {url}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated, empty database: a SQLite file, then the real PostgreSQL (own schema)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "riskops.db"
        eng = make_engine(f"sqlite:///{path}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    eng = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: os.PathLike[str]) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/riskops.db")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def nats_url() -> str:
    require_service("NATS", NATS_URL, 4222)
    return NATS_URL

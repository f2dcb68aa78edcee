"""Fixtures of the auth tests: the real app around the test database, no background work."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.service import TOKENS
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from riskops.web.app import create_app
from riskops.web.deps import Container

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(autouse=True)
def _empty_token_cache() -> Iterator[None]:
    TOKENS.clear()
    yield
    TOKENS.clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, login_max_failures=5, login_lockout_minutes=15)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(Container(settings, engine), start_background=False)) as client:
        yield client

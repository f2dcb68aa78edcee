"""Fixtures of the events tests: wire events, sessions, and an app around a real database."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from events_wire import WireEvent, wire_deposit
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from support import bearer, token_for

with warnings.catch_warnings():
    # starlette asks for `httpx2`, which is not a project dependency (yet); httpx works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def wire() -> Callable[..., WireEvent]:
    """``wire(i, **overrides)``: a valid deposit in the wire format, event id ``e-{i}``."""
    return wire_deposit


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path, max_event_bytes=4096, max_body_bytes=256 * 1024)


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    """The real app (``create_app``) around the test database, background work off."""
    from riskops.web.app import create_app
    from riskops.web.deps import Container

    app = create_app(Container(settings, engine), start_background=False)
    with TestClient(app) as test_client:
        # an exchange service's API token: ingest events, read what was refused
        test_client.headers.update(bearer(token_for(engine, ["event:ingest", "dead_letter:view"])))
        yield test_client

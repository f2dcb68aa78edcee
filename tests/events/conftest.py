"""Fixtures of the events tests: wire events, sessions, and an app around a real database."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from support import bearer, token_for

with warnings.catch_warnings():
    # starlette asks for `httpx2`, which is not a project dependency (yet); httpx works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

WireEvent = dict[str, Any]


def _wire(i: int, **overrides: Any) -> WireEvent:
    """A valid ``deposit`` in the wire format; event id ``e-{i}``."""
    event: WireEvent = {
        "type": "deposit",
        "event_id": f"e-{i}",
        "account_id": f"acct-{i % 7}",
        "occurred_at": f"2025-03-01T12:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "asset": "BTC",
        "amount": "0.25",
        "usd_value": "15000.00",
        "rail": "crypto",
        "tx_hash": f"0x{i:08x}",
    }
    event.update(overrides)
    return event


@pytest.fixture
def wire() -> Callable[..., WireEvent]:
    """``wire(i, **overrides)``: a valid deposit in the wire format, event id ``e-{i}``."""
    return _wire


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

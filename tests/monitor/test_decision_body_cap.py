"""POST /v1/decisions reads at most ``max_body_bytes`` of a body, like POST /v1/events
(ADR 0012's decision lane): a larger one is refused with 413 and the shared error shape
before it is read whole; an event under that cap but over ``max_event_bytes`` is still an
invalid event, dead-lettered with a 422."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from monitor_fakes import FakeFactory, withdrawal
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.events.models import EventRecord
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from riskops.monitor.runtime import MonitorRuntime
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EVENT_CAP = 1024
BODY_CAP = 4096


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, max_event_bytes=EVENT_CAP, max_body_bytes=BODY_CAP)
    runtime = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "monitor.snapshot")
    with TestClient(create_app(Container(settings, engine, runtime))) as client:
        scopes = ["decision:request", "dead_letter:view"]
        client.headers.update(bearer(token_for(engine, scopes, name="exchange")))
        yield client


def _padded(size: int) -> bytes:
    """A withdrawal's JSON, padded with spaces to exactly ``size`` bytes."""
    raw = msgspec.json.encode(withdrawal("w-big", "acc", "10.00"))
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def _logged(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(EventRecord)) or 0


def _dead_letters(client: TestClient) -> int:
    return len(client.get("/v1/dead-letters").json()["items"])


@pytest.mark.parametrize("over", [1, 100, 3 * BODY_CAP])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_body_over_the_cap_is_413_and_nothing_is_kept(
    client: TestClient, engine: Engine, over: int, declared: bool
) -> None:
    body = _padded(BODY_CAP + over)
    if declared:
        answer = client.post("/v1/decisions", content=body)
    else:  # no Content-Length: the lane must count what it reads, not trust a header
        answer = client.post("/v1/decisions", content=iter([body[:1000], body[1000:]]))
    assert answer.status_code == 413, answer.text
    shown = answer.json()
    assert shown["error"] == "payload_too_large"
    assert str(BODY_CAP) in shown["message"]
    assert _logged(engine) == 0
    assert _dead_letters(client) == 0


def test_a_body_at_the_cap_but_over_the_event_limit_is_dead_lettered(
    client: TestClient, engine: Engine
) -> None:
    answer = client.post("/v1/decisions", content=_padded(BODY_CAP))
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"][0]["field"] == "$"
    assert _dead_letters(client) == 1
    assert _logged(engine) == 0  # kept as a dead letter, not in the event log


def test_an_event_under_both_limits_is_decided(client: TestClient) -> None:
    answer = client.post("/v1/decisions", content=_padded(EVENT_CAP))
    assert answer.status_code == 200, answer.text
    assert answer.json()["event_id"] == "w-big"

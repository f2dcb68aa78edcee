"""``/readyz`` of a routed API process (``serve --bus nats``) reports the partitions: 503
until every partition has a living owner, 200 then; never the local monitor's checkpoint,
which no process moves in cluster mode."""

from __future__ import annotations

import uuid
import warnings
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from riskops.cluster import repository as repo
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _client(engine: Engine, tmp_path: Path, nats_url: str, stream: str) -> TestClient:
    settings = Settings(data_dir=tmp_path, nats_url=nats_url, nats_stream=stream)
    app = create_app(Container(settings, engine, None), start_background=False)
    app.state.cluster = True  # what riskops.web.cli.routed_app sets
    return TestClient(app)


def test_readyz_reports_partitions_and_their_owners(
    engine: Engine, tmp_path: Path, nats_url: str
) -> None:
    stream = f"READYZ_{uuid.uuid4().hex[:8]}"
    client = _client(engine, tmp_path, nats_url, stream)

    none_yet = client.get("/readyz")
    assert none_yet.status_code == 503
    assert "no partition worker" in none_yet.json()["reason"]

    sessions = session_factory(engine)
    now = utcnow()
    with unit_of_work(sessions) as session:
        repo.ensure_partitions(session, stream, 2, now)
        assert repo.acquire(session, stream, 0, "worker-a", now + timedelta(seconds=30), now)
    half = client.get("/readyz")
    assert half.status_code == 503
    assert "[1]" in half.json()["reason"]

    with unit_of_work(sessions) as session:
        assert repo.acquire(session, stream, 1, "worker-b", now + timedelta(seconds=30), now)
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    body = ready.json()
    assert body["ready"] is True
    assert sorted(p["owner"] for p in body["partitions"]) == ["worker-a", "worker-b"]

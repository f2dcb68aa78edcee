"""The monitor's HTTP API: synchronous decisions, holds, restrictions, listings."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi import FastAPI
from monitor_fakes import FakeFactory, withdrawal
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.events.models import EventRecord
from riskops.events.schemas import Event
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from riskops.monitor.api import DecisionLane
from riskops.monitor.models import Decision
from riskops.monitor.runtime import MonitorRuntime
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, migrated_engine, token_for

SCOPES = [
    "decision:request",
    "case:view",
    "hold:resolve",
    "account:restrict",
    "account:view",
    "dead_letter:view",
]

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path)
    runtime = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "monitor.snapshot")
    with TestClient(create_app(Container(settings, engine, runtime))) as client:
        client.headers.update(bearer(token_for(engine, SCOPES, name="backoffice")))
        yield client


def post(client: TestClient, event: Event) -> dict:
    response = client.post("/v1/decisions", content=msgspec.json.encode(event))
    assert response.status_code == 200, response.text
    return response.json()


def test_hold_then_release_with_a_note(client: TestClient) -> None:
    body = post(client, withdrawal("w1", "acc", "25000.00"))
    assert body["decision"] == "hold"
    assert body["score"] == 40
    assert body["reasons"] == [
        {"rule_id": "BIG-1", "action": "hold", "score": 40, "reason": "big withdrawal"}
    ]
    hold_id = body["hold_id"]
    held = client.get("/v1/holds", params={"status": "held"}).json()
    assert [h["id"] for h in held] == [hold_id]
    assert held[0]["amount"] == "0.123456789012345678"
    missing = client.post(f"/v1/holds/{hold_id}/release", json={"actor": "ana", "note": ""})
    assert missing.status_code == 422
    assert missing.json()["details"][0]["field"] == "$.note"
    ok = client.post(f"/v1/holds/{hold_id}/release", json={"actor": "ana", "note": "called"})
    assert ok.status_code == 200
    assert ok.json()["status"] == "released"
    assert ok.json()["resolved_by"] == "token:backoffice"  # the caller, not the body's "actor"
    again = client.post(f"/v1/holds/{hold_id}/reject", json={"actor": "bob", "note": "no"})
    assert again.status_code == 409
    assert client.get("/v1/holds").json() == []
    assert client.post("/v1/holds/999/reject", json={"actor": "b", "note": "x"}).status_code == 404


def test_decisions_need_a_token_with_the_scope(client: TestClient, engine: Engine) -> None:
    event = msgspec.json.encode(withdrawal("w1", "acc", "10.00"))
    anonymous = client.post("/v1/decisions", content=event, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    reader = bearer(token_for(engine, ["case:view"]))
    assert client.post("/v1/decisions", content=event, headers=reader).status_code == 403
    assert client.get("/v1/holds", headers=reader).status_code == 200


def test_repeated_event_returns_the_stored_decision(client: TestClient, engine: Engine) -> None:
    first = post(client, withdrawal("w1", "acc", "25000.00"))
    again = post(client, withdrawal("w1", "acc", "25000.00"))
    assert again["duplicate"] is True
    assert {k: again[k] for k in ("event_id", "decision", "score", "reasons", "hold_id")} == {
        k: first[k] for k in ("event_id", "decision", "score", "reasons", "hold_id")
    }
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 1
        assert session.scalar(select(func.count()).select_from(Decision)) == 1
    changed = client.post(
        "/v1/decisions", content=msgspec.json.encode(withdrawal("w1", "acc", "1.00"))
    )
    assert changed.status_code == 409


def test_bad_event_is_refused_with_field_reasons(client: TestClient) -> None:
    raw = {
        "type": "withdrawal.requested",
        "event_id": "x",
        "account_id": "a",
        "occurred_at": "2026-01-01T00:00:00Z",
        "asset": "btc",
        "amount": "-1",
        "usd_value": "10",
    }
    response = client.post("/v1/decisions", json=raw)
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert {"$.asset", "$.amount"} <= fields
    assert client.post("/v1/decisions", content=b"{nope").status_code == 422
    # Both refusals are kept, with their raw payloads and reasons.
    kept = client.get("/v1/dead-letters", params={"source": "api"}).json()
    assert kept["total"] == 2
    assert {item["event_id"] for item in kept["items"]} == {"x", None}
    assert any("$.amount" in item["reason"] for item in kept["items"])


def test_alerts_and_decisions_listings(client: TestClient) -> None:
    post(client, withdrawal("w1", "a", "25000.00"))
    post(client, withdrawal("w2", "b", "10.00", address="bad"))
    alerts = client.get("/v1/alerts", params={"account_id": "b"}).json()
    assert [(a["rule_id"], a["event_id"]) for a in alerts] == [("BAD-1", "w2")]
    assert len(client.get("/v1/alerts", params={"rule_id": "BIG-1"}).json()) == 1
    decisions = client.get("/v1/decisions", params={"limit": 1}).json()
    assert [(d["event_id"], d["outcome"]) for d in decisions] == [("w2", "block")]
    assert client.get("/v1/decisions", params={"limit": 0}).status_code == 422


def _answers(app_of: Callable[[Container], FastAPI], directory: Path) -> list[tuple[int, Any]]:
    """Status and body of a fixed series of ``POST /v1/decisions`` on a fresh database."""
    with migrated_engine("sqlite", directory) as engine:
        runtime = MonitorRuntime(engine, FakeFactory(), snapshot_path=directory / "snap")
        full = bearer(token_for(engine, ["decision:request"]))
        reader = bearer(token_for(engine, ["case:view"]))
        big = msgspec.json.encode(withdrawal("w1", "acc", "25000.00"))
        requests: list[tuple[bytes, dict[str, str]]] = [
            (big, full),
            (big, full),  # a replay
            (msgspec.json.encode(withdrawal("w1", "acc", "1.00")), full),  # same id, changed
            (msgspec.json.encode(withdrawal("w2", "acc", "10.00")), full),
            (b"{nope", full),
            (big, {"Authorization": ""}),
            (big, {"Authorization": "Basic abc"}),
            (big, bearer("rk_unknown_secret")),
            (big, reader),
        ]
        with TestClient(app_of(Container(Settings(data_dir=directory), engine, runtime))) as c:
            return [
                (r.status_code, r.json())
                for body, headers in requests
                if (r := c.post("/v1/decisions", content=body, headers=headers))
            ]


def _without_lane(container: Container) -> FastAPI:
    app = create_app(container)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not DecisionLane]
    return app


def test_the_decision_lane_answers_as_the_route_does(tmp_path: Path) -> None:
    lane = _answers(create_app, tmp_path / "lane")
    route = _answers(_without_lane, tmp_path / "route")
    assert [code for code, _ in lane] == [200, 200, 409, 200, 422, 401, 401, 401, 403]
    assert lane == route

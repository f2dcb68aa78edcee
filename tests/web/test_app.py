"""The app: health probes, OpenAPI, errors rendered in one shape, and `riskops serve`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from processes import free_port
from riskops.kernel.config import Settings
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, token_for


def _client(engine: Engine, tmp_path: Path) -> TestClient:
    settings = Settings(data_dir=tmp_path, database_url="")
    return TestClient(create_app(Container(settings, engine), start_background=False))


def test_health_and_openapi(engine: Engine, tmp_path: Path) -> None:
    client = _client(engine, tmp_path)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/events", "/v1/decisions", "/v1/dead-letters", "/v1/holds"} <= set(paths)


def test_openapi_documents_the_event_union_and_the_decision(engine: Engine, tmp_path: Path) -> None:
    spec = _client(engine, tmp_path).get("/openapi.json").json()
    decide = spec["paths"]["/v1/decisions"]["post"]
    body = decide["requestBody"]["content"]["application/json"]["schema"]
    mapping = body["discriminator"]["mapping"]
    assert body["discriminator"]["propertyName"] == "type"
    assert set(mapping) >= {"withdrawal.requested", "deposit", "login", "transfer.internal"}
    schemas = spec["components"]["schemas"]
    assert {"address", "usd_value", "amount"} <= set(schemas["WithdrawalRequested"]["properties"])
    answer = decide["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/DecisionResponse"}
    assert "decision" in schemas["DecisionResponse"]["properties"]
    # /v1/events answers any body 202, refusing item by item: its body promises no more, and
    # names the event schema each item is checked against.
    events = spec["paths"]["/v1/events"]["post"]
    assert events["requestBody"]["content"]["application/json"]["schema"] == {}
    assert events["x-riskops-item-schema"]["discriminator"]["propertyName"] == "type"
    ruled = {rule["field"] for rule in decide["x-riskops-rules"]}
    assert {"$.occurred_at", "$.amount", "$.usd_value", "$.account_id", "$.ip"} <= ruled
    error = {"$ref": "#/components/schemas/Error"}
    for code in ("400", "401", "403", "413", "422"):
        assert decide["responses"][code]["content"]["application/json"]["schema"] == error


def test_not_found_is_a_json_error_without_a_trace(engine: Engine, tmp_path: Path) -> None:
    client = _client(engine, tmp_path)
    client.headers.update(bearer(token_for(engine, ["hold:resolve"])))
    response = client.post("/v1/holds/999999/release", json={"note": "n"})
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found" and "Traceback" not in response.text


SCOPE = "decision:request"


def test_serve_command_answers_decisions(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RISKOPS_DATA_DIR": str(tmp_path), "RISKOPS_DATABASE_URL": ""}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskops.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        event = {
            "type": "withdrawal.requested",
            "event_id": "serve-1",
            "account_id": "acc-1",
            "occurred_at": "2026-11-24T12:00:00Z",
            "asset": "BTC",
            "amount": "0.5",
            "usd_value": "30000.00",
            "address": "bc1qserve",
        }
        assert httpx.post(f"{base}/v1/decisions", json=event).status_code == 401
        created = subprocess.run(
            [sys.executable, "-m", "riskops.cli", "tokens", "create", "svc", "--scope", SCOPE],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.split()[-1]
        response = httpx.post(f"{base}/v1/decisions", json=event, headers=bearer(token))
        assert response.status_code == 200, response.text
        assert response.json()["decision"] in {"allow", "review", "hold", "block"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()

"""`riskops serve` with RISKOPS_SERVE_FOLLOWERS=false beside a `riskops worker` (ADR 0046).

Real processes on the test's database: the API decides and writes the decision with its
alert (and the alert's outbox message) before it answers; it runs no case task. The worker
beside it delivers the alert into a case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from processes import environment, free_port, start, stop_group, wait_for
from support import bearer, token_for


def _count(engine: Engine, sql: str, **params: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql), params).scalar_one())


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``riskops serve`` on the test's database with its followers off, ready; its base
    URL and environment."""
    port = free_port()
    env = environment(engine, tmp_path) | {
        "RISKOPS_SERVE_FOLLOWERS": "false",
        "RISKOPS_INTAKE_POLL_SECONDS": "0.2",
    }
    proc = start(env, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, "the server to be ready", seconds=180)
        yield base, env
    finally:
        stop_group(proc)


def test_the_worker_beside_the_api_makes_the_case(
    api: tuple[str, dict[str, str]], engine: Engine
) -> None:
    base, env = api
    decide = bearer(token_for(engine, ["decision:request"], name="exchange"))
    # the third account withdrawing to one address is reviewed (the default pack's MA-002)
    for i in (1, 2, 3):
        withdrawal = {
            "type": "withdrawal.requested",
            "event_id": f"sbw-{i}",
            "account_id": f"sbw-acc-{i}",
            "occurred_at": f"2026-01-01T00:00:2{i}Z",
            "asset": "USDT",
            "amount": "700",
            "usd_value": "700.00",
            "address": "T000000000000000000000000000000020",
            "chain": "tron",
            "ip": f"10.0.20.{i}",
        }
        answer = httpx.post(f"{base}/v1/decisions", json=withdrawal, headers=decide, timeout=60)
        assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "review", answer.text
    # written before the answer: the alert and its message for the case intake
    alerts = "SELECT count(*) FROM monitor_alerts WHERE event_id = 'sbw-3' AND rule_id = 'MA-002'"
    assert _count(engine, alerts) == 1
    cases = "SELECT count(*) FROM case_alerts WHERE account_id = :account"
    assert _count(engine, cases, account="sbw-acc-3") == 0  # no case task in the API process
    worker = start(env, "worker")
    try:
        wait_for(
            lambda: _count(engine, cases, account="sbw-acc-3") >= 1,
            "the worker beside the API to deliver the alert into a case",
            seconds=120,
        )
        assert worker.poll() is None
    finally:
        stop_group(worker)

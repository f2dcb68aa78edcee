"""POST /v1/decisions of `riskops serve --bus nats`: routed to the owner over the real NATS."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from routing_owner import (
    FakeOwner,
    LoopThread,
    accounts_in,
    created,
    event,
    owner_db,
    reference_runtime,
    scratch_stream,
)
from sqlalchemy import func, select

from riskops.events.models import DeadLetter
from riskops.events.schemas import Event
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory
from riskops.web.app import create_app
from riskops.web.cli import routed_app
from riskops.web.deps import Container
from support import bearer, migrated_engine, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.nats
PARTITIONS = 2


@contextmanager
def cluster(
    nats_url: str, tmp_path: Path, live: list[int], **routing: Any
) -> Iterator[tuple[TestClient, dict[int, FakeOwner]]]:
    """The routed API (a TestClient with a decision token) and owners of ``live``."""
    with ExitStack() as stack:
        _, subject = stack.enter_context(scratch_stream(nats_url))
        loop = LoopThread()
        stack.callback(loop.close)
        running: dict[int, FakeOwner] = {}
        for p in live:
            engine = stack.enter_context(owner_db(tmp_path / f"owner-{p}"))
            owner = running[p] = FakeOwner(engine, tmp_path / f"owner-{p}", p, PARTITIONS)
            loop.run(owner.start(nats_url, subject))
            stack.callback(loop.run, owner.stop())
        settings = Settings(
            data_dir=tmp_path / "api",
            nats_url=nats_url,
            nats_subject=subject,
            serve_followers=False,
        )
        app = routed_app(settings, PARTITIONS, **routing)
        container: Container = app.state.container
        stack.callback(container.engine.dispose)
        client = stack.enter_context(TestClient(app))
        client.headers.update(bearer(token_for(container.engine, ["decision:request"])))
        yield client, running
        assert container.started_runtime is None  # no monitor in the API process


def post(client: TestClient, e: Event) -> dict[str, Any]:
    response = client.post("/v1/decisions", content=msgspec.json.encode(e))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The answer without its hold id's value (each database numbers its own holds)."""
    return {**body, "hold_id": body["hold_id"] is not None}


def test_routed_answers_equal_the_in_process_ones(nats_url: str, tmp_path: Path) -> None:
    """One history through the routed API (two owners) and through the in-process API:
    the same answers, stateful rules included, and the same shape of answer."""
    a = accounts_in(0, PARTITIONS, 2)
    b = accounts_in(1, PARTITIONS, 2)
    history = [
        event("deposit", "d1", b[0], "5000.00", 1),
        *[event("withdrawal.requested", f"s{i}", a[0], f"95{i}0.00", 2 + i) for i in range(4)],
        event("withdrawal.requested", "p1", b[0], "4500.00", 9),
        created("c1", a[1], "DE", 9),
        event("withdrawal.requested", "g1", a[1], "12000.00", 10, ip_country="IR"),
        event("withdrawal.requested", "n1", b[1], "80.00", 11),
    ]
    with migrated_engine("sqlite", tmp_path / "ref") as engine:
        runtime = reference_runtime(tmp_path / "ref", engine)
        app = create_app(Container(Settings(data_dir=tmp_path / "ref"), engine, runtime))
        with TestClient(app) as local:
            local.headers.update(bearer(token_for(engine, ["decision:request"])))
            expected = [comparable(post(local, e)) for e in history]
    with cluster(nats_url, tmp_path, [0, 1]) as (client, running):
        answers = [comparable(post(client, e)) for e in history]
        again = comparable(post(client, history[3]))  # asked again: the owner's stored one
    assert answers == expected
    assert {r["rule_id"] for body in answers for r in body["reasons"]} >= {
        "ST-002",
        "PT-001",
        "GEO-001",
    }
    assert again == {**expected[3], "duplicate": True}
    mine = [e.event_id for e in history if e.account_id in a]
    assert sorted(running[0].seen) == sorted([*mine, "s2"])


def test_only_valid_authenticated_events_leave_the_api(nats_url: str, tmp_path: Path) -> None:
    """Refused before anything is sent: no token (401), a body past the cap (413), an
    invalid event (422 with a reason per field, and dead-lettered here)."""
    bad = {
        "type": "withdrawal.requested",
        "event_id": "bad-1",
        "account_id": "acc-0",
        "occurred_at": "2026-01-01T00:00:00Z",
        "asset": "usdt",
        "amount": "-1",
        "usd_value": "10",
    }
    with cluster(nats_url, tmp_path, [0, 1]) as (client, running):
        invalid = client.post("/v1/decisions", json=bad)
        assert invalid.status_code == 422
        fields = {d["field"] for d in invalid.json()["details"]}
        assert {"$.asset", "$.amount"} <= fields
        assert client.post("/v1/decisions", content=b"{nope").status_code == 422
        valid = msgspec.json.encode(event("withdrawal.requested", "ok-1", "acc-0", "50.00"))
        anonymous = client.post("/v1/decisions", content=valid, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        big = client.post("/v1/decisions", content=b" " * (33 * 1024 * 1024))
        assert big.status_code == 413
        engine = client.app.state.container.engine  # type: ignore[attr-defined]
        with session_factory(engine)() as session:
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 2
        assert all(owner.seen == [] for owner in running.values())


def test_a_dead_partition_answers_the_failsafe_over_http(nats_url: str, tmp_path: Path) -> None:
    """Only partition 0 has an owner: a withdrawal of partition 1 is answered 200 with the
    fail-safe (here review), in the decision's shape, saying why; partition 0 decides."""
    [dead] = accounts_in(1, PARTITIONS, 1)
    [alive] = accounts_in(0, PARTITIONS, 1)
    with cluster(nats_url, tmp_path, [0], timeout_s=0.3, failsafe="review") as (client, _):
        body = post(client, event("withdrawal.requested", "w-dead", dead, "50.00"))
        fine = post(client, event("withdrawal.requested", "w-alive", alive, "50.00"))
    assert set(body) == {"event_id", "decision", "score", "reasons", "hold_id", "duplicate"}
    assert (body["event_id"], body["decision"], body["hold_id"]) == ("w-dead", "review", None)
    [reason] = body["reasons"]
    assert reason["rule_id"] == "FAILSAFE"
    assert reason["reason"].startswith(
        "no owner of partition 1 is listening: sent to review by the fail-safe; queued"
    )
    assert (fine["decision"], fine["reasons"]) == ("allow", [])


def test_routing_settings_out_of_bounds_are_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ValueError, match="RISKOPS_DECISION_FAILSAFE"):
        routed_app(settings, 2, failsafe="approve")
    with pytest.raises(ValueError, match="RISKOPS_DECISION_TIMEOUT_MS"):
        routed_app(settings, 2, timeout_s=120)


def test_serve_refuses_an_unreachable_nats_with_a_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`riskops serve --bus nats` says why it cannot start, and exits; nothing else runs."""
    import socket

    from typer.testing import CliRunner

    from riskops.web import cli as web_cli
    from support import cli_app

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("RISKOPS_NATS_URL", f"nats://127.0.0.1:{port}")
    with cli_app(web_cli.register, tmp_path, monkeypatch) as app:
        down = CliRunner().invoke(app, ["serve", "--bus", "nats"])
        assert down.exit_code == 1
        assert f"error: NATS at nats://127.0.0.1:{port}: no NATS server answers" in down.output
        assert "Traceback" not in down.output
        none = CliRunner().invoke(app, ["serve", "--bus", "nats", "--partitions", "0"])
        assert none.exit_code == 2
        assert "--partitions" in none.output
    assert not (tmp_path / "riskops.db").exists()  # refused before the database is opened


def test_one_routed_api_process_runs_the_followers_when_told(tmp_path: Path) -> None:
    """RISKOPS_SERVE_FOLLOWERS on one API process of a deployment: its followers' child
    (links, screening, accounts, case intake, delivery) runs beside the routing."""
    from riskops.web.cli import _followers
    from riskops.web.followers import FollowersProcess

    on = Settings(data_dir=tmp_path, serve_followers=True, nats_stream="RISK_X")
    child = _followers(on)
    assert isinstance(child, FollowersProcess)
    # Beside partition workers: the accounts follower reads the partitions' position.
    assert child.command()[-1] == "--cluster"
    assert child.environment()["RISKOPS_NATS_STREAM"] == "RISK_X"
    assert "--cluster" not in FollowersProcess(on).command()
    assert _followers(Settings(data_dir=tmp_path, serve_followers=False)) is None
    idle = Settings(data_dir=tmp_path, intake_poll_seconds=0, housekeeping_seconds=0)
    assert _followers(idle) is None

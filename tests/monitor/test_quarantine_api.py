"""Quarantine over HTTP and the command line: decisions go on while a poison event waits,
quarantined events are listed by source, and a dead letter is replayed once, after a fix."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from monitor_fakes import withdrawal
from poison import POISONS, PoisonEvaluator, PoisonFactory, append
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from riskops.cli import app
from riskops.events.models import EventRecord
from riskops.events.repository import insert_dead_letters
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.monitor.runtime import MonitorRuntime
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SCOPES = ["decision:request", "dead_letter:view", "dead_letter:replay"]


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    runtime = MonitorRuntime(
        engine,
        PoisonFactory(),
        snapshot_path=tmp_path / "monitor.snapshot",
        gap_grace=timedelta(0),
    )
    box = Container(Settings(data_dir=tmp_path), engine, runtime)
    with TestClient(create_app(box, start_background=False)) as client:
        client.headers.update(bearer(token_for(engine, SCOPES, name="ops")))
        yield client


def decide(client: TestClient, event: object) -> tuple[int, dict]:
    response = client.post("/v1/decisions", content=msgspec.json.encode(event))
    return response.status_code, response.json()


def test_decisions_go_on_and_the_quarantined_event_is_replayed_after_a_fix(
    client: TestClient, engine: Engine
) -> None:
    (seq,) = append(engine, [("poison-h", POISONS["evaluator_raises"]("poison-h"))])
    status, body = decide(client, withdrawal("b-1", "acc-b", "20000.00"))
    assert (status, body["decision"]) == (200, "hold")  # before: 422 for everyone

    listed = client.get("/v1/dead-letters", params={"source": "monitor"}).json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert (item["source"], item["source_row"], item["event_id"]) == ("monitor", seq, "poison-h")
    assert "RuntimeError: evaluator bug" in item["reason"]
    assert client.get("/v1/dead-letters", params={"source": "http"}).json()["total"] == 0

    replay = f"/v1/dead-letters/{item['id']}/replay"
    still = client.post(replay)
    assert still.status_code == 503 and still.json()["error"] == "undecidable"
    PoisonEvaluator.fixed = True
    try:
        done = client.post(replay)
    finally:
        PoisonEvaluator.fixed = False
    assert done.status_code == 200, done.text
    assert done.json() == {
        "dead_letter_id": item["id"],
        "source": "monitor",
        "outcome": "decided",
        "event_id": "poison-h",
        "seq": seq,
        "decision": "allow",
    }
    assert client.post(replay).status_code == 409  # once
    assert client.get(f"/v1/dead-letters/{item['id']}").json()["replayed"] is True
    assert item["replayed"] is False  # as listed before the replay
    assert client.get("/readyz").json()["monitor"]["quarantined"] == 0


def test_an_own_poison_event_is_answered_503_not_approved(client: TestClient) -> None:
    status, body = decide(client, withdrawal("mine", "acc-c", "50.00", address="explode"))
    assert status == 503
    assert body["error"] == "undecidable"
    dead = body["details"]["dead_letter_id"]
    assert client.get(f"/v1/dead-letters/{dead}").json()["event_id"] == "mine"
    again, _ = decide(client, withdrawal("mine", "acc-c", "50.00", address="explode"))
    assert again == 503  # a repeat is never a silent allow
    status, body = decide(client, withdrawal("other", "acc-c", "50.00"))
    assert (status, body["decision"]) == (200, "allow")


def test_replay_needs_its_scope(client: TestClient, engine: Engine) -> None:
    append(engine, [("poison-s", POISONS["not_json"]("poison-s"))])
    decide(client, withdrawal("b-1", "acc-b", "50.00"))
    (item,) = client.get("/v1/dead-letters", params={"source": "monitor"}).json()["items"]
    viewer = bearer(token_for(engine, ["dead_letter:view"], name="viewer"))
    assert client.post(f"/v1/dead-letters/{item['id']}/replay", headers=viewer).status_code == 403
    assert client.post("/v1/dead-letters/999999/replay").status_code == 404


def _refused_input(engine: Engine, raw: bytes, source: str = "http") -> int:
    with unit_of_work(session_factory(engine)) as session:
        insert_dead_letters(
            session,
            [
                {
                    "received_at": utcnow(),
                    "source": source,
                    "source_name": "/v1/events",
                    "source_row": None,
                    "event_id": None,
                    "reason": "refused by an older rule of the edge",
                    "errors": '[{"field": "$", "reason": "refused"}]',
                    "raw": raw,
                }
            ],
        )
    with session_factory(engine)() as session:
        from riskops.events.models import DeadLetter

        return int(session.scalar(select(DeadLetter.id).order_by(DeadLetter.id.desc())) or 0)


def test_refused_input_is_validated_again_and_ingested_if_valid_now(
    client: TestClient, engine: Engine
) -> None:
    valid = _refused_input(engine, msgspec.json.encode(withdrawal("late-ok", "acc-d", "50.00")))
    done = client.post(f"/v1/dead-letters/{valid}/replay")
    assert done.status_code == 200, done.text
    assert done.json()["outcome"] == "ingested" and done.json()["event_id"] == "late-ok"
    with session_factory(engine)() as session:
        assert session.scalar(select(EventRecord.seq).where(EventRecord.event_id == "late-ok"))
    assert client.post(f"/v1/dead-letters/{valid}/replay").status_code == 409

    invalid = _refused_input(engine, b'{"type": "withdrawal.requested", "event_id": "x"}')
    still = client.post(f"/v1/dead-letters/{invalid}/replay")
    assert still.status_code == 422
    assert {d["field"] for d in still.json()["details"]} >= {"$.account_id"}


def test_cli_lists_quarantined_events_and_replays_one(data_dir: Path) -> None:
    engine = open_database(get_settings().sqlalchemy_url)
    append(engine, [("poison-c", POISONS["unknown_type"]("poison-c"))])
    valid = _refused_input(engine, msgspec.json.encode(withdrawal("cli-ok", "acc-e", "50.00")))
    engine.dispose()
    runner = CliRunner()
    assert runner.invoke(app, ["worker", "--once"]).exit_code == 0
    listed = runner.invoke(app, ["dead-letters", "--source", "monitor", "--json"])
    assert listed.exit_code == 0, listed.output
    # stdout alone: `worker --once` ran in this process and left daemon threads (the intel
    # warm-up, the listed-address refresher) whose logs (stderr) may come during this command
    (letter,) = [msgspec.json.decode(line) for line in listed.stdout.splitlines()]
    assert (letter["source"], letter["event_id"], letter["replayed"]) == (
        "monitor",
        "poison-c",
        False,
    )

    failed = runner.invoke(app, ["dead-letters", "replay", str(letter["id"])])
    assert failed.exit_code == 1
    assert "still cannot be decided" in failed.output

    done = runner.invoke(app, ["dead-letters", "replay", str(valid)])
    assert done.exit_code == 0, done.output
    assert msgspec.json.decode(done.stdout)["outcome"] == "ingested"
    table = runner.invoke(app, ["dead-letters"])
    assert "replayed" in table.output and "yes" in table.output

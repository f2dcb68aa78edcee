"""Health tells the truth: /readyz reports the monitor's lag, last error and quarantine and
answers 503 when the monitor is stalled; /metrics exposes the numbers to Prometheus.

Before: /readyz said ready while the monitor failed the same batch for ever."""

from __future__ import annotations

import sys
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.engine import Engine

from riskops.events.repository import insert_events, stored_time
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.runtime import MonitorRuntime
from riskops.web.app import create_app
from riskops.web.deps import Container

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))
from monitor_fakes import withdrawal
from poison import POISONS, PoisonFactory

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def client_of(engine: Engine, tmp_path: Path, **settings: Any) -> tuple[TestClient, MonitorRuntime]:
    runtime = MonitorRuntime(
        engine,
        PoisonFactory(),
        snapshot_path=tmp_path / "monitor.snapshot",
        gap_grace=timedelta(0),
    )
    box = Container(Settings(data_dir=tmp_path, **settings), engine, runtime)
    return TestClient(create_app(box, start_background=False)), runtime


def log(engine: Engine, items: list[tuple[str, str]], *, age: timedelta = timedelta(0)) -> None:
    """Append ``(event_id, payload)`` as received ``age`` ago."""
    received = utcnow() - age
    rows: list[Any] = []
    for event_id, payload in items:
        rows += (event_id, "withdrawal.requested", "acc", stored_time(received), None, payload)
    with unit_of_work(session_factory(engine)) as session:
        insert_events(session, rows, received_at=received, source="file", source_name=None)


def wire(event: Any) -> tuple[str, str]:
    return event.event_id, msgspec.json.encode(event).decode()


def test_ready_reports_the_monitor(engine: Engine, tmp_path: Path) -> None:
    client, runtime = client_of(engine, tmp_path)
    log(engine, [wire(withdrawal(f"w{i}", "acc-secret", "50.00")) for i in range(3)])
    runtime.catch_up()
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["monitor"] == {
        "checkpoint": 3 if engine.dialect.name == "sqlite" else body["monitor"]["last_seq"],
        "last_seq": body["monitor"]["last_seq"],
        "lag": 0,
        "seconds_since_progress": None,
        "stalled": False,
        "quarantined": 0,
        "last_error": None,
    }


def test_stalled_monitor_is_not_ready(engine: Engine, tmp_path: Path) -> None:
    client, runtime = client_of(engine, tmp_path, monitor_stall_seconds=60)
    log(
        engine,
        [wire(withdrawal(f"w{i}", "acc-1", "50.00")) for i in range(4)],
        age=timedelta(hours=1),
    )
    stalled = client.get("/readyz")
    assert stalled.status_code == 503
    assert stalled.json()["status"] == "stalled"
    assert stalled.json()["monitor"]["lag"] == 4
    assert stalled.json()["monitor"]["seconds_since_progress"] > 3_000
    runtime.catch_up()
    assert client.get("/readyz").status_code == 200


def test_a_fresh_backlog_is_lag_not_a_stall(engine: Engine, tmp_path: Path) -> None:
    """Events that just arrived wait less than the limit, however long the monitor idled."""
    client, runtime = client_of(engine, tmp_path, monitor_stall_seconds=60)
    log(engine, [wire(withdrawal("w0", "acc-1", "50.00"))], age=timedelta(hours=2))
    runtime.catch_up()  # the checkpoint moved two hours of idling ago... and now:
    with unit_of_work(session_factory(engine)) as session:
        from riskops.monitor.models import MonitorCheckpoint

        session.execute(update(MonitorCheckpoint).values(updated_at=utcnow() - timedelta(hours=2)))
    log(engine, [wire(withdrawal("w1", "acc-1", "50.00"))])
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["monitor"]["lag"] == 1


def test_the_stall_limit_is_configurable(engine: Engine, tmp_path: Path) -> None:
    client, _ = client_of(engine, tmp_path, monitor_stall_seconds=86_400)
    log(engine, [wire(withdrawal("w0", "acc-1", "50.00"))], age=timedelta(hours=1))
    assert client.get("/readyz").status_code == 200


def test_quarantine_and_last_error_are_reported_without_personal_data(
    engine: Engine, tmp_path: Path
) -> None:
    client, runtime = client_of(engine, tmp_path)
    log(engine, [("poison-x", POISONS["evaluator_raises"]("poison-x"))])
    log(engine, [wire(withdrawal("w1", "acc-secret", "50.00"))])
    runtime.catch_up()
    response = client.get("/readyz")
    assert response.status_code == 200  # it moved on
    monitor = response.json()["monitor"]
    assert monitor["quarantined"] == 1 and monitor["lag"] == 0
    assert monitor["last_error"]["type"] == "RuntimeError"
    assert "acc-" not in response.text and "poison-x" not in response.text


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_expose_events_decisions_lag_quarantine_queues_and_breaches(
    engine: Engine, tmp_path: Path
) -> None:
    from riskops.cases.models import Case
    from riskops.cases.tasks import delivery_pass

    client, runtime = client_of(engine, tmp_path)
    log(engine, [wire(withdrawal(f"w{i}", f"acc-{i}", "20000.00")) for i in range(3)])
    log(engine, [("poison-m", POISONS["not_json"]("poison-m"))])
    runtime.catch_up()
    delivery_pass(runtime.sessions)  # the hold alerts become cases
    log(engine, [wire(withdrawal("late", "acc-9", "50.00"))])  # not decided yet: lag 1
    with unit_of_work(session_factory(engine)) as session:  # one case past its SLA
        first = session.query(Case).order_by(Case.id).first()
        assert first is not None
        session.execute(
            update(Case).where(Case.id == first.id).values(due_at=utcnow() - timedelta(hours=1))
        )
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("riskops_events_total", ())] == 5
    assert samples[("riskops_decisions_total", (("outcome", "hold"),))] == 3
    assert samples[("riskops_decisions_stored", (("outcome", "hold"),))] == 3
    assert samples[("riskops_monitor_lag_events", ())] == 1
    assert samples[("riskops_monitor_quarantined_events", ())] == 1
    assert samples[("riskops_monitor_stalled", ())] == 0
    assert samples[("riskops_dead_letters", (("source", "monitor"),))] == 1
    open_cases = {k: v for k, v in samples.items() if k[0] == "riskops_cases_open"}
    assert sum(open_cases.values()) == 3
    breaches = {k: v for k, v in samples.items() if k[0] == "riskops_cases_sla_breached"}
    assert sum(breaches.values()) == 1
    assert "acc-" not in response.text and "poison" not in response.text


def test_unavailable_when_the_database_does_not_answer(tmp_path: Path) -> None:
    from riskops.kernel.db import make_engine

    gone = make_engine(f"sqlite:///{tmp_path / 'gone' / 'riskops.db'}")
    (tmp_path / "gone").rmdir()  # SQLite cannot open a file in a directory that is not there
    box = Container(Settings(data_dir=tmp_path), gone)
    response = TestClient(create_app(box, start_background=False)).get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "OperationalError"}

"""Queue settings and the shift calendar, over HTTP: managers configure, analysts read."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from case_fakes import T0, at
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Role
from riskops.auth.service import TOKENS
from riskops.cases import alert_intake
from riskops.cases.models import Queue
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    TOKENS.clear()
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ana", Role.ANALYST)
        make_user(session, "max", Role.MANAGER)
        alert_intake.ensure_default_queues(session)
    yield create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    TOKENS.clear()


def login(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    api_login(client, username, sticky=True)
    return client


def test_a_manager_changes_a_queue_sla_and_an_analyst_may_not(app: FastAPI, engine: Engine) -> None:
    analyst, manager = login(app, "ana"), login(app, "max")
    refused = analyst.patch("/v1/queues/aml", json={"sla_minutes": 60})
    assert refused.status_code == 403
    changed = manager.patch("/v1/queues/aml", json={"sla_minutes": 720, "name": "AML review"})
    assert changed.status_code == 200
    assert (changed.json()["sla_minutes"], changed.json()["name"]) == (720, "AML review")
    bad = manager.patch("/v1/queues/aml", json={"sla_minutes": 0, "colour": "red"})
    assert bad.status_code == 422
    assert manager.patch("/v1/queues/nope", json={"sla_minutes": 5}).status_code == 404
    with unit_of_work(session_factory(engine)) as session:
        queue = session.get(Queue, "aml")
        assert queue is not None and queue.sla_minutes == 720
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "queue.update"))
    assert entry.actor == "max" and entry.detail["from"]["sla_minutes"] == 24 * 60


def test_the_new_sla_applies_to_cases_that_arrive_after_the_change(
    app: FastAPI, engine: Engine
) -> None:
    from case_fakes import alert

    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        before = alert_intake.raise_alert(session, alert("b", account="acc-b"), now=T0).case
        due_before = before.due_at
    assert login(app, "max").patch("/v1/queues/aml", json={"sla_minutes": 60}).status_code == 200
    with unit_of_work(sessions) as session:
        after = alert_intake.raise_alert(session, alert("a", account="acc-a"), now=T0).case
        assert (due_before - T0, after.due_at - T0) == (timedelta(hours=24), timedelta(hours=1))


def test_shift_calendar_add_list_remove(app: FastAPI) -> None:
    analyst, manager = login(app, "ana"), login(app, "max")
    ana_id = analyst.get("/v1/auth/me").json()["id"]
    shift = {
        "user_id": ana_id,
        "starts_at": T0.isoformat(),
        "ends_at": at(8 * 60).isoformat(),
        "queue_keys": ["aml"],
    }
    assert analyst.post("/v1/shifts", json=shift).status_code == 403
    created = manager.post("/v1/shifts", json=shift)
    assert created.status_code == 201
    unknown = manager.post("/v1/shifts", json={**shift, "queue_keys": ["nope"]})
    assert unknown.status_code == 422
    window = {"from": (T0 - timedelta(hours=1)).isoformat(), "to": at(24 * 60).isoformat()}
    listed = analyst.get("/v1/shifts", params=window)
    assert listed.status_code == 200
    assert [(s["user_id"], s["queue_keys"]) for s in listed.json()] == [(ana_id, ["aml"])]
    later = {"from": at(9 * 60).isoformat(), "to": at(10 * 60).isoformat()}
    assert analyst.get("/v1/shifts", params=later).json() == []
    too_long = {"from": T0.isoformat(), "to": (T0 + timedelta(days=40)).isoformat()}
    assert analyst.get("/v1/shifts", params=too_long).status_code == 422
    shift_id = created.json()["id"]
    assert analyst.delete(f"/v1/shifts/{shift_id}").status_code == 403
    assert manager.delete(f"/v1/shifts/{shift_id}").status_code == 204
    assert manager.delete(f"/v1/shifts/{shift_id}").status_code == 404
    assert analyst.get("/v1/shifts", params=window).json() == []

"""The case work API over HTTP: authentication, a decision with four-eyes approval."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from case_fakes import alert
from fastapi import FastAPI
from monitor_fakes import FakeEvaluator, records, withdrawal
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Role
from riskops.auth.service import TOKENS
from riskops.cases import alert_intake
from riskops.cases.tasks import drain
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOTE = {
    "summary": "ATO",
    "evidence": "logins",
    "findings": "new device",
    "decision": "freeze",
    "rationale": "funds at risk",
}


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    TOKENS.clear()
    with unit_of_work(session_factory(engine)) as session:
        for name, role in (("ana", Role.ANALYST), ("sen", Role.SENIOR_ANALYST)):
            make_user(session, name, role)
        alert_intake.raise_alert(session, alert("r1", account="a", severity=80))
        alert_intake.raise_alert(session, alert("r2", account="b", severity=20))
    yield create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    TOKENS.clear()


def test_api_needs_a_login(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        assert anonymous.get("/v1/queues").status_code == 401
        assert anonymous.post("/v1/cases/take-next", json={}).status_code == 401


def test_take_decide_and_approve_over_http(app: FastAPI) -> None:
    ana, sen = client_for(app, "ana"), client_for(app, "sen")
    queues = {q["key"]: q for q in ana.get("/v1/queues").json()}
    assert queues["aml"]["open"] == 2

    page = ana.get("/v1/queues/aml/cases").json()
    assert [c["account_id"] for c in page] == ["a", "b"]

    taken = ana.post("/v1/cases/take-next", json={"queue_keys": ["aml"]})
    assert taken.status_code == 200, taken.text
    case_id = taken.json()["id"]
    assert taken.json()["account_id"] == "a"

    incomplete = ana.post(
        f"/v1/cases/{case_id}/decisions",
        json={"action": "restrict", "restriction": "full_freeze", "note": {"summary": "x"}},
    )
    assert incomplete.status_code == 422
    assert {d["field"] for d in incomplete.json()["details"]} == {
        "$.note.evidence",
        "$.note.findings",
        "$.note.decision",
        "$.note.rationale",
    }
    made = ana.post(
        f"/v1/cases/{case_id}/decisions",
        json={"action": "restrict", "restriction": "full_freeze", "note": NOTE},
    )
    assert made.status_code == 201, made.text
    assert made.json()["pending_approval"] is True
    action_id = made.json()["action"]["id"]

    assert ana.post(f"/v1/actions/{action_id}/approve", json={}).status_code == 403
    assert [a["id"] for a in sen.get("/v1/approvals").json()] == [action_id]
    approved = sen.post(f"/v1/actions/{action_id}/approve", json={"comment": "agreed"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["case"]["status"] == "closed"
    assert approved.json()["case"]["outcome"] == "restricted"

    note_id = made.json()["note_id"]
    amended = ana.post(f"/v1/notes/{note_id}/amendments", json={"text": "customer called"})
    assert amended.status_code == 201
    detail = ana.get(f"/v1/cases/{case_id}").json()
    assert detail["notes"][0]["amendments"][0]["text"] == "customer called"
    assert detail["assignee"] == "ana"
    assert [e["kind"] for e in detail["events"]][-3:] == ["approved", "closed", "note_amended"]

    assert ana.post(f"/v1/cases/{case_id}/reopen", json={"reason": "x"}).status_code == 403
    reopened = sen.post(f"/v1/cases/{case_id}/reopen", json={"reason": "appeal"})
    assert reopened.json()["status"] == "in_review"
    assert ana.get("/v1/cases/999999").status_code == 404


def test_assign_over_http(app: FastAPI) -> None:
    ana, sen = client_for(app, "ana"), client_for(app, "sen")
    case_id = ana.get("/v1/queues/aml/cases").json()[1]["id"]
    me = ana.post("/v1/cases/take-next", json={}).json()
    ana_id = me["assignee_id"]
    assert ana.post(f"/v1/cases/{case_id}/assign", json={"user_id": ana_id}).status_code == 200
    assert ana.post(f"/v1/cases/{case_id}/assign", json={"user_id": None}).status_code == 200
    assert sen.post(f"/v1/cases/{case_id}/assign", json={"user_id": ana_id}).status_code == 200
    assert ana.post("/v1/cases/take-next", json={}).status_code == 204
    assert [c["id"] for c in ana.get("/v1/cases", params={"mine": True}).json()] == sorted(
        [me["id"], case_id], key=lambda i: i != me["id"]
    )


def _held(engine: Engine, event_id: str, usd: str) -> int:
    """The monitor holds a withdrawal of account "h"; its case alert is delivered."""
    event = withdrawal(event_id, "h", usd)
    with unit_of_work(session_factory(engine)) as session:
        monitor.process_batch(session, Monitor(FakeEvaluator()), records([event]))
        alert_intake.drain_outbox(session)
        return monitor_repo.hold_ids(session, [event_id])[event_id]


def test_a_decision_over_http_names_each_held_withdrawal(app: FastAPI, engine: Engine) -> None:
    hold_id = _held(engine, "w1", "23856.00")
    ana = client_for(app, "ana")
    taken = ana.post("/v1/cases/take-next", json={"queue_keys": ["held_withdrawals"]})
    assert taken.status_code == 200, taken.text
    case_id = taken.json()["id"]
    url = f"/v1/cases/{case_id}/decisions"
    body = {"action": "dismiss", "reason_code": "false_positive", "note": NOTE}
    refused = ana.post(url, json=body)
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["details"]] == ["$.holds_reason"]
    for bad_body in (
        {"holds": [{"hold_id": hold_id, "resolution": "keep"}]},
        {"holds": [{"hold_id": 2**63, "resolution": "release"}]},
        {"holds": [{"hold_id": 0, "resolution": "release"}]},
        {"holds": [{"hold_id": hold_id, "resolution": "release", "extra": 1}]},
        {"holds_reason": "x" * 20_001},
    ):
        bad = ana.post(url, json={**body, **bad_body})
        assert bad.status_code == 422, bad_body
    made = ana.post(url, json={**body, "holds": [{"hold_id": hold_id, "resolution": "release"}]})
    assert made.status_code == 201, made.text
    assert made.json()["case"]["status"] == "closed"
    assert made.json()["action"]["result"]["holds"] == {str(hold_id): "released"}
    hold = ana.get("/v1/holds", params={"status": "released"}).json()
    assert [(h["id"], h["resolved_by"], h["approved_by"]) for h in hold] == [(hold_id, "ana", None)]


@pytest.mark.parametrize(("verb", "outcome"), [("release", "dismissed"), ("reject", "restricted")])
def test_a_hold_resolved_over_http_reaches_its_case(
    app: FastAPI, engine: Engine, verb: str, outcome: str
) -> None:
    hold_id = _held(engine, "w1", "23856.00")
    sen = client_for(app, "sen")
    [case] = [c for c in sen.get("/v1/queues/held_withdrawals/cases").json()]
    resolved = sen.post(f"/v1/holds/{hold_id}/{verb}", json={"note": "called the customer"})
    assert resolved.status_code == 200, resolved.text
    assert sen.get(f"/v1/cases/{case['id']}").json()["case"]["status"] == "new"  # not yet told
    drain(session_factory(engine))
    detail = sen.get(f"/v1/cases/{case['id']}").json()
    assert (detail["case"]["status"], detail["case"]["outcome"]) == ("closed", outcome)
    resolution, closed = detail["events"][-2:]
    assert (resolution["kind"], resolution["actor"], resolution["reason"]) == (
        {"release": "hold_released", "reject": "hold_rejected"}[verb],
        "sen",
        "called the customer",
    )
    assert closed["kind"] == "closed"

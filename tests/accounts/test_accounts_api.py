"""Account controls over HTTP: restrictions block at once, a full freeze or an offboarding
answers 202 and waits for a second person, maker and approver are recorded, whatever the
path (API session, API token, case decision); on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from monitor_fakes import FakeFactory, withdrawal
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.accounts.models import Restriction, RestrictionKind
from riskops.auth.permissions import Role
from riskops.cases.alert_intake import ensure_default_queues, raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.runtime import MonitorRuntime
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, bearer, make_user, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

FREEZE = {"kind": "full_freeze", "reason": "ATO confirmed"}
NOTE = {
    "summary": "ATO pattern",
    "evidence": "new device, new address",
    "findings": "not the customer",
    "decision": "freeze",
    "rationale": "protect the funds",
}


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[Any]:
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        for name, role in (
            ("ana", Role.ANALYST),
            ("alex", Role.ANALYST),
            ("sam", Role.SENIOR_ANALYST),
            ("cora", Role.COMPLIANCE),
        ):
            make_user(session, name, role)
    runtime = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "monitor.snapshot")
    application = create_app(Container(Settings(data_dir=tmp_path), engine, runtime))
    with TestClient(application):  # runs the lifespan: the monitor runtime starts
        yield application


def login(app: Any, username: str) -> TestClient:
    client = TestClient(app)
    api_login(client, username, sticky=True)
    return client


def decide(client: TestClient, event_id: str, account: str) -> str:
    body = msgspec.json.encode(withdrawal(event_id, account, "10.00"))
    answer = client.post("/v1/decisions", content=body)
    assert answer.status_code == 200, answer.text
    decision: str = answer.json()["decision"]
    return decision


def active(client: TestClient, account: str) -> list[str]:
    listed = client.get(f"/v1/accounts/{account}/restrictions", params={"active": "true"})
    assert listed.status_code == 200, listed.text
    return [r["kind"] for r in listed.json()]


def test_an_analyst_session_cannot_freeze_an_account_alone(app: Any, engine: Engine) -> None:
    """Finding 2, reproduced: ``POST /v1/accounts/{id}/restrictions`` with a full freeze from
    an analyst's session imposed it at once (201). Now: 202 with the pending approval, and
    nothing happens to the account until someone else approves it."""
    ana, alex, sam = login(app, "ana"), login(app, "alex"), login(app, "sam")
    exchange = TestClient(app, headers=bearer(token_for(engine, ["decision:request"], "ex")))
    asked = ana.post("/v1/accounts/acc-1/restrictions", json=FREEZE)
    assert asked.status_code == 202, asked.text
    pending = asked.json()
    assert {k: pending[k] for k in ("kind", "maker", "status", "restriction")} == {
        "kind": "full_freeze",
        "maker": "ana",
        "status": "pending_approval",
        "restriction": "full_freeze",
    }
    assert asked.headers["location"] == f"/v1/account-actions/{pending['id']}"
    assert active(ana, "acc-1") == []
    assert decide(exchange, "w1", "acc-1") != "block"
    assert [a["id"] for a in sam.get("/v1/account-actions").json()] == [pending["id"]]

    approve = f"/v1/account-actions/{pending['id']}/approve"
    assert ana.post(approve, json={}).status_code == 403  # the maker
    assert alex.post(approve, json={}).status_code == 403  # an analyst cannot approve
    assert active(ana, "acc-1") == []
    approved = sam.post(approve, json={"comment": "agreed"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["approver"] == "sam"
    [restriction] = ana.get("/v1/accounts/acc-1/restrictions").json()
    assert (restriction["created_by"], restriction["approved_by"]) == ("ana", "sam")
    assert restriction["id"] == approved.json()["restriction_id"]
    assert decide(exchange, "w2", "acc-1") == "block"
    assert sam.post(approve, json={}).status_code == 409  # decided once
    assert login(app, "cora").post(approve, json={}).status_code == 409


def test_a_token_may_ask_for_an_offboarding_but_never_approve_one(app: Any, engine: Engine) -> None:
    backoffice = TestClient(app, headers=bearer(token_for(engine, ["account:restrict"], "bo")))
    freeze = backoffice.post("/v1/accounts/acc-2/restrictions", json=FREEZE)
    assert freeze.status_code == 202, freeze.text  # a token is one person too
    assert (freeze.json()["kind"], freeze.json()["status"]) == ("full_freeze", "pending_approval")
    asked = backoffice.post(
        "/v1/accounts/acc-2/restrictions", json={"kind": "account_closed", "reason": "mule"}
    )
    assert asked.status_code == 202, asked.text
    assert (asked.json()["kind"], asked.json()["maker"]) == ("offboard", "token:bo")
    action = f"/v1/account-actions/{asked.json()['id']}"
    assert backoffice.post(f"{action}/approve", json={}).status_code == 403
    assert backoffice.get(action).status_code == 403  # no account:view scope
    cora = login(app, "cora")
    assert cora.post(f"{action}/refuse", json={"comment": ""}).status_code == 422
    refused = cora.post(f"{action}/refuse", json={"comment": "not enough evidence"})
    assert refused.status_code == 200, refused.text
    assert cora.get(action).json()["status"] == "refused"
    assert active(cora, "acc-2") == []


def test_other_restrictions_block_at_once_and_are_lifted_with_a_reason(app: Any) -> None:
    ana = login(app, "ana")
    created = ana.post(
        "/v1/accounts/acc-3/restrictions",
        json={"kind": "withdrawal_lock", "reason": "ATO suspected", "actor": "mallory"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "ana"  # the caller, never the body's "actor"
    assert created.json()["approved_by"] is None
    assert active(ana, "acc-3") == ["withdrawal_lock"]
    rid = created.json()["id"]
    lift = f"/v1/accounts/acc-3/restrictions/{rid}/lift"
    no_reason = ana.post(lift, json={})
    assert no_reason.status_code == 422
    assert no_reason.json()["details"][0]["field"] == "$.reason"
    assert (
        ana.post(f"/v1/accounts/other/restrictions/{rid}/lift", json={"reason": "x"}).status_code
        == 404
    )
    lifted = ana.post(lift, json={"reason": "customer verified"})
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["active"], lifted.json()["lifted_by"]) == (False, "ana")
    assert ana.post(lift, json={"reason": "again"}).status_code == 409
    bad = ana.post("/v1/accounts/acc-3/restrictions", json={"kind": "jail", "reason": "x"})
    assert bad.status_code == 422
    naive = ana.post(
        "/v1/accounts/acc-3/restrictions",
        json={"kind": "p2p_ban", "reason": "x", "expires_at": "2099-01-01T00:00:00"},
    )
    assert naive.status_code == 422


def test_the_monitor_blocks_a_restricted_account_at_once(app: Any, engine: Engine) -> None:
    exchange = TestClient(app, headers=bearer(token_for(engine, ["decision:request"], "ex")))
    ana = login(app, "ana")
    assert decide(exchange, "w1", "acc-4") == "allow"
    lock = {"kind": "withdrawal_lock", "reason": "ATO suspected"}
    rid = ana.post("/v1/accounts/acc-4/restrictions", json=lock).json()["id"]
    assert decide(exchange, "w2", "acc-4") == "block"
    assert decide(exchange, "w3", "other") == "allow"
    ana.post(f"/v1/accounts/acc-4/restrictions/{rid}/lift", json={"reason": "verified"})
    assert decide(exchange, "w4", "acc-4") != "block"


def test_an_approved_case_freeze_records_the_maker_and_the_approver(
    app: Any, engine: Engine
) -> None:
    """Finding 2, second half: approving a case's full freeze recorded the approver as who
    created the restriction. Now the maker is ``created_by`` and the approver
    ``approved_by``, as over the API."""
    with unit_of_work(session_factory(engine)) as session:
        alert = AlertIn(
            source=AlertSource.EMAIL,
            source_ref="msg-1",
            account_id="acc-5",
            kind="email",
            title="not me",
            severity=80,
        )
        raise_alert(session, alert)
    ana, sam = login(app, "ana"), login(app, "sam")
    taken = ana.post("/v1/cases/take-next", json={})
    assert taken.status_code == 200, taken.text
    made = ana.post(
        f"/v1/cases/{taken.json()['id']}/decisions",
        json={"action": "restrict", "restrictions": ["full_freeze"], "note": NOTE},
    )
    assert made.status_code == 201, made.text
    assert made.json()["pending_approval"] is True
    assert active(ana, "acc-5") == []
    action_id = made.json()["action"]["id"]
    approved = sam.post(f"/v1/actions/{action_id}/approve", json={"comment": "agreed"})
    assert approved.status_code == 200, approved.text
    with session_factory(engine)() as session:
        [restriction] = session.scalars(
            select(Restriction).where(Restriction.account_id == "acc-5")
        ).all()
    assert restriction.kind is RestrictionKind.FULL_FREEZE
    assert (restriction.created_by, restriction.approved_by) == ("ana", "sam")


def test_the_console_asks_for_a_full_freeze_as_the_api_does(app: Any) -> None:
    """The account page's restrict form calls the same function: a full freeze waits on
    the approvals page, a withdrawal lock is in force at once, a made-up kind is refused."""
    ana = login(app, "ana")
    form = "/accounts/acc-6/restrictions"
    asked = ana.post(form, data=FREEZE, follow_redirects=False)
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == "/accounts/acc-6?done=asked"
    assert active(ana, "acc-6") == []
    assert 'class="panel approval account-action"' in ana.get("/approvals").text
    locked = ana.post(form, data={"kind": "withdrawal_lock", "reason": "ATO"})
    assert locked.history[0].headers["location"] == "/accounts/acc-6?done=restricted"
    assert active(ana, "acc-6") == ["withdrawal_lock"]
    assert ana.post(form, data={"kind": "jail", "reason": "x"}).status_code == 422
    assert ana.post(form, data={"kind": "p2p_ban", "reason": " "}).status_code == 422
    cora = login(app, "cora")  # compliance approves, but does not restrict
    assert cora.post(form, data={"kind": "p2p_ban", "reason": "x"}).status_code == 403
    assert active(ana, "acc-6") == ["withdrawal_lock"]

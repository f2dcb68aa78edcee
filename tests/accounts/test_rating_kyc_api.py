"""The rating and KYC review routes (``accounts.risk_api``): a submission decided by the
monitor becomes a review the queue shows; a senior analyst decides it with a note; the
rating and its history answer with their reasons; refusals are typed. SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from monitor_fakes import FakeFactory
from sqlalchemy.engine import Engine

from riskops.accounts import kyc, risk_api, tasks
from riskops.accounts.watch import AccountWatch
from riskops.auth.permissions import Role
from riskops.cases.alert_intake import ensure_default_queues
from riskops.events import schemas as s
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.runtime import MonitorRuntime
from riskops.monitor.service import AccountFeed
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, make_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _no_lists(*_args: object) -> list[kyc.ScreenMatch] | None:
    return None


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        make_user(session, "ana", Role.ANALYST)
        make_user(session, "sam", Role.SENIOR_ANALYST)
    checks = kyc.Checks(screen=_no_lists, ip_country=lambda _i: None, phone_country=lambda *_: None)
    runtime = MonitorRuntime(engine, FakeFactory(), snapshot_path=tmp_path / "monitor.snapshot")
    # no background followers: the test runs the accounts follower itself, with its checks
    settings = Settings(data_dir=tmp_path, intake_poll_seconds=0)
    application = create_app(Container(settings, engine, runtime))
    if not any(getattr(r, "path", "") == "/v1/kyc-reviews" for r in application.routes):
        risk_api.include(application)  # until the app wires it
    with TestClient(application) as test_client:
        runtime.decide_events(
            [
                s.AccountCreated(
                    event_id="c1", account_id="acc-1", occurred_at=utcnow(), country="DE"
                ),
                s.KycSubmitted(
                    event_id="k1",
                    account_id="acc-1",
                    occurred_at=utcnow(),
                    level=2,
                    full_name="Anna Schmidt",
                    date_of_birth=date(2012, 3, 4),
                    nationality="FR",
                    document_country="DE",
                    document_type="passport",
                ),
            ]
        )
        # the accounts follower, behind the monitor (the server runs it every poll)
        tasks.follow(session_factory(engine), AccountFeed(), AccountWatch(checks=checks))
        yield test_client


def _login(client: TestClient, name: str) -> dict[str, str]:
    return {"X-CSRF-Token": api_login(client, name)}


def test_the_queue_shows_the_review_and_a_senior_analyst_decides_it(client: TestClient) -> None:
    headers = _login(client, "sam")
    queue = client.get("/v1/kyc-reviews")
    assert queue.status_code == 200, queue.text
    [review] = queue.json()
    assert (review["account_id"], review["kind"], review["status"]) == ("acc-1", "kyc", "pending")
    codes = {f["code"] for f in review["findings"]}
    assert {"UNDER_18", "COUNTRY_MISMATCH", "SCREENING_NO_LISTS"} <= codes
    assert client.get(f"/v1/kyc-reviews/{review['id']}").json()["event_id"] == "k1"
    assert [r["id"] for r in client.get("/v1/accounts/acc-1/kyc-reviews").json()] == [review["id"]]
    done = client.post(
        f"/v1/kyc-reviews/{review['id']}/decision",
        json={"decision": "reject", "note": "under age"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["decided_by"]) == ("rejected", "sam")
    again = client.post(
        f"/v1/kyc-reviews/{review['id']}/decision",
        json={"decision": "approve", "note": "changed my mind"},
        headers=headers,
    )
    assert again.status_code == 409
    rated = client.get("/v1/accounts/acc-1/rating").json()
    assert "KYC_REJECTED" in {r["code"] for r in rated["reasons"]}
    history = client.get("/v1/accounts/acc-1/rating/history").json()
    assert [h["trigger"] for h in history] == ["kyc", "monitor"]


def test_refusals(client: TestClient) -> None:
    headers = _login(client, "ana")
    assert client.get("/v1/kyc-reviews").status_code == 403  # kyc:review
    review_id = client.get("/v1/accounts/acc-1/kyc-reviews").json()[0]["id"]
    body: dict[str, Any] = {"decision": "approve", "note": "fine"}
    denied = client.post(f"/v1/kyc-reviews/{review_id}/decision", json=body, headers=headers)
    assert denied.status_code == 403
    client.post("/v1/auth/logout", headers=headers)
    headers = _login(client, "sam")
    no_note = client.post(
        f"/v1/kyc-reviews/{review_id}/decision",
        json={"decision": "approve", "note": " "},
        headers=headers,
    )
    assert no_note.status_code == 422
    unknown = client.post(
        f"/v1/kyc-reviews/{review_id}/decision",
        json={"decision": "maybe", "note": "x"},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert client.get("/v1/kyc-reviews/999999").status_code == 404
    assert client.get("/v1/accounts/nobody/rating").status_code == 404

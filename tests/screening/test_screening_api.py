"""``/v1/accounts/{id}/screening-hits``, ``/v1/screening/hits[/{id}[/review]]`` and
``/v1/screening/lists`` over HTTP: permissions, a decision once, clear refusals."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from screening_store_fakes import PETROV, ftm_file, kyc, load, log, sessions_of
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Role
from riskops.kernel.config import Settings
from riskops.kernel.db import unit_of_work
from riskops.screening import api, service, tasks
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    with unit_of_work(sessions_of(engine)) as session:
        for name, role in (("ana", Role.ANALYST), ("rul", Role.RULE_AUTHOR)):
            make_user(session, name, role)
    load(engine, ftm_file(tmp_path / "list.jsonl", [PETROV]))
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    tasks.follow(sessions_of(engine), cache=service.ScreenerCache())
    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    if not any(getattr(r, "path", "").startswith("/v1/screening") for r in app.routes):
        api.include(app)  # until web.app wires the screening router
    yield app


def test_anonymous_callers_are_refused(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        assert anonymous.get("/v1/accounts/acc-1/screening-hits").status_code == 401
        assert anonymous.get("/v1/screening/lists").status_code == 401


def test_an_analyst_reads_and_decides_a_hit(app: FastAPI) -> None:
    ana = client_for(app, "ana")
    [hit] = ana.get("/v1/accounts/acc-1/screening-hits").json()
    assert (hit["entry_id"], hit["status"], hit["matched_name"]) == (
        "p-1",
        "open",
        "Viktor Ivanovich Petrov",
    )
    assert hit["reasons"] and hit["entry"]["birth_dates"] == ["1960-05-01"]
    assert [h["id"] for h in ana.get("/v1/screening/hits").json()] == [hit["id"]]
    assert ana.get(f"/v1/screening/hits/{hit['id']}").json()["id"] == hit["id"]
    review = f"/v1/screening/hits/{hit['id']}/review"
    blank = ana.post(review, json={"decision": "not_a_match", "note": " "})
    assert blank.status_code == 422 and blank.json()["details"][0]["field"] == "$.note"
    assert ana.post(review, json={"decision": "perhaps", "note": "x"}).status_code == 422
    done = ana.post(review, json={"decision": "not_a_match", "note": "other DOB, other ID"})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["decided_by"]) == ("not_a_match", "ana")
    assert ana.post(review, json={"decision": "match", "note": "again"}).status_code == 409
    assert ana.get("/v1/screening/hits").json() == []  # the queue holds open hits
    decided = ana.get("/v1/screening/hits", params={"status": "not_a_match"}).json()
    assert [h["note"] for h in decided] == ["other DOB, other ID"]
    missing = {"decision": "match", "note": "n"}
    assert ana.post("/v1/screening/hits/999999/review", json=missing).status_code == 404
    assert ana.get("/v1/screening/hits/999999").status_code == 404


def test_roles_without_screening_review_cannot_decide(app: FastAPI) -> None:
    rul = client_for(app, "rul")
    [hit] = rul.get("/v1/accounts/acc-1/screening-hits").json()  # account:view
    refused = rul.post(
        f"/v1/screening/hits/{hit['id']}/review", json={"decision": "match", "note": "him"}
    )
    assert refused.status_code == 403 and "screening:review" in refused.json()["message"]
    assert rul.get("/v1/screening/hits").status_code == 403


def test_list_versions_and_bad_input(app: FastAPI) -> None:
    ana = client_for(app, "ana")
    [version] = ana.get("/v1/screening/lists").json()
    assert (version["list_name"], version["version"], version["current"]) == ("test", 1, True)
    assert version["entry_count"] == 1 and len(version["files"][0]["sha256"]) == 64
    assert ana.get("/v1/screening/lists", params={"list_name": "nope"}).json() == []
    assert ana.get("/v1/screening/lists", params={"list_name": "x" * 65}).status_code == 422
    assert ana.get(f"/v1/accounts/{'a' * 5000}/screening-hits").status_code == 422
    assert ana.get("/v1/accounts/acc-1/screening-hits?status=maybe").status_code == 422
    assert ana.get("/v1/accounts/acc-1/screening-hits?limit=0").status_code == 422
    assert ana.get("/v1/accounts/nobody/screening-hits").json() == []

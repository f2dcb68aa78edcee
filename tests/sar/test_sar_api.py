"""``/v1/sars`` over HTTP: the flow from a case to a filed report, field-level refusals,
four-eyes and permissions, the exported file."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi import FastAPI
from sar_fakes import complete_edit, open_case
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Role
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.sar import api
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    with unit_of_work(session_factory(engine)) as session:
        for name, role in (("ana", Role.ANALYST), ("cora", Role.COMPLIANCE)):
            make_user(session, name, role)
        make_user(session, "cleo", Role.COMPLIANCE)
        open_case(session, "acc-1")
    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    if not any(getattr(r, "path", "").startswith("/v1/sars") for r in app.routes):
        api.include(app)  # until web.app wires the SAR router
    yield app


def _complete() -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(complete_edit())
    return {k: v for k, v in body.items() if v is not None}


def test_from_a_case_to_a_filed_report(app: FastAPI) -> None:
    ana, cora, cleo = client_for(app, "ana"), client_for(app, "cora"), client_for(app, "cleo")
    made = ana.post("/v1/sars", json={"case_id": 1})
    assert made.status_code == 201, made.text
    sar = made.json()
    assert (sar["status"], sar["accounts"], sar["drafted_by"]) == ("draft", ["acc-1"], "ana")
    url = f"/v1/sars/{sar['id']}"

    refused = ana.post(f"{url}/exports", json={"format": "goaml"})
    assert refused.status_code == 422
    fields = {d["field"] for d in refused.json()["details"]}
    assert {"transactions", "subjects[0].birth_date"} <= fields

    assert ana.patch(url, json=_complete()).status_code == 200
    assert ana.post(f"{url}/submit").json()["status"] == "awaiting_approval"
    assert ana.post(f"{url}/approve", json={}).status_code == 403  # analyst: no sar:approve
    assert cora.post(f"{url}/approve", json={}).json()["status"] == "approved"

    sent = cora.post(f"{url}/exports", json={"format": "fincen"})
    assert sent.status_code == 201, sent.text
    export = sent.json()
    got = ana.get(f"{url}/exports/{export['id']}/file")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/xml")
    assert hashlib.sha256(got.content).hexdigest() == export["sha256"]
    assert b"EFilingBatchXML" in got.content

    assert ana.post(f"{url}/file", json={"export_id": export["id"]}).status_code == 403
    filed = cleo.post(f"{url}/file", json={"export_id": export["id"], "fiu_reference": "BSA-1"})
    assert filed.status_code == 200, filed.text
    assert (filed.json()["status"], filed.json()["filed_sha256"]) == ("filed", export["sha256"])

    hold = cora.put(f"{url}/legal-hold", json={"hold": True, "reason": "subpoena"})
    assert hold.json()["legal_hold"] is True
    page = ana.get("/v1/sars", params={"status": "filed", "account_id": "acc-1"}).json()
    assert [s["id"] for s in page["items"]] == [sar["id"]] and page["total"] == 1
    assert ana.get("/v1/sars", params={"status": "draft"}).json()["total"] == 0


def test_the_drafter_cannot_approve_over_http(app: FastAPI) -> None:
    cora, cleo = client_for(app, "cora"), client_for(app, "cleo")
    sar = cora.post("/v1/sars", json={"case_id": 1}).json()
    url = f"/v1/sars/{sar['id']}"
    cora.patch(url, json=_complete())
    cora.post(f"{url}/submit")
    own = cora.post(f"{url}/approve", json={})
    assert own.status_code == 403 and "four-eyes" in own.json()["message"]
    assert cleo.post(f"{url}/approve", json={}).json()["approved_by"] == "cleo"


def test_bad_input_is_refused_with_reasons(app: FastAPI) -> None:
    ana = client_for(app, "ana")
    sar = ana.post("/v1/sars", json={"case_id": 1}).json()
    url = f"/v1/sars/{sar['id']}"
    bad = ana.patch(url, json={"subjects": [{"kind": "robot"}]})
    assert bad.status_code == 422
    assert ana.post(f"{url}/exports", json={"format": "xml"}).status_code == 422
    assert ana.post("/v1/sars", json={"case_id": 1}).status_code == 409
    assert ana.post("/v1/sars", json={"case_id": 99}).status_code == 404
    with TestClient(app) as anonymous:
        assert anonymous.get("/v1/sars").status_code == 401

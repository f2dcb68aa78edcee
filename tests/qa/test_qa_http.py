"""QA over HTTP: the API (plan, samples, review, agreement) and the console pages (queue,
review form, agreement, plan, the case panel and "My work"), with their refusals."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from qa_fakes import closed_case
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal, Role
from riskops.auth.service import TOKENS
from riskops.cases.models import CaseOutcome
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.qa import service
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import client_for, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")

USERS = {
    "ana": Role.ANALYST,
    "sam": Role.SENIOR_ANALYST,
    "max": Role.MANAGER,
    "cora": Role.COMPLIANCE,
}


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    TOKENS.clear()
    closed = utcnow() - timedelta(hours=2)
    with unit_of_work(session_factory(engine)) as session:
        for name, role in USERS.items():
            make_user(session, name, role)
        closed_case(session, analyst="ana", closed_at=closed, rules=("R-7",))
        closed_case(session, analyst="sam", closed_at=closed, outcome=CaseOutcome.OFFBOARDED)
    yield create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    TOKENS.clear()


def test_plan_sample_review_and_agreement_over_the_api(app: FastAPI, engine: Engine) -> None:
    ana, sam, cora = client_for(app, "ana"), client_for(app, "sam"), client_for(app, "cora")
    assert sam.get("/v1/qa/plan").status_code == 404  # no plan yet
    assert sam.put("/v1/qa/plan", json={"base_rate": 1}).status_code == 403  # qa:manage
    bad = cora.put(
        "/v1/qa/plan", json={"base_rate": 2, "outcome_rates": [{"outcome": "no", "rate": 1}]}
    )
    assert bad.status_code == 422, bad.text
    saved = cora.put("/v1/qa/plan", json={"base_rate": 1.0, "seed": "s"})
    assert saved.status_code == 200, saved.text
    assert sam.get("/v1/qa/plan").json()["version"] == saved.json()["version"]
    with unit_of_work(session_factory(engine)) as session:
        assert service.sample_all(session, Principal.system("tests")).sampled == 2
    assert ana.get("/v1/qa/samples").status_code == 403
    samples = {s["analyst"]: s for s in sam.get("/v1/qa/samples").json()}
    assert set(samples) == {"ana", "sam"}
    own = sam.post(f"/v1/qa/samples/{samples['sam']['id']}/review", json={"verdict": "agree"})
    assert own.status_code == 403, own.text  # four-eyes
    url = f"/v1/qa/samples/{samples['ana']['id']}/review"
    missing = sam.post(url, json={"verdict": "disagree"})
    assert missing.status_code == 422
    assert missing.json()["details"] == [
        {"field": "$.reason", "reason": "required when you disagree"}
    ]
    done = sam.post(url, json={"verdict": "disagree", "outcome": "restricted", "reason": "mule"})
    assert done.status_code == 200, done.text
    assert done.json()["verdict"] == "disagree"
    assert sam.post(url, json={"verdict": "agree"}).status_code == 409
    rows = cora.get("/v1/qa/agreement", params={"by": "analyst"}).json()
    assert rows == [
        {
            "key": "ana",
            "reviewed": 1,
            "agreed": 0,
            "disagreed": 1,
            "agreement_rate": 0.0,
            "kappa": None,
            "kappa_undefined": "fewer than 5 reviews",
        }
    ]
    assert [r["key"] for r in cora.get("/v1/qa/agreement?by=rule").json()] == ["R-7"]
    assert cora.get("/v1/qa/agreement?by=queue").status_code == 422


def test_the_console_review_and_what_the_analyst_sees(app: FastAPI, engine: Engine) -> None:
    ana, sam, maxi = client_for(app, "ana"), client_for(app, "sam"), client_for(app, "max")
    empty = sam.get("/qa")
    assert empty.status_code == 200 and "No plan is saved yet" in empty.text
    form = {"base_rate": "0", "outcome_offboarded": "1", "outcome_dismissed": "1", "seed": "x"}
    assert maxi.post("/qa/plan", data=form, follow_redirects=False).status_code == 303
    bad = maxi.post("/qa/plan", data={**form, "analyst_rates": "ana"}, follow_redirects=False)
    assert bad.status_code == 422 and "write key=rate" in bad.text
    assert maxi.post("/qa/sample", follow_redirects=False).status_code == 303
    page = sam.get("/qa")
    assert "QA #" in page.text and "your decision" in page.text
    sample = service.waiting
    with unit_of_work(session_factory(engine)) as session:
        found, _ = sample(session, Principal.system("tests"))
        ids = {s.analyst: (s.id, s.case_id) for s in found}
    sample_id, case_id = ids["ana"]
    review = sam.get(f"/qa/{sample_id}")
    assert review.status_code == 200 and 'id="qa-review-form"' in review.text
    assert "The analyst's note" in review.text
    assert 'id="qa-own"' in sam.get(f"/qa/{ids['sam'][0]}").text
    assert sam.post(f"/qa/{sample_id}/take", follow_redirects=False).status_code == 303
    refused = sam.post(f"/qa/{sample_id}/review", data={"verdict": "disagree"})
    assert refused.status_code == 422
    sent = sam.post(
        f"/qa/{sample_id}/review",
        data={"verdict": "disagree", "outcome": "restricted", "reason": "a mule pattern"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    mine = ana.get("/qa/mine")
    assert f"qa-mine-{sample_id}" in mine.text and "a mule pattern" in mine.text
    assert 'hx-get="/qa/mine"' in ana.get("/my").text
    panel = ana.get(f"/cases/{case_id}/qa")
    assert "disagreed" in panel.text and "a mule pattern" in panel.text
    assert 'hx-get="/cases/' in ana.get(f"/cases/{case_id}").text
    note = ana.get(f"/cases/{case_id}").text
    assert "QA second review of ana" in note
    acknowledged = ana.post(f"/qa/{sample_id}/acknowledge", follow_redirects=False)
    assert acknowledged.status_code == 303
    assert f"qa-mine-{sample_id}" not in ana.get("/qa/mine").text
    table = maxi.get("/qa/agreement")
    assert table.status_code == 200 and 'id="qa-by-analyst"' in table.text
    assert "fewer than 5 reviews" in table.text
    assert ana.get("/qa").status_code == 403
    assert ana.get("/qa/agreement").status_code == 403
    assert sam.post("/qa/plan", data=form).status_code == 403

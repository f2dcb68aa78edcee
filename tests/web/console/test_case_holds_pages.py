"""The console's side of holds and cases (without a browser): the decision form asks about
each held withdrawal of the case, the approval card shows the maker's hold choices, and a
hold resolved on the holds page reaches its case."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from riskops.auth.service import TOKENS
from riskops.cases import alert_intake
from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.repository import open_case_of
from riskops.cases.tasks import drain
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, make_user

sys.path.append(str(Path(__file__).resolve().parents[2] / "monitor"))
from monitor_fakes import FakeEvaluator, records, withdrawal

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOTE = {
    "note_summary": "Scam victim's funds pass through.",
    "note_evidence": "Timeline, linked accounts.",
    "note_findings": "Layering.",
    "note_decision": "Freeze the account.",
    "note_rationale": "Policy AML-4.",
}


@pytest.fixture
def app(engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    TOKENS.clear()
    with unit_of_work(session_factory(engine)) as session:
        ensure_default_queues(session)
        make_user(session, "ana", "analyst")
        make_user(session, "sam", "senior_analyst")
    yield create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    TOKENS.clear()


def held(engine: Engine, *usd: str) -> tuple[int, list[int]]:
    """Withdrawals of account "h" held by the monitor; the case id and the hold ids."""
    events = [withdrawal(f"w{i}", "h", v) for i, v in enumerate(usd)]
    with unit_of_work(session_factory(engine)) as session:
        monitor.process_batch(session, Monitor(FakeEvaluator()), records(events))
        alert_intake.drain_outbox(session)
        case = open_case_of(session, "h")
        assert case is not None
        ids = monitor_repo.hold_ids(session, [e.event_id for e in events])
        return case.id, sorted(ids.values())


def logged_in(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app)
    api_login(client, username, sticky=True)
    return client


def test_the_decision_form_asks_about_each_held_withdrawal(app: FastAPI, engine: Engine) -> None:
    case_id, (h1, h2) = held(engine, "23856.00", "12000.00")
    ana = logged_in(app, "ana")
    assert ana.post(f"/cases/{case_id}/assign-me").status_code in (200, 303)
    page = ana.get(f"/cases/{case_id}").text
    groups = re.findall(r'<input type="radio" name="hold_(\d+)" value="(\w*)"', page)
    assert groups == [(str(h), v) for h in (h1, h2) for v in ("release", "reject", "")]
    assert "$23,856" in page
    form = {**NOTE, "action": "restrict", "restrictions": "full_freeze", f"hold_{h1}": "reject"}
    refused = ana.post(f"/cases/{case_id}/decide", data=form, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and f"#{h2} still held" in refused.text
    form |= {f"hold_{h2}": "release"}
    made = ana.post(f"/cases/{case_id}/decide", data=form, follow_redirects=False)
    assert made.status_code == 303 and "done=proposed" in made.headers["location"]
    sam = logged_in(app, "sam")
    card = sam.get("/approvals").text
    assert f"#{h1} reject" in card and f"#{h2} release" in card


def test_a_hold_resolved_on_the_holds_page_reaches_its_case(app: FastAPI, engine: Engine) -> None:
    case_id, [hold_id] = held(engine, "23856.00")
    ana = logged_in(app, "ana")
    resolved = ana.post(
        f"/holds/{hold_id}/resolve",
        data={"action": "reject", "note": "the customer denies the withdrawal"},
        follow_redirects=False,
    )
    assert resolved.status_code == 303
    drain(session_factory(engine))
    page = ana.get(f"/cases/{case_id}").text
    status = page[page.index('id="case-status"') :].split("</div>")[0]
    assert "closed" in status and "restricted" in status.lower()
    assert "the customer denies the withdrawal" in page

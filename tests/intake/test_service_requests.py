"""Service requests: the API and the service function the console's form calls."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.permissions import Principal, Role
from riskops.cases.models import Case
from riskops.intake.schemas import ServiceRequestIn, ServiceRequestKind
from riskops.intake.service_requests import UNKNOWN_ACCOUNT, create_service_request
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Forbidden
from support import bearer, token_for

URL = "/v1/service-requests"


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": "zd-1001",
        "account_id": "acc-0000101",
        "kind": "not_me",
        "subject": "Customer did not make a withdrawal",
        "description": "Customer called: a 0.5 BTC withdrawal yesterday was not them.",
        "contact_channel": "phone",
    }
    body.update(overrides)
    return body


def test_a_request_opens_a_case_in_the_service_requests_queue(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session]
) -> None:
    token = token_for(engine, ["service_request:create"], name="helpdesk")
    response = client.post(URL, json=_body(), headers=bearer(token))
    assert response.status_code == 201, response.text
    out = response.json()
    assert (out["request_id"], out["queue"], out["created"], out["warnings"]) == (
        "zd-1001",
        "service_requests",
        True,
        [],
    )
    with unit_of_work(seeded) as session:
        case = session.get(Case, out["case_id"])
        assert case is not None
        assert (case.account_id, case.queue_key, case.severity) == (
            "acc-0000101",
            "service_requests",
            70,
        )
    again = client.post(URL, json=_body(), headers=bearer(token))
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["case_id"]) == (False, out["case_id"])


def test_severity_by_kind(
    client: TestClient, engine: Engine, seeded: sessionmaker[Session]
) -> None:
    token = token_for(engine, ["service_request:create"])
    for i, (kind, severity) in enumerate([("dispute", 50), ("appeal", 40), ("unlock_request", 30)]):
        body = _body(request_id=f"r{i}", account_id=f"acc-00009{i}", kind=kind)
        out = client.post(URL, json=body, headers=bearer(token)).json()
        with unit_of_work(seeded) as session:
            case = session.get(Case, out["case_id"])
            assert case is not None and case.severity == severity


def test_unknown_account_is_accepted_with_a_warning(client: TestClient, engine: Engine) -> None:
    token = token_for(engine, ["service_request:create"])
    out = client.post(URL, json=_body(account_id="acc-9999999"), headers=bearer(token)).json()
    assert out["queue"] == "service_requests"
    assert out["warnings"] == [UNKNOWN_ACCOUNT]


def test_token_without_the_scope_is_403(client: TestClient, engine: Engine) -> None:
    token = token_for(engine, ["signal:submit"])
    response = client.post(URL, json=_body(), headers=bearer(token))
    assert response.status_code == 403
    assert "service_request:create" in response.json()["message"]


def test_invalid_body_lists_every_field(client: TestClient, engine: Engine) -> None:
    token = token_for(engine, ["service_request:create"])
    body = _body(kind="refund", subject="")
    del body["account_id"]
    response = client.post(URL, json=body, headers=bearer(token))
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert fields == {"$.kind", "$.subject", "$.account_id"}


def test_service_function_for_the_console(seeded: sessionmaker[Session]) -> None:
    analyst = Principal.for_user(7, "ana", Role.ANALYST)
    body = ServiceRequestIn(
        account_id="acc-0000104",
        kind=ServiceRequestKind.APPEAL,
        subject="Appeal of the withdrawal lock",
        description="Customer sent proof of funds.",
    )
    with unit_of_work(seeded) as session:
        result = create_service_request(session, analyst, body)
        assert result.created_alert and result.case.queue_key == "service_requests"
        assert result.alert.source_ref.startswith("sr-")
        assert result.alert.detail["raised_by"] == "ana"
        rule_author = Principal.for_user(8, "rua", Role.RULE_AUTHOR)
        try:
            create_service_request(session, rule_author, body)
        except Forbidden:
            pass
        else:  # pragma: no cover
            raise AssertionError("a rule author may not raise service requests")

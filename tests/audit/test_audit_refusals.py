"""Every refused attempt (403) is audited, through the API, the decision lane and the
console, although the refused request's own transaction rolls back."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from riskops.audit.service import REFUSED, trail
from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Hold, HoldStatus
from support import api_login, bearer, make_user, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def hold_id(engine: Engine, held_hold_id: int) -> int:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ana", Role.ANALYST)
        make_user(session, "adam", Role.ADMIN)
    return held_hold_id


@dataclass(frozen=True)
class Attempt:
    """One refused attempt: how it is made, and the entry it must leave."""

    name: str
    send: Callable[[TestClient, Engine, int], Any]
    actor: str
    route: str
    permission: str | None


def _as_token(scopes: list[str], method: str, path: str, **kw: Any) -> Callable[..., Any]:
    def send(client: TestClient, engine: Engine, hold: int) -> Any:
        token = token_for(engine, scopes, name="narrow")
        return client.request(method, path.format(hold=hold), headers=bearer(token), **kw)

    return send


def _as_user(
    username: str, method: str, path: str, *, csrf: bool = True, **kw: Any
) -> Callable[..., Any]:
    def send(client: TestClient, engine: Engine, hold: int) -> Any:
        token = api_login(client, username)
        headers = {"X-CSRF-Token": token} if csrf else {}
        return client.request(method, path.format(hold=hold), headers=headers, **kw)

    return send


ATTEMPTS = [
    Attempt(
        "token without the scope (dependency)",
        _as_token(["case:view"], "GET", "/v1/dead-letters"),
        "token:narrow",
        "GET /v1/dead-letters",
        "dead_letter:view",
    ),
    Attempt(
        "token without the scope (service)",
        _as_token(["case:view"], "POST", "/v1/holds/{hold}/release", json={"note": "ok"}),
        "token:narrow",
        "POST /v1/holds/{hold_id}/release",
        "hold:resolve",
    ),
    Attempt(
        "token without the scope (decision lane)",
        _as_token(["case:view"], "POST", "/v1/decisions", content=b"{}"),
        "token:narrow",
        "POST /v1/decisions",
        "decision:request",
    ),
    Attempt(
        "analyst reading the audit trail",
        _as_user("ana", "GET", "/v1/audit"),
        "ana",
        "GET /v1/audit",
        "audit:view",
    ),
    Attempt(
        "administrator resolving a hold",
        _as_user("adam", "POST", "/v1/holds/{hold}/release", json={"note": "ok"}),
        "adam",
        "POST /v1/holds/{hold_id}/release",
        "hold:resolve",
    ),
    Attempt(
        "session change without the CSRF token",
        _as_user("ana", "POST", "/v1/holds/{hold}/release", csrf=False, json={"note": "ok"}),
        "ana",
        "POST /v1/holds/{hold_id}/release",
        None,
    ),
    Attempt(
        "console page without the permission",
        _as_user("ana", "GET", "/audit"),
        "ana",
        "GET /audit",
        "audit:view",
    ),
    Attempt(
        "console form without the permission",
        _as_user("adam", "POST", "/holds/{hold}/resolve", data={"action": "release", "note": "x"}),
        "adam",
        "POST /holds/{hold_id}/resolve",
        "hold:resolve",
    ),
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_a_refused_attempt_is_audited_and_changes_nothing(
    client: TestClient, engine: Engine, hold_id: int, attempt: Attempt
) -> None:
    answer = attempt.send(client, engine, hold_id)
    assert answer.status_code == 403, answer.text
    compliance = Principal.for_user(99, "cleo", Role.COMPLIANCE)
    with unit_of_work(session_factory(engine)) as session:
        entries = [e for e in trail(session, compliance, limit=500) if e.action == REFUSED]
        hold = session.get(Hold, hold_id)
        assert hold is not None and hold.status == HoldStatus.HELD  # the request rolled back
        assert not [e for e in trail(session, compliance) if e.action.startswith("hold.")]
    assert [(e.actor, e.subject_type, e.subject_id) for e in entries] == [
        (attempt.actor, "route", attempt.route)
    ]
    detail = entries[0].detail
    assert detail["permission"] == attempt.permission
    assert detail["path"] == attempt.route.split(" ", 1)[1].replace("{hold_id}", str(hold_id))
    assert detail["reason"]


def test_unauthenticated_attempts_are_not_refusals(client: TestClient, hold_id: int) -> None:
    """401 (no credentials) is not a refusal of someone: nothing to attribute."""
    assert client.get("/v1/dead-letters").status_code == 401
    compliance = Principal.for_user(99, "cleo", Role.COMPLIANCE)
    engine = client.app.state.container.engine  # type: ignore[attr-defined]
    with unit_of_work(session_factory(engine)) as session:
        assert [e for e in trail(session, compliance) if e.action == REFUSED] == []


def test_a_four_eyes_refusal_is_audited(client: TestClient, engine: Engine) -> None:
    """The maker of a full freeze approving it themselves is refused, and that is recorded."""
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "sam", Role.SENIOR_ANALYST)
    csrf = {"X-CSRF-Token": api_login(client, "sam")}
    asked = client.post(
        "/v1/accounts/acct-7/restrictions",
        json={"kind": "full_freeze", "reason": "mule pattern"},
        headers=csrf,
    )
    assert asked.status_code == 202, asked.text
    action_id = asked.json()["id"]
    refused = client.post(f"/v1/account-actions/{action_id}/approve", json={}, headers=csrf)
    assert refused.status_code == 403, refused.text
    compliance = Principal.for_user(99, "cleo", Role.COMPLIANCE)
    with unit_of_work(session_factory(engine)) as session:
        entries = [e for e in trail(session, compliance) if e.action == REFUSED]
    assert [(e.actor, e.subject_id) for e in entries] == [
        ("sam", "POST /v1/account-actions/{action_id}/approve")
    ]
    assert entries[0].detail["permission"] is None
    assert "four-eyes" in entries[0].detail["reason"]

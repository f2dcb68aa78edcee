"""The auth HTTP API, CSRF, bearer tokens, and who may call which endpoint."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import pytest
from fastapi import Form
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth import service
from riskops.auth.http import SESSION_COOKIE, ConsoleUser
from riskops.auth.permissions import ROLE_PERMISSIONS, Permission, Principal, Role
from riskops.kernel.clock import utcnow
from riskops.kernel.db import unit_of_work
from support import DEFAULT_PASSWORD, api_login, bearer, make_user, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EVENT = {
    "type": "deposit",
    "event_id": "e-1",
    "account_id": "acct-1",
    "occurred_at": "2026-03-01T12:00:00Z",
    "asset": "BTC",
    "amount": "0.25",
    "usd_value": "15000.00",
    "rail": "crypto",
    "tx_hash": "0x01",
}
WITHDRAWAL = {
    "type": "withdrawal.requested",
    "event_id": "w-1",
    "account_id": "acct-1",
    "occurred_at": "2026-03-01T12:00:00Z",
    "asset": "BTC",
    "amount": "0.5",
    "usd_value": "30000.00",
    "address": "bc1q",
}


def _user(sessions: sessionmaker[Session], username: str, role: Role) -> None:
    with unit_of_work(sessions) as session:
        make_user(session, username, role)


def test_login_me_logout(client: TestClient, sessions: sessionmaker[Session]) -> None:
    _user(sessions, "ana", Role.ANALYST)
    assert client.get("/v1/auth/me").status_code == 401
    wrong = client.post("/v1/auth/login", json={"username": "ana", "password": "x" * 12})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"
    response = client.post("/v1/auth/login", json={"username": "ana", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "password_hash" not in response.text
    csrf = response.json()["csrf_token"]
    me = client.get("/v1/auth/me").json()
    assert (me["name"], me["role"], me["csrf_token"]) == ("ana", "analyst", csrf)
    assert "hold:resolve" in me["permissions"] and "user:manage" not in me["permissions"]
    assert client.post("/v1/auth/logout").status_code == 403  # CSRF applies to logout too
    assert client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/v1/auth/me").status_code == 401


def test_the_session_cookie_stops_working_after_logout(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "ana", Role.ANALYST)
    csrf = api_login(client, "ana")
    stolen = client.cookies.get(SESSION_COOKIE)
    client.post("/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.set(SESSION_COOKIE, stolen or "")
    assert client.get("/v1/auth/me").status_code == 401


def test_csrf_for_cookie_sessions_only(
    client: TestClient, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "root", Role.ADMIN)
    csrf = api_login(client, "root")
    body = {"name": "svc", "scopes": ["case:view"]}
    missing = client.post("/v1/tokens", json=body)
    assert missing.status_code == 403
    assert missing.json()["message"] == "CSRF token missing or wrong"
    assert (
        client.post("/v1/tokens", json=body, headers={"X-CSRF-Token": "x" + csrf}).status_code
        == 403
    )
    assert client.post("/v1/tokens", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.get("/v1/tokens").status_code == 200  # reading needs no CSRF token
    # A bearer token is never sent by the browser on its own: no CSRF token needed.
    machine = TestClient(client.app)
    restrict = {"kind": "withdrawal_lock", "reason": "ATO suspected"}
    token = token_for(engine, ["account:restrict"])
    created = machine.post("/v1/accounts/a/restrictions", json=restrict, headers=bearer(token))
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "token:tests"


def test_console_pages_redirect_to_login_and_forms_keep_their_fields(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    app: Any = client.app

    @app.get("/console-test")
    def page(who: ConsoleUser) -> dict[str, str]:
        return {"name": who.user_display_name, "csrf": who.csrf_token}

    @app.post("/console-form")
    def form(who: ConsoleUser, note: str = Form(...)) -> dict[str, str]:
        return {"note": note, "by": who.principal.name}

    @app.post("/console-button")
    def button(who: ConsoleUser) -> dict[str, str]:
        return {"by": who.principal.name}

    away = client.get("/console-test?q=1", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/login?next=/console-test%3Fq%3D1"
    _user(sessions, "ana_lyst", Role.ANALYST)
    csrf = api_login(client, "ana_lyst")
    assert client.get("/console-test").json() == {"name": "Ana Lyst", "csrf": csrf}
    posted = client.post("/console-form", data={"note": "checked", "csrf_token": csrf})
    assert posted.json() == {"note": "checked", "by": "ana_lyst"}
    assert client.post("/console-form", data={"note": "checked"}).status_code == 403
    assert client.post("/console-button", data={"csrf_token": csrf}).status_code == 200
    assert client.post("/console-button", data={"csrf_token": "nope"}).status_code == 403


def test_token_scopes_revocation_and_expiry(client: TestClient, engine: Engine) -> None:
    ingest = token_for(engine, ["event:ingest"])
    assert client.post("/v1/events", json=EVENT, headers=bearer(ingest)).status_code == 202
    refused = client.post("/v1/decisions", json=WITHDRAWAL, headers=bearer(ingest))
    assert refused.status_code == 403
    assert "decision:request" in refused.json()["message"]
    assert client.get("/v1/dead-letters", headers=bearer(ingest)).status_code == 403
    assert client.post("/v1/events", json=EVENT).status_code == 401
    assert (
        client.post("/v1/events", json=EVENT, headers={"Authorization": "Basic x"}).status_code
        == 401
    )
    assert client.post("/v1/events", json=EVENT, headers=bearer("rk_x_y")).status_code == 401
    system = Principal.system("tests")
    with unit_of_work(client.app.state.container.sessions) as session:  # type: ignore[attr-defined]
        soon, row = service.create_api_token(
            session,
            system,
            name="short",
            scopes=["event:ingest"],
            expires_at=utcnow() - timedelta(minutes=59),
            now=utcnow() - timedelta(hours=1),
        )
        service.revoke_token(session, system, _id_of(session, ingest))
    assert client.post("/v1/events", json=EVENT, headers=bearer(ingest)).status_code == 401
    assert row.expires_at is not None and row.expires_at < utcnow()
    assert client.post("/v1/events", json=EVENT, headers=bearer(soon)).status_code == 401


def _id_of(session: Session, plaintext: str) -> int:
    from riskops.auth import repository

    token = repository.token_by_hash(session, service._sha256(plaintext))
    assert token is not None
    return token.id


def test_users_tokens_and_audit_endpoints(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "root", Role.ADMIN)
    api_login(client, "root", sticky=True)
    new = client.post(
        "/v1/users",
        json={"username": "bo", "password": "short", "role": "analyst", "display_name": "Bo"},
    )
    assert new.status_code == 422 and new.json()["details"][0]["field"] == "$.password"
    made = client.post(
        "/v1/users",
        json={
            "username": "bo",
            "password": DEFAULT_PASSWORD,
            "role": "analyst",
            "display_name": "Bo",
        },
    )
    assert made.status_code == 201
    bo = made.json()["id"]
    patched = client.patch(f"/v1/users/{bo}", json={"role": "manager", "active": False})
    assert (patched.json()["role"], patched.json()["active"]) == ("manager", False)
    assert [u["username"] for u in client.get("/v1/users").json()] == ["bo", "root"]
    token = client.post("/v1/tokens", json={"name": "svc", "scopes": ["event:ingest"]}).json()
    assert token["token"].startswith("rk_")
    assert "token" not in client.get("/v1/tokens").json()[0]
    assert client.delete(f"/v1/tokens/{token['id']}").json()["revoked_at"] is not None
    first = client.get("/v1/audit", params={"limit": 2}).json()
    assert [e["action"] for e in first["items"]] == ["token.revoke", "token.create"]
    rest = client.get("/v1/audit", params={"before_id": first["next_before_id"]}).json()
    assert [e["action"] for e in rest["items"]] == [
        "user.role_change",
        "user.disable",
        "user.create",
        "auth.login",
        "user.create",
    ]
    about_bo = client.get("/v1/audit", params={"subject_type": "user", "subject_id": "bo"}).json()
    assert {e["actor"] for e in about_bo["items"]} == {"root"}
    by_system = client.get("/v1/audit", params={"actor": "system:tests"}).json()
    assert [e["subject_id"] for e in by_system["items"]] == ["root"]


# --- who may do what ------------------------------------------------------------------

# (what, method, path, JSON body, the permission it needs, the status when allowed)
ENDPOINTS: list[tuple[str, str, str, Any, Permission, int]] = [
    ("ingest events", "POST", "/v1/events", EVENT, Permission.EVENT_INGEST, 202),
    ("request a decision", "POST", "/v1/decisions", WITHDRAWAL, Permission.DECISION_REQUEST, 200),
    (
        "resolve a hold",
        "POST",
        "/v1/holds/999/release",
        {"note": "ok"},
        Permission.HOLD_RESOLVE,
        404,
    ),
    (
        "restrict an account",
        "POST",
        "/v1/accounts/acct-1/restrictions",
        {"kind": "withdrawal_lock", "reason": "ATO"},
        Permission.ACCOUNT_RESTRICT,
        201,
    ),
    ("list holds", "GET", "/v1/holds", None, Permission.CASE_VIEW, 200),
    (
        "list restrictions",
        "GET",
        "/v1/accounts/acct-1/restrictions",
        None,
        Permission.ACCOUNT_VIEW,
        200,
    ),
    ("read dead letters", "GET", "/v1/dead-letters", None, Permission.DEAD_LETTER_VIEW, 200),
    ("list users", "GET", "/v1/users", None, Permission.USER_MANAGE, 200),
    (
        "create a token",
        "POST",
        "/v1/tokens",
        {"name": "svc", "scopes": ["case:view"]},
        Permission.TOKEN_MANAGE,
        201,
    ),
    ("read the audit trail", "GET", "/v1/audit", None, Permission.AUDIT_VIEW, 200),
]


@pytest.mark.parametrize("role", list(Role))
def test_authorization_matrix(
    role: Role, client: TestClient, sessions: sessionmaker[Session]
) -> None:
    _user(sessions, "someone", role)
    api_login(client, "someone", sticky=True)
    outcome = {}
    for what, method, path, body, _, _ in ENDPOINTS:
        outcome[what] = client.request(method, path, json=body).status_code
    expected = {
        what: (allowed if permission in ROLE_PERMISSIONS[role] else 403)
        for what, _, _, _, permission, allowed in ENDPOINTS
    }
    assert outcome == expected

"""The audit trail: written with the action, read with ``audit:view``, append-only."""

from __future__ import annotations

import warnings

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from riskops.audit.service import record, trail
from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden
from support import api_login, make_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_hold_release_and_logins_are_in_the_trail(
    client: TestClient, engine: Engine, held_hold_id: int
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "ana", Role.ANALYST)
        make_user(session, "mia", Role.MANAGER)
    hold_id = held_hold_id
    refused = client.post("/v1/auth/login", json={"username": "ana", "password": "nope" * 3})
    assert refused.status_code == 401
    csrf = api_login(client, "ana")
    released = client.post(
        f"/v1/holds/{hold_id}/release",
        json={"note": "customer confirmed on a call", "actor": "someone else"},  # actor ignored
        headers={"X-CSRF-Token": csrf},
    )
    assert released.status_code == 200, released.text
    assert released.json()["resolved_by"] == "ana"
    assert client.get("/v1/audit").status_code == 403  # an analyst may not read the trail
    api_login(client, "mia")
    entries = client.get("/v1/audit", params={"subject_type": "hold"}).json()["items"]
    assert [(e["action"], e["actor"], e["subject_id"]) for e in entries] == [
        ("hold.release", "ana", str(hold_id))
    ]
    assert entries[0]["detail"]["account_id"] == "acct-9"
    logins = client.get("/v1/audit", params={"subject_type": "user", "subject_id": "ana"}).json()
    assert [(e["action"], e["actor_kind"]) for e in logins["items"]] == [
        ("auth.login", "user"),
        ("auth.login_failed", "anonymous"),
        ("user.create", "system"),
    ]
    assert logins["items"][1]["detail"] == {"reason": "wrong_password", "failures": 1}


def test_reading_the_trail_needs_audit_view(engine: Engine) -> None:
    analyst = Principal.for_user(1, "ana", Role.ANALYST)
    with unit_of_work(session_factory(engine)) as session:
        record(session, analyst, "case.view", "case", 7)
        with pytest.raises(Forbidden):
            trail(session, analyst)
        seen = trail(session, Principal.for_user(2, "cleo", Role.COMPLIANCE), actor="ana")
        assert [(e.action, e.subject_id) for e in seen] == [("case.view", "7")]


# Every way SQL can change or remove a stored entry: UPDATE of each column, DELETE, an
# upsert that turns into an UPDATE, and SQLite's REPLACE, which deletes the old row without
# firing DELETE triggers (so a trigger on INSERT refuses it).
_TAMPERING = [
    *(
        f"UPDATE audit_log SET {column} = {value}"
        for column, value in [
            ("actor", "'nobody'"),
            ("actor_kind", "'system'"),
            ("action", "'case.view'"),
            ("subject_type", "'x'"),
            ("subject_id", "'x'"),
            ("detail", "'{}'"),
            ("at", "at"),
            ("id", "id + 100"),
        ]
    ),
    "UPDATE audit_log SET actor = actor WHERE id = 1",
    "DELETE FROM audit_log",
    "DELETE FROM audit_log WHERE id = 1",
    "INSERT INTO audit_log (id, at, actor, actor_kind, action, subject_type, subject_id, detail)"
    " SELECT id, at, 'nobody', actor_kind, action, subject_type, subject_id, detail"
    " FROM audit_log WHERE id = 1"
    " ON CONFLICT (id) DO UPDATE SET actor = excluded.actor",
]
_SQLITE_ONLY = [
    "REPLACE INTO audit_log (id, at, actor, actor_kind, action, subject_type, subject_id, detail)"
    " SELECT id, at, 'nobody', actor_kind, action, subject_type, subject_id, detail"
    " FROM audit_log WHERE id = 1",
    "INSERT OR REPLACE INTO audit_log"
    " (id, at, actor, actor_kind, action, subject_type, subject_id, detail)"
    " SELECT id, at, 'nobody', actor_kind, action, subject_type, subject_id, detail"
    " FROM audit_log WHERE id = 1",
]


def test_the_database_refuses_to_change_or_delete_an_entry(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        record(session, Principal.system("tests"), "case.view", "case", 1)
    statements = _TAMPERING + (_SQLITE_ONLY if engine.dialect.name == "sqlite" else [])
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, actor, action FROM audit_log")).all()
    assert [tuple(r) for r in rows] == [(1, "system:tests", "case.view")]


def test_entries_are_still_appended(engine: Engine) -> None:
    """The triggers refuse changes, not new entries (ids from the sequence or given)."""
    with unit_of_work(session_factory(engine)) as session:
        for i in range(3):
            record(session, Principal.system("tests"), "case.view", "case", i)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log"
                " (id, at, actor, actor_kind, action, subject_type, subject_id, detail)"
                " VALUES (1000, CURRENT_TIMESTAMP, 'a', 'user', 'case.view', 'case', '9', '{}')"
            )
        )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 4

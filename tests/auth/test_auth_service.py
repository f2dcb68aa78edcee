"""Users, login with lockout, sessions and API tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.audit.service import trail
from riskops.auth import service
from riskops.auth.models import ApiToken, LoginSession
from riskops.auth.permissions import Permission, Principal, PrincipalKind, Role
from riskops.kernel.config import Settings
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Conflict, Forbidden, Unauthorized, ValidationFailed
from support import DEFAULT_PASSWORD, make_user

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SYSTEM = Principal.system("tests")
AUDITOR = Principal.for_user(999, "auditor", Role.COMPLIANCE)


def _login(sessions: sessionmaker[Session], password: str, now: datetime, s: Settings) -> None:
    with unit_of_work(sessions) as session:
        service.authenticate(session, "ana", password, now=now, settings=s)


def test_create_user_checks_permission_and_input(sessions: sessionmaker[Session]) -> None:
    analyst = Principal.for_user(1, "ana", Role.ANALYST)
    with pytest.raises(Forbidden), unit_of_work(sessions) as session:
        service.create_user(
            session,
            analyst,
            username="x1",
            password=DEFAULT_PASSWORD,
            role="admin",
            display_name="X",
        )
    with pytest.raises(ValidationFailed) as bad, unit_of_work(sessions) as session:
        service.create_user(
            session,
            SYSTEM,
            username="no spaces",
            password=DEFAULT_PASSWORD,
            role="analyst",
            display_name=" ",
        )
    assert {d["field"] for d in bad.value.details} == {"$.username", "$.display_name"}
    with unit_of_work(sessions) as session:
        user = make_user(session, "Ana.Lyst", Role.ANALYST)
        assert user.username == "ana.lyst" and user.password_hash.startswith("$argon2id$")
    with pytest.raises(Conflict), unit_of_work(sessions) as session:
        make_user(session, "ANA.LYST", Role.ANALYST)


def test_wrong_password_unknown_user_and_disabled_user_look_the_same(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(sessions) as session:
        make_user(session, "ana", Role.ANALYST)
        bob = make_user(session, "bob", Role.ANALYST)
        service.set_user_active(session, SYSTEM, bob.id, False)
    messages = set()
    for username, password in [
        ("ana", "wrong password!"),
        ("nobody", DEFAULT_PASSWORD),
        ("bob", DEFAULT_PASSWORD),
    ]:
        with pytest.raises(Unauthorized) as refused, unit_of_work(sessions) as session:
            service.authenticate(session, username, password, settings=settings)
        messages.add(refused.value.message)
    assert messages == {service.BAD_LOGIN}
    with unit_of_work(sessions) as session:
        assert service.authenticate(session, " ANA ", DEFAULT_PASSWORD).username == "ana"


def test_lockout_after_five_failures_then_unlock_after_the_period(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(sessions) as session:
        make_user(session, "ana", Role.ANALYST)
    for i in range(4):
        with pytest.raises(Unauthorized) as refused:
            _login(sessions, "not the password", T0 + timedelta(seconds=i), settings)
        assert refused.value.message == service.BAD_LOGIN
    with pytest.raises(Unauthorized) as fifth:
        _login(sessions, "not the password", T0 + timedelta(seconds=5), settings)
    assert "locked" in fifth.value.message
    # Locked: the right password is refused too, and the message says why.
    with pytest.raises(Unauthorized) as locked:
        _login(sessions, DEFAULT_PASSWORD, T0 + timedelta(minutes=14), settings)
    assert "locked" in locked.value.message
    _login(sessions, DEFAULT_PASSWORD, T0 + timedelta(minutes=16), settings)
    with sessions() as session:
        user = service.find_user(session, "ana")
        assert (user.failed_logins, user.locked_until) == (0, None)
        assert user.last_login_at == T0 + timedelta(minutes=16)
        actions = [e.action for e in trail(session, AUDITOR, subject_id="ana")]
    assert actions.count("auth.login_failed") == 6  # five wrong passwords, one while locked
    assert actions.count("auth.lockout") == 1
    assert actions[0] == "auth.login"


def test_success_resets_the_counter(sessions: sessionmaker[Session], settings: Settings) -> None:
    with unit_of_work(sessions) as session:
        make_user(session, "ana", Role.ANALYST)
    for i in range(4):
        with pytest.raises(Unauthorized):
            _login(sessions, "not the password", T0 + timedelta(seconds=i), settings)
    _login(sessions, DEFAULT_PASSWORD, T0 + timedelta(seconds=10), settings)
    for i in range(4):  # four more do not lock: the count started again
        with pytest.raises(Unauthorized) as refused:
            _login(sessions, "not the password", T0 + timedelta(seconds=20 + i), settings)
        assert refused.value.message == service.BAD_LOGIN


def test_enabling_a_user_lifts_the_lockout(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(sessions) as session:
        ana = make_user(session, "ana", Role.ANALYST)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            _login(sessions, "not the password", T0, settings)
    with unit_of_work(sessions) as session:
        service.set_user_active(session, SYSTEM, ana.id, True, now=T0)
    _login(sessions, DEFAULT_PASSWORD, T0 + timedelta(minutes=1), settings)


def test_session_slides_expires_and_ends(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(sessions) as session:
        user = make_user(session, "ana", Role.MANAGER)
        token, row = service.start_session(session, user, now=T0, settings=settings)
        assert row.token_hash != token and len(row.csrf_token) >= 40
    with unit_of_work(sessions) as session:
        stored = session.get(LoginSession, row.token_hash)
        assert stored is not None and stored.expires_at == T0 + timedelta(hours=12)
        found = service.session_principal(session, token, now=T0 + timedelta(hours=11))
        assert found is not None
        principal, csrf = found
        assert (principal.name, principal.role, csrf) == ("ana", Role.MANAGER, row.csrf_token)
        assert principal.can(Permission.AUDIT_VIEW)
    with unit_of_work(sessions) as session:  # used at 11 h: now valid until 23 h
        assert service.session_principal(session, token, now=T0 + timedelta(hours=22)) is not None
        assert service.session_principal(session, "forged", now=T0) is None
    with unit_of_work(sessions) as session:  # idle for 12 h: expired
        assert (
            service.session_principal(session, token, now=T0 + timedelta(hours=34, minutes=1))
            is None
        )
    with unit_of_work(sessions) as session:
        token2, _ = service.start_session(session, user, settings=settings)
        service.end_session(session, token2)
    with unit_of_work(sessions) as session:
        assert service.session_principal(session, token2) is None


def test_disabling_a_user_ends_their_sessions(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(sessions) as session:
        admin = make_user(session, "root", Role.ADMIN)
        ana = make_user(session, "ana", Role.ANALYST)
        token, _ = service.start_session(session, ana, settings=settings)
    acting = Principal.for_user(admin.id, admin.username, admin.role)
    with unit_of_work(sessions) as session:
        service.set_user_active(session, acting, ana.id, False)
        with pytest.raises(Conflict):
            service.set_user_active(session, acting, admin.id, False)
    with unit_of_work(sessions) as session:
        assert service.session_principal(session, token) is None
        service.set_user_active(session, acting, ana.id, True)
    with unit_of_work(sessions) as session:
        assert service.session_principal(session, token) is None  # stays ended
        assert (
            service.change_role(session, acting, ana.id, "senior_analyst").role
            is Role.SENIOR_ANALYST
        )
        with pytest.raises(Conflict):
            service.change_role(session, acting, admin.id, "analyst")


def test_token_scopes_must_be_token_scopes(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValidationFailed) as bad, unit_of_work(sessions) as session:
        service.create_api_token(session, SYSTEM, name="x", scopes=["event:ingest", "user:manage"])
    assert "'user:manage'" in bad.value.message
    assert bad.value.details[0]["field"] == "$.scopes[1]"
    with pytest.raises(ValidationFailed), unit_of_work(sessions) as session:
        service.create_api_token(session, SYSTEM, name="x", scopes=[])
    analyst = Principal.for_user(1, "ana", Role.ANALYST)
    with pytest.raises(Forbidden), unit_of_work(sessions) as session:
        service.create_api_token(session, analyst, name="x", scopes=["case:view"])


def test_token_principal_expiry_revocation_and_last_use(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        plaintext, row = service.create_api_token(
            session,
            SYSTEM,
            name="withdrawals",
            scopes=["decision:request"],
            expires_at=T0 + timedelta(days=1),
            now=T0,
        )
    assert plaintext.startswith(f"rk_{row.prefix}_")
    assert row.token_hash not in plaintext
    with unit_of_work(sessions) as session:
        who = service.token_principal(session, plaintext, now=T0)
    assert who is not None
    assert (who.kind, who.name) == (PrincipalKind.TOKEN, "token:withdrawals")
    assert who.permissions == {Permission.DECISION_REQUEST}
    assert service.cached_token_principal(plaintext, now=T0) == who
    # last_used_at is written at most once a minute
    for seconds in (30, 61):
        service.TOKENS.clear()
        with unit_of_work(sessions) as session:
            service.token_principal(session, plaintext, now=T0 + timedelta(seconds=seconds))
        with sessions() as session:
            stored = session.get(ApiToken, row.id)
            assert stored is not None
            expected = T0 if seconds == 30 else T0 + timedelta(seconds=61)
            assert stored.last_used_at == expected
    with unit_of_work(sessions) as session:
        assert service.token_principal(session, plaintext, now=T0 + timedelta(days=2)) is None
        assert service.token_principal(session, "rk_nope_nope", now=T0) is None
    with unit_of_work(sessions) as session:
        assert service.token_principal(session, plaintext, now=T0) is not None
        service.revoke_token(session, SYSTEM, row.id, now=T0)
    assert service.cached_token_principal(plaintext, now=T0) is None
    with unit_of_work(sessions) as session:
        assert service.token_principal(session, plaintext, now=T0) is None
        assert [t.revoked_at for t in service.list_tokens(session, SYSTEM)] == [T0]

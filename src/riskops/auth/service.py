"""Auth use cases: users, logins with lockout, console sessions, scoped API tokens.

Every change checks the actor's permission here (not in the page) and appends to the audit
trail in the caller's transaction. One exception: a refused login is recorded in its own
short transaction, because the request's transaction rolls back with the 401 and the failure
counter (lockout) and the audit entry of the refusal must survive it.

Secrets are never stored: session and API tokens as their sha256, passwords as Argon2id.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.audit.service import record
from riskops.auth import passwords
from riskops.auth import repository as repo
from riskops.auth.models import ApiToken, LoginSession, User
from riskops.auth.permissions import (
    TOKEN_SCOPES,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    require,
)
from riskops.kernel.clock import utcnow
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Conflict, NotFound, Unauthorized, ValidationFailed

BAD_LOGIN = "wrong username or password"
TOKEN_PREFIX = "rk_"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_SESSION_TOUCH = timedelta(seconds=60)  # sliding expiry is written at most once a minute
_TOKEN_TOUCH = timedelta(seconds=60)  # last_used_at likewise


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS, None, "anonymous")


def user_principal(user: User) -> Principal:
    return Principal.for_user(user.id, user.username, user.role)


# --- users ----------------------------------------------------------------------------


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationFailed(
            f"unknown role {value!r}", details=[{"field": "$.role", "reason": f"one of {allowed}"}]
        ) from None


def create_user(
    session: Session,
    actor: Principal,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str,
    email: str | None = None,
    now: datetime | None = None,
) -> User:
    """Add a console user (needs ``user:manage``). Usernames are lower-cased."""
    require(actor, Permission.USER_MANAGE)
    name = username.strip().lower()
    problems = []
    if not _USERNAME.match(name):
        problems.append(
            {
                "field": "$.username",
                "reason": "2-64 characters: letters, digits, dot, dash, underscore or @",
            }
        )
    if not display_name.strip():
        problems.append({"field": "$.display_name", "reason": "is required"})
    if problems:
        raise ValidationFailed("invalid user", details=problems)
    passwords.check_policy(password)
    the_role = _role(role)
    if repo.user_by_username(session, name) is not None:
        raise Conflict(f"user {name!r} already exists")
    now = now or utcnow()
    user = User(
        username=name,
        display_name=display_name.strip(),
        email=(email or "").strip() or None,
        role=the_role,
        password_hash=passwords.hash_password(password),
        active=True,
        failed_logins=0,
        created_at=now,
    )
    repo.add(session, user)
    record(session, actor, "user.create", "user", name, {"role": the_role.value}, now=now)
    return user


def list_users(session: Session, actor: Principal) -> Sequence[User]:
    """Every user, by username (needs ``user:manage``)."""
    require(actor, Permission.USER_MANAGE)
    return repo.list_users(session)


def get_user(session: Session, user_id: int) -> User:
    user = repo.user_by_id(session, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def find_user(session: Session, username: str) -> User:
    """The user with this username (case-insensitive), or NotFound."""
    user = repo.user_by_username(session, username.strip().lower())
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def set_user_active(
    session: Session,
    actor: Principal,
    user_id: int,
    active: bool,
    *,
    now: datetime | None = None,
) -> User:
    """Disable (ends their sessions at once) or enable a user; enabling also unlocks."""
    require(actor, Permission.USER_MANAGE)
    user = get_user(session, user_id)
    if actor.kind is PrincipalKind.USER and actor.id == user.id and not active:
        raise Conflict("you cannot disable yourself; ask another administrator")
    now = now or utcnow()
    was_locked = user.locked_until is not None and user.locked_until > now
    if user.active == active and not (active and was_locked):
        return user
    user.active = active
    if active:
        user.failed_logins = 0
        user.locked_until = None
    else:
        repo.revoke_sessions_of(session, user.id, now)
    session.flush()
    action = "user.enable" if active else "user.disable"
    record(session, actor, action, "user", user.username, {"was_locked": was_locked}, now=now)
    return user


def change_role(
    session: Session,
    actor: Principal,
    user_id: int,
    role: Role | str,
    *,
    now: datetime | None = None,
) -> User:
    """Give a user another role; effective on their next request."""
    require(actor, Permission.USER_MANAGE)
    user = get_user(session, user_id)
    new = _role(role)
    if actor.kind is PrincipalKind.USER and actor.id == user.id:
        raise Conflict("you cannot change your own role; ask another administrator")
    if user.role is new:
        return user
    old, user.role = user.role, new
    session.flush()
    detail = {"from": old.value, "to": new.value}
    record(session, actor, "user.role_change", "user", user.username, detail, now=now)
    return user


def update_user(
    session: Session,
    actor: Principal,
    user_id: int,
    *,
    role: Role | str | None = None,
    active: bool | None = None,
    now: datetime | None = None,
) -> User:
    """Change a user's role and/or active flag (needs ``user:manage``)."""
    require(actor, Permission.USER_MANAGE)
    user = get_user(session, user_id)
    if active is not None:
        user = set_user_active(session, actor, user_id, active, now=now)
    if role is not None:
        user = change_role(session, actor, user_id, role, now=now)
    return user


# --- login ----------------------------------------------------------------------------


def _locked_message(until: datetime) -> str:
    return (
        f"account locked after too many failed logins; try again after {until:%Y-%m-%d %H:%M} "
        "UTC or ask an administrator to unlock it"
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> User:
    """The user whose password this is, or Unauthorized.

    Unknown user, wrong password and disabled user share one message. After
    ``login_max_failures`` failures in a row the account is locked for
    ``login_lockout_minutes``: then even the right password is refused, and the message says
    so. A success resets the counter and upgrades an outdated password hash.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    name = username.strip().lower()
    user = repo.user_by_username(session, name) if len(name) <= 64 else None
    if user is None:
        passwords.burn_time(password)
        _refused(session, name, None, "unknown_user", now, settings)
        raise Unauthorized(BAD_LOGIN)
    if user.locked_until is not None and user.locked_until > now:
        _refused(session, name, None, "locked", now, settings)
        raise Unauthorized(_locked_message(user.locked_until))
    if not passwords.verify(user.password_hash, password):
        locked_until = _refused(session, name, user.id, "wrong_password", now, settings)
        if locked_until is not None:
            raise Unauthorized(_locked_message(locked_until))
        raise Unauthorized(BAD_LOGIN)
    if not user.active:
        _refused(session, name, None, "disabled", now, settings)
        raise Unauthorized(BAD_LOGIN)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    record(session, user_principal(user), "auth.login", "user", name, now=now)
    return user


def _refused(
    session: Session,
    username: str,
    count_for: int | None,
    reason: str,
    now: datetime,
    settings: Settings,
) -> datetime | None:
    """Record a refused login (and count it against ``count_for``) in its own transaction;
    returns when the account is locked until, if this failure locked it."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):  # a session bound to a connection: stay inside it
        return _count_refusal(session, username, count_for, reason, now, settings)
    with unit_of_work(session_factory(bind)) as own:
        return _count_refusal(own, username, count_for, reason, now, settings)


def _count_refusal(
    session: Session,
    username: str,
    count_for: int | None,
    reason: str,
    now: datetime,
    settings: Settings,
) -> datetime | None:
    who = ANONYMOUS
    subject = username[:128]
    locked_until: datetime | None = None
    detail: dict[str, object] = {"reason": reason}
    user = repo.user_by_username(session, username, for_update=True) if count_for else None
    if user is not None:
        if user.locked_until is not None and user.locked_until <= now:
            user.failed_logins, user.locked_until = 0, None  # the last lock has run out
        user.failed_logins += 1
        detail["failures"] = user.failed_logins
        if user.failed_logins >= settings.login_max_failures:
            locked_until = user.locked_until = now + timedelta(
                minutes=settings.login_lockout_minutes
            )
        session.flush()
    record(session, who, "auth.login_failed", "user", subject, detail, now=now)
    if locked_until is not None:
        lock = {"until": locked_until.isoformat(), "failures": detail["failures"]}
        record(session, who, "auth.lockout", "user", subject, lock, now=now)
    return locked_until


# --- console sessions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a valid session cookie stands for."""

    principal: Principal
    csrf_token: str
    display_name: str


def start_session(
    session: Session,
    user: User,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[str, LoginSession]:
    """A new console session for an authenticated user: the token for the cookie (shown
    once; only its sha256 is stored) and the row, whose ``csrf_token`` pages must echo."""
    settings = settings or get_settings()
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        token_hash=_sha256(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_hours),
        last_seen_at=now,
    )
    repo.add(session, row)
    return token, row


def session_info(
    session: Session,
    token: str,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> SessionInfo | None:
    """The user behind a session cookie, or None when unknown, expired, revoked or the user
    is disabled. Each use pushes the expiry ``session_hours`` ahead (sliding)."""
    found = repo.session_with_user(session, _sha256(token)) if token else None
    if found is None:
        return None
    row, user = found
    now = now or utcnow()
    if row.revoked_at is not None or row.expires_at <= now or not user.active:
        return None
    if now - row.last_seen_at >= _SESSION_TOUCH:
        settings = settings or get_settings()
        repo.touch_session(
            session, row.token_hash, now, now + timedelta(hours=settings.session_hours)
        )
    return SessionInfo(user_principal(user), row.csrf_token, user.display_name)


def session_principal(
    session: Session,
    token: str,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[Principal, str] | None:
    """``(principal, csrf_token)`` of a valid session cookie, else None."""
    info = session_info(session, token, now=now, settings=settings)
    return None if info is None else (info.principal, info.csrf_token)


def end_session(session: Session, token: str, *, now: datetime | None = None) -> None:
    """Log out: the session token stops working at once."""
    found = repo.session_with_user(session, _sha256(token)) if token else None
    now = now or utcnow()
    if found is None or not repo.revoke_session(session, found[0].token_hash, now):
        return
    user = found[1]
    record(session, user_principal(user), "auth.logout", "user", user.username, now=now)


# --- API tokens -----------------------------------------------------------------------


class TokenCache:
    """Verified API tokens, in this process, for ``ttl`` seconds: the decision endpoint is
    a hot path and must not read the database on every call to know who is asking.

    A revocation in this process takes effect at once (``forget``); in another process it
    takes effect within ``ttl`` seconds. Keyed by the token's sha256, never the token.
    """

    def __init__(self, ttl: float = 30.0, max_items: int = 10_000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: dict[str, tuple[Principal, datetime | None, float]] = {}

    def get(self, token_hash: str, now: datetime) -> Principal | None:
        item = self._items.get(token_hash)
        if item is None:
            return None
        principal, expires_at, loaded = item
        if time.monotonic() - loaded > self.ttl or (expires_at is not None and expires_at <= now):
            self._items.pop(token_hash, None)
            return None
        return principal

    def put(self, token_hash: str, principal: Principal, expires_at: datetime | None) -> None:
        if len(self._items) >= self.max_items:
            self._items.clear()
        self._items[token_hash] = (principal, expires_at, time.monotonic())

    def forget(self, token_id: int) -> None:
        for key, (principal, _, _) in list(self._items.items()):
            if principal.id == token_id:
                self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


TOKENS = TokenCache()


def _check_scopes(scopes: Iterable[str]) -> list[str]:
    granted: list[str] = []
    allowed = {p.value for p in TOKEN_SCOPES}
    for i, scope in enumerate(scopes):
        if scope not in allowed:
            raise ValidationFailed(
                f"scope {scope!r} cannot be granted to an API token",
                details=[
                    {
                        "field": f"$.scopes[{i}]",
                        "reason": f"{scope!r} is not a token scope; one of "
                        + ", ".join(sorted(allowed)),
                    }
                ],
            )
        if scope not in granted:
            granted.append(scope)
    if not granted:
        raise ValidationFailed(
            "a token needs at least one scope",
            details=[{"field": "$.scopes", "reason": "at least one scope is required"}],
        )
    return granted


def create_api_token(
    session: Session,
    actor: Principal,
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[str, ApiToken]:
    """A scoped bearer token for one of the exchange's services (needs ``token:manage``).

    Returns ``rk_<prefix>_<secret>`` (shown once; only its sha256 is stored) and the row.
    """
    require(actor, Permission.TOKEN_MANAGE)
    now = now or utcnow()
    if not name.strip():
        raise ValidationFailed(
            "a token needs a name", details=[{"field": "$.name", "reason": "is required"}]
        )
    granted = _check_scopes(scopes)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
        raise ValidationFailed(
            "invalid expiry",
            details=[{"field": "$.expires_at", "reason": "a future time with a UTC offset"}],
        )
    prefix = secrets.token_hex(4)
    plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=name.strip()[:128],
        prefix=prefix,
        token_hash=_sha256(plaintext),
        scopes=granted,
        created_by=actor.name,
        created_at=now,
        expires_at=expires_at,
    )
    repo.add(session, token)
    detail = {"name": token.name, "scopes": granted, "prefix": prefix}
    record(session, actor, "token.create", "api_token", token.id, detail, now=now)
    return plaintext, token


def _principal_of(token: ApiToken) -> Principal:
    known = {p.value for p in Permission}
    scopes = frozenset(Permission(s) for s in token.scopes if s in known)
    return Principal(PrincipalKind.TOKEN, token.id, f"token:{token.name}", None, scopes)


def cached_token_principal(plaintext: str, *, now: datetime | None = None) -> Principal | None:
    """The principal of a token verified in the last few seconds, without the database."""
    return TOKENS.get(_sha256(plaintext), now or utcnow())


def token_principal(
    session: Session, plaintext: str, *, now: datetime | None = None
) -> Principal | None:
    """The principal of a valid API token; None when unknown, expired or revoked."""
    now = now or utcnow()
    token_hash = _sha256(plaintext)
    cached = TOKENS.get(token_hash, now)
    if cached is not None:
        return cached
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    token = repo.token_by_hash(session, token_hash)
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at >= _TOKEN_TOUCH:
        repo.touch_token(session, token.id, now)
    principal = _principal_of(token)
    TOKENS.put(token_hash, principal, token.expires_at)
    return principal


def list_tokens(session: Session, actor: Principal) -> Sequence[ApiToken]:
    """Every API token (never its secret), oldest first (needs ``token:manage``)."""
    require(actor, Permission.TOKEN_MANAGE)
    return repo.list_tokens(session)


def revoke_token(
    session: Session, actor: Principal, token_id: int, *, now: datetime | None = None
) -> ApiToken:
    """Revoke a token: refused at once in this process, within 30 s in others."""
    require(actor, Permission.TOKEN_MANAGE)
    token = repo.token_by_id(session, token_id)
    if token is None:
        raise NotFound(f"API token {token_id} not found")
    TOKENS.forget(token_id)
    if token.revoked_at is None:
        now = now or utcnow()
        token.revoked_at = now
        session.flush()
        record(session, actor, "token.revoke", "api_token", token.id, {"name": token.name}, now=now)
    return token

"""SQL of the auth package: users, login sessions and API tokens. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from riskops.auth.models import ApiToken, LoginSession, User


def add(session: Session, row: User | LoginSession | ApiToken) -> None:
    session.add(row)
    session.flush()


# --- users ----------------------------------------------------------------------------


def user_by_username(session: Session, username: str, *, for_update: bool = False) -> User | None:
    stmt = select(User).where(User.username == username)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


# --- login sessions -------------------------------------------------------------------


def session_with_user(session: Session, token_hash: str) -> tuple[LoginSession, User] | None:
    stmt = (
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == token_hash)
    )
    row = session.execute(stmt).one_or_none()
    return None if row is None else (row[0], row[1])


def touch_session(session: Session, token_hash: str, now: datetime, expires_at: datetime) -> None:
    session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash)
        .values(last_seen_at=now, expires_at=expires_at)
    )


def revoke_session(session: Session, token_hash: str, now: datetime) -> bool:
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_sessions_of(session: Session, user_id: int, now: datetime) -> int:
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- API tokens -----------------------------------------------------------------------


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one_or_none()


def token_by_id(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def list_tokens(session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def touch_token(session: Session, token_id: int, now: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))

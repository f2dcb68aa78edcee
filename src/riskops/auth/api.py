"""HTTP API of auth and audit: login/logout, users, API tokens, the audit trail.

Endpoints parse, call one service function and return; the permission checks are in the
services. Nothing here is a hot path, so bodies are pydantic models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, Field, JsonValue

from riskops.audit import service as audit
from riskops.audit.models import AuditEntry
from riskops.auth import service
from riskops.auth.http import (
    SESSION_COOKIE,
    CurrentContext,
    CurrentPrincipal,
    clear_session_cookie,
    set_session_cookie,
)
from riskops.auth.models import ApiToken, User
from riskops.auth.permissions import TOKEN_SCOPES, Role
from riskops.http.deps import DbSession, container
from riskops.http.openapi import errors, rules
from riskops.http.params import BeforeId, Limit, Name, RowIdPath, ShortText

router = APIRouter(prefix="/v1", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(max_length=256)
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    email: str | None
    role: Role
    active: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class MeOut(BaseModel):
    kind: str
    id: int | None  # the user's (or token's) id; none for riskops itself
    name: str
    display_name: str
    role: Role | None
    permissions: list[str]
    csrf_token: str | None


class UserIn(BaseModel):
    username: Name
    password: str = Field(min_length=12, max_length=1024)
    role: Role
    display_name: Name
    email: ShortText | None = None


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None


_SCOPE_NAMES: list[JsonValue] = [str(scope) for scope in sorted(TOKEN_SCOPES)]


class TokenIn(BaseModel):
    name: Name
    scopes: list[Name] = Field(
        min_length=1,
        max_length=64,
        # What the service accepts (riskops.auth.permissions.TOKEN_SCOPES), documented.
        json_schema_extra={"items": {"type": "string", "enum": _SCOPE_NAMES}},
    )
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="the bearer token; shown this once, never again")


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    subject_type: str
    subject_id: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before_id: int | None = Field(description="pass as before_id for the next page")


def _user(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def _token(token: ApiToken) -> TokenOut:
    return TokenOut.model_validate(token, from_attributes=True)


@router.post("/auth/login", response_model=LoginOut, responses=errors(401))
def login(body: LoginIn, request: Request, response: Response, db: DbSession) -> LoginOut:
    """Log in with username and password: sets the ``riskops_session`` cookie and returns the
    CSRF token that cookie-authenticated changes must send as ``X-CSRF-Token``."""
    settings = container(request).settings
    user = service.authenticate(db, body.username, body.password, settings=settings)
    token, row = service.start_session(db, user, settings=settings)
    set_session_cookie(response, token, secure=settings.cookie_secure)
    return LoginOut(user=_user(user), csrf_token=row.csrf_token)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, db: DbSession, _who: CurrentPrincipal) -> Response:
    """End the cookie session (the cookie stops working at once)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(db, token)
    response = Response(status_code=204)
    clear_session_cookie(response)
    return response


@router.get("/auth/me", response_model=MeOut)
def me(context: CurrentContext) -> MeOut:
    """Who is asking, with their permissions (and the CSRF token of a cookie session)."""
    p = context.principal
    return MeOut(
        kind=str(p.kind),
        id=p.id,
        name=p.name,
        display_name=context.user_display_name,
        role=p.role,
        permissions=sorted(str(x) for x in p.permissions),
        csrf_token=context.csrf_token or None,
    )


@router.get("/users", response_model=list[UserOut])
def list_users(db: DbSession, who: CurrentPrincipal) -> list[UserOut]:
    """Every console user (needs ``user:manage``)."""
    return [_user(u) for u in service.list_users(db, who)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    responses=errors(409),
    openapi_extra=rules(
        ("$.username", "2-64 characters: letters, digits, dot, dash, underscore or @"),
        ("$.display_name", "not blank"),
    ),
)
def create_user(body: UserIn, db: DbSession, who: CurrentPrincipal) -> UserOut:
    """Add a console user; the password needs at least 12 characters."""
    user = service.create_user(
        db,
        who,
        username=body.username,
        password=body.password,
        role=body.role,
        display_name=body.display_name,
        email=body.email,
    )
    return _user(user)


@router.patch("/users/{user_id}", response_model=UserOut, responses=errors(409))
def update_user(
    user_id: RowIdPath, body: UserPatch, db: DbSession, who: CurrentPrincipal
) -> UserOut:
    """Change a user's role and/or disable or enable them (enabling also unlocks)."""
    return _user(service.update_user(db, who, user_id, role=body.role, active=body.active))


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(db: DbSession, who: CurrentPrincipal) -> list[TokenOut]:
    """Every API token, without its secret (needs ``token:manage``)."""
    return [_token(t) for t in service.list_tokens(db, who)]


@router.post(
    "/tokens",
    response_model=TokenCreatedOut,
    status_code=201,
    openapi_extra=rules(("$.expires_at", "in the future, with a UTC offset")),
)
def create_token(body: TokenIn, db: DbSession, who: CurrentPrincipal) -> TokenCreatedOut:
    """Create a scoped API token; the response carries the token once."""
    plaintext, token = service.create_api_token(
        db, who, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    return TokenCreatedOut(**_token(token).model_dump(), token=plaintext)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: RowIdPath, db: DbSession, who: CurrentPrincipal) -> TokenOut:
    """Revoke an API token (idempotent)."""
    return _token(service.revoke_token(db, who, token_id))


@router.get("/audit", response_model=AuditPage, tags=["audit"])
def audit_trail(
    db: DbSession,
    who: CurrentPrincipal,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor: str | None = None,
    limit: Limit = 100,
    before_id: BeforeId = None,
) -> AuditPage:
    """The audit trail, newest first (needs ``audit:view``); page with ``before_id``."""
    entries = audit.trail(
        db,
        who,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        limit=limit,
        before_id=before_id,
    )
    items = [_entry(e) for e in entries]
    return AuditPage(items=items, next_before_id=items[-1].id if len(items) == limit else None)


def _entry(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut.model_validate(entry, from_attributes=True)


def include(app: FastAPI) -> None:
    """Mount the auth and audit routes on the app."""
    app.include_router(router)

"""Who is asking: the session cookie of the console or an API token, and the CSRF check.

- JSON API endpoints take ``CurrentPrincipal``: no credentials is a 401 JSON error.
- HTML pages take ``ConsoleUser``: not logged in raises ``LoginRequired``, which the app
  turns into a 303 redirect to ``/login?next=<path>``; the context carries the CSRF token
  for the page's forms (``<input type="hidden" name="csrf_token" value="...">``).

A request authenticated by the cookie that changes something (POST, PUT, PATCH, DELETE)
must echo the session's CSRF token in the ``X-CSRF-Token`` header or a ``csrf_token`` form
field (synchroniser token). A bearer token is not sent by the browser on its own, so
bearer requests need none. The form is read with ``await request.form()``, which Starlette
caches on the request, so endpoints with ``Form(...)`` parameters still get their fields.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response, Security
from fastapi.security import APIKeyCookie, HTTPBearer
from starlette.concurrency import run_in_threadpool

from riskops.auth import service
from riskops.auth.permissions import Permission, Principal, require
from riskops.http.deps import AppState, container
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Forbidden, Unauthorized

SESSION_COOKIE = "riskops_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Declared for the OpenAPI document (the "Authorize" button of /docs); the values are read
# from the request below, so these never refuse anything themselves.
_BEARER = HTTPBearer(auto_error=False, description="API token: `rk_<prefix>_<secret>`")
_COOKIE = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="console session (send X-CSRF-Token)"
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    """Who is asking, the CSRF token their forms must carry ("" for a bearer token), and the
    name to greet them by."""

    principal: Principal
    csrf_token: str
    user_display_name: str
    via_cookie: bool = False


class LoginRequired(Exception):  # a signal to redirect to the login page, not a failure
    """A console page was asked for without a valid session; carries where to come back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def login_redirect_url(next_path: str) -> str:
    """``/login?next=...`` for a page the visitor should return to after logging in."""
    return "/login?next=" + quote(safe_next(next_path), safe="/")


def safe_next(next_path: str | None, default: str = "/") -> str:
    """A local path to go to after login; anything else (another site) becomes ``default``."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//"):
        return default
    if "\\" in next_path or any(ord(c) < 32 for c in next_path):
        return default
    return next_path


def set_session_cookie(response: Response, token: str, *, secure: bool | None = None) -> None:
    """Give the browser the session token: HttpOnly, SameSite=Lax, Secure when configured
    (``RISKOPS_COOKIE_SECURE``). A browser-session cookie; the server enforces expiry."""
    if secure is None:
        from riskops.kernel.config import get_settings

        secure = get_settings().cookie_secure
    response.set_cookie(
        SESSION_COOKIE, token, path="/", httponly=True, samesite="lax", secure=secure
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def _token_lookup(box: AppState, token: str) -> Principal | None:
    with unit_of_work(box.sessions) as session:
        return service.token_principal(session, token)


def _session_lookup(box: AppState, token: str) -> service.SessionInfo | None:
    with unit_of_work(box.sessions) as session:
        return service.session_info(session, token, settings=box.settings)


async def _identify(request: Request) -> ConsoleContext | None:
    """The caller's identity (cached on the request), or None when nothing was presented or
    the session cookie is no longer valid. A bad bearer token is a 401 at once."""
    if hasattr(request.state, "riskops_auth"):
        known: ConsoleContext | None = request.state.riskops_auth
        return known
    box = container(request)
    found: ConsoleContext | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("malformed Authorization header; send `Bearer <api token>`")
        principal = service.cached_token_principal(token)
        if principal is None:
            principal = await run_in_threadpool(_token_lookup, box, token)
        if principal is None:
            raise Unauthorized("API token unknown, expired or revoked")
        found = ConsoleContext(principal, "", principal.name)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        info = await run_in_threadpool(_session_lookup, box, cookie)
        if info is not None:
            found = ConsoleContext(info.principal, info.csrf_token, info.display_name, True)
    request.state.riskops_auth = found
    return found


async def check_csrf(request: Request, context: ConsoleContext) -> None:
    """Refuse a cookie-authenticated change that does not echo the session's CSRF token."""
    if not context.via_cookie or request.method in _SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, context.csrf_token):
        raise Forbidden("CSRF token missing or wrong")


async def authenticated(request: Request) -> ConsoleContext:
    """The authenticated caller (401 when none), CSRF-checked."""
    context = await _identify(request)
    if context is None:
        raise Unauthorized(
            "not logged in: log in (POST /v1/auth/login) or send `Authorization: Bearer <token>`"
        )
    await check_csrf(request, context)
    return context


async def authorize(request: Request, permission: Permission) -> Principal:
    """What ``requires(permission)`` checks, for code outside FastAPI's dependencies: the
    caller, authenticated (401), CSRF-checked, and refused (403) without ``permission``."""
    principal = (await authenticated(request)).principal
    require(principal, permission)
    return principal


async def current_context(
    request: Request,
    _bearer: Any = Security(_BEARER),
    _cookie: Any = Security(_COOKIE),
) -> ConsoleContext:
    """Dependency: the authenticated caller (401 when none), CSRF-checked."""
    return await authenticated(request)


async def current_principal(
    context: Annotated[ConsoleContext, Depends(current_context)],
) -> Principal:
    """Dependency: who is asking (401 when nobody is), CSRF-checked for cookie sessions."""
    return context.principal


async def console_context(request: Request) -> ConsoleContext:
    """Dependency for HTML pages: like ``current_context`` but redirects to the login page."""
    context = await _identify(request)
    if context is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    await check_csrf(request, context)
    return context


def requires(permission: Permission) -> Any:
    """Dependency: the caller, refused (403) unless they hold ``permission``. For endpoints
    that only read through a repository; a service that changes something checks itself.
    Use as ``who: Principal = requires(Permission.CASE_VIEW)``."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        require(principal, permission)
        return principal

    return Depends(check)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentContext = Annotated[ConsoleContext, Depends(current_context)]
ConsoleUser = Annotated[ConsoleContext, Depends(console_context)]

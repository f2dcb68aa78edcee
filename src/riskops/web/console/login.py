"""Logging in and out of the console."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from riskops.auth import service as auth
from riskops.auth.http import (
    SESSION_COOKIE,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from riskops.http.deps import DbSession
from riskops.kernel.errors import Unauthorized
from riskops.web.console.routing import ConsoleRoute, PageUser
from riskops.web.console.templating import render
from riskops.web.deps import container

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    """The login form."""
    return render(request, "login.html", {"next": safe_next(next), "user": None})


@router.post("/login")
def login(
    request: Request,
    db: DbSession,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password, start a session and go where the user was heading."""
    settings = container(request).settings
    try:
        user = auth.authenticate(db, username, password, settings=settings)
    except Unauthorized as exc:
        context = {"error": exc.message, "username": username, "next": safe_next(next)}
        return render(request, "login.html", {**context, "user": None}, status_code=401)
    token, _ = auth.start_session(db, user, settings=settings)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, token, secure=settings.cookie_secure)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, _user: PageUser) -> Response:
    """End the session (the cookie stops working at once) and show the login page."""
    auth.end_session(db, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response

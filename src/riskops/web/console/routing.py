"""What every console route shares: the logged-in page user, and errors rendered as pages.

Console routes use ``ConsoleRoute``: a typed ``RiskopsError`` (403, 404, 409, 422, ...) becomes
a friendly HTML page, or, for an htmx request, a message in the page's flash area; anything
unexpected is logged and shown as a plain 500 page. A user never sees a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from riskops.auth.http import ConsoleContext, ConsoleUser, LoginRequired, login_redirect_url
from riskops.auth.refusals import audit_refusal
from riskops.kernel.errors import RiskopsError, ValidationFailed
from riskops.kernel.logging import get_logger
from riskops.web.console.templating import render, templates

log = get_logger(__name__)

HEADINGS = {
    400: "That request did not make sense",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    409: "That changed meanwhile",
    413: "Too large",
    422: "Please check the form",
    500: "Something went wrong",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def error_response(request: Request, exc: RiskopsError) -> Response:
    """The page (or, for htmx, the flash message) that shows a typed error."""
    status = exc.status_code
    if is_htmx(request):
        html = templates.get_template("console/_flash.html").render(
            kind="error", message=exc.message, details=exc.details
        )
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return HTMLResponse(html, status_code=status, headers=headers)
    context = {
        "heading": HEADINGS.get(status, "Something went wrong"),
        "message": exc.message,
        "details": exc.details if isinstance(exc.details, list) else None,
        "status_code": status,
    }
    return render(request, "error.html", context, status_code=status)


def login_response(request: Request, exc: LoginRequired) -> Response:
    url = login_redirect_url(exc.next_path)
    if is_htmx(request):  # a swapped fragment must not become the login page
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


class ConsoleRoute(APIRoute):
    """An APIRoute whose errors are rendered as console pages instead of JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_response(request, exc)
            except RiskopsError as exc:
                await audit_refusal(request, exc)
                return error_response(request, exc)
            except RequestValidationError as exc:
                details = [
                    {"field": ".".join(str(p) for p in e["loc"][1:]), "reason": e["msg"]}
                    for e in exc.errors()
                ]
                problem = ValidationFailed("some values are not valid", details=details)
                return error_response(request, problem)
            except Exception:
                log.exception("console.unhandled_error", path=request.url.path)
                return error_response(request, RiskopsError("the error was logged; try again"))

        return route


async def _page_user(request: Request, context: ConsoleUser) -> ConsoleContext:
    """The logged-in user, also put where ``render`` finds it (name, role, CSRF token)."""
    request.state.console_user = context.principal
    request.state.csrf_token = context.csrf_token
    request.state.display_name = context.user_display_name
    return context


PageUser = Annotated[ConsoleContext, Depends(_page_user)]


def see_other(url: str, request: Request | None = None) -> Response:
    """After a successful POST: go to ``url`` (an htmx request gets a full page load)."""
    if request is not None and is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""

"""The URL of every request, bounded before any route sees it (ADR 0015).

A path or query parameter is compared with stored text (an account id, a queue key, a
search): a NUL in it makes PostgreSQL refuse the query (a 500), and no stored text holds a
control character (``riskops.kernel.bounds``). So a request whose path or query carries one,
or whose query is not UTF-8, is answered 400 here, with the parameter named, for every route
at once, present and future.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from riskops.http.bodies import error_response
from riskops.kernel.bounds import text_problem
from riskops.kernel.errors import BadRequest


def url_problems(path: str, query: bytes) -> list[dict[str, str]]:
    """``{field, reason}`` for every part of a request's URL that no route may receive."""
    problems = []
    reason = text_problem(path)
    if reason is not None:
        problems.append({"field": "path", "reason": reason})
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return [*problems, {"field": "query", "reason": "not UTF-8"}]
    for name, value in pairs:
        for text in (name, value):
            reason = text_problem(text)
            if reason is not None:
                problems.append({"field": f"query.{name[:64]}", "reason": reason})
                break
    return problems


class UrlGuard:
    """ASGI middleware: 400 for a request whose URL ``url_problems`` refuses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problems = url_problems(scope["path"], scope.get("query_string", b""))
            if problems:
                error = BadRequest("invalid request URL", details=problems)
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

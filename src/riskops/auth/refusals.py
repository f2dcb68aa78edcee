"""Refused attempts go into the audit trail, whatever refused them and wherever.

A refusal (``Forbidden``, 403: a missing permission, a wrong CSRF token, four-eyes) rolls
the request's own transaction back, so its audit entry cannot ride in it. Each error
renderer (the JSON API's, the console's, the decision lane's) calls ``audit_refusal``
before answering; it writes the entry in a short transaction of its own. ADR 0020.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from riskops.audit import service as audit
from riskops.auth.permissions import Principal
from riskops.http.deps import container
from riskops.kernel.db import unit_of_work
from riskops.kernel.errors import Forbidden, RiskopsError
from riskops.kernel.logging import get_logger

log = get_logger(__name__)


def route_of(request: Request) -> str:
    """``METHOD /path/{template}``: the route as declared, so refusals of one route group
    together; the concrete path goes into the entry's detail."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return f"{request.method} {path}"


async def audit_refusal(request: Request, exc: RiskopsError) -> None:
    """Record ``exc`` when it is a refusal: who asked (the authenticated caller, else
    ``anonymous``), the route, the permission it needed and why it was refused.

    An audit trail that cannot be written must not turn a 403 into a 500: the failure is
    logged and the refusal is answered anyway.
    """
    if not isinstance(exc, Forbidden):
        return
    context = getattr(request.state, "riskops_auth", None)
    actor: Principal | None = context.principal if context is not None else None
    detail = {"path": request.url.path}
    sessions = container(request).sessions
    try:
        await run_in_threadpool(_write, sessions, actor, route_of(request), exc, detail)
    except SQLAlchemyError as failure:
        log.error("refusal_not_audited", route=route_of(request), error=type(failure).__name__)


def _write(
    sessions: sessionmaker[Session],
    actor: Principal | None,
    route: str,
    exc: Forbidden,
    detail: dict[str, str],
) -> None:
    with unit_of_work(sessions) as session:
        audit.record_refusal(session, actor, route, exc, detail)

"""The FastAPI application: JSON API routers under /v1, health probes, one error renderer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from riskops import __version__
from riskops.auth.http import LoginRequired, login_redirect_url
from riskops.auth.refusals import audit_refusal
from riskops.http import openapi
from riskops.http.bodies import error_response
from riskops.http.security import SecurityHeaders
from riskops.kernel.errors import RiskopsError
from riskops.kernel.logging import configure_logging
from riskops.monitor.health import Readiness
from riskops.web import docs, metrics
from riskops.web.deps import Container
from riskops.web.guard import UrlGuard
from riskops.web.query import single_valued_query

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def create_app(container: Container | None = None, *, start_background: bool = True) -> FastAPI:
    """Build the app around a container of wired dependencies (engine, monitor runtime...).
    Without one (``uvicorn riskops.web.app:create_app --factory``), from the settings, with
    logging configured from them as ``riskops serve`` does (levels, and lines on stderr)."""
    if container is None:
        configure_logging()
        container = Container.from_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_background:
            await container.start()
        try:
            yield
        finally:
            await container.stop()

    app = FastAPI(
        title="riskops",
        version=__version__,
        description="Risk operations for crypto exchanges: events in, decisions out.",
        lifespan=lifespan,
        # A scalar query parameter sent twice is refused, not read as its last value.
        dependencies=[Depends(single_valued_query)],
        # /docs is served from vendored assets (riskops.web.docs), not FastAPI's CDN page.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.container = container

    @app.exception_handler(RiskopsError)
    async def _riskops_error(request: Request, exc: RiskopsError) -> Response:
        await audit_refusal(request, exc)  # a 403 is audited in a transaction of its own
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's and FastAPI's own refusals (no such route, method not allowed, a body
        # that cannot be parsed) answer in the one error shape too, not ``{"detail": ...}``.
        body = {"error": _HTTP_CODES.get(exc.status_code, "error"), "message": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(login_redirect_url(exc.next_path), status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": "$." + ".".join(str(p) for p in err["loc"][1:]), "reason": err["msg"]}
            for err in exc.errors()
        ]
        body = {"error": "validation_failed", "message": "invalid request", "details": details}
        return JSONResponse(body, status_code=422)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    readiness = {"application/json": {"schema": openapi.schema_of(Readiness)}}

    @app.get(
        "/readyz",
        tags=["health"],
        response_class=JSONResponse,
        responses={
            200: {"description": "Ready: the monitor keeps up.", "content": readiness},
            503: {
                "description": "The database does not answer, or the monitor stalled.",
                "content": readiness,
            },
        },
    )
    def readyz() -> JSONResponse:
        """Readiness: the database answers and the monitor keeps up.

        Reports the monitor's lag (events in the log not yet decided), the seconds since
        it last made progress, its last error (type and time) and how many events it
        quarantined. 503 when the database does not answer, or when the monitor is
        stalled: events wait and it made no progress for ``RISKOPS_MONITOR_STALL_SECONDS``.
        No login; no personal data.
        """
        from riskops.kernel.clock import utcnow
        from riskops.monitor.health import monitor_health

        if getattr(app.state, "cluster", False):  # serve --bus nats: the partitions (ADR 0041)
            return _cluster_readyz(container)
        runtime = container.started_runtime
        try:
            with container.sessions() as session:
                health = monitor_health(
                    session,
                    stall_seconds=container.settings.monitor_stall_seconds,
                    now=utcnow(),
                    last_error=runtime.last_error if runtime is not None else None,
                )
        except Exception as exc:
            down = Readiness("unavailable", reason=type(exc).__name__)
            return JSONResponse(msgspec.to_builtins(down), 503)
        body = Readiness("stalled" if health.stalled else "ready", monitor=health)
        return JSONResponse(msgspec.to_builtins(body), 503 if health.stalled else 200)

    for include in _routers():
        include(app)
    metrics.include(app, container)
    openapi.install(app)
    docs.include(app)
    # Every URL bounded before any route (ADR 0015); inside the headers, outside the rest.
    app.add_middleware(UrlGuard)
    # Added last, so outermost: it wraps the decision lane and every error answer too.
    app.add_middleware(SecurityHeaders)
    return app


def _routers() -> list[Callable[[FastAPI], Any]]:
    """Each domain's ``api.include(app)``; listed here, the one place routes are wired."""
    from riskops.accounts import api as accounts_api
    from riskops.accounts import risk_api
    from riskops.auth import api as auth_api
    from riskops.cases import api as cases_api
    from riskops.contact import api as contact_api
    from riskops.events import api as events_api
    from riskops.intake import api as intake_api
    from riskops.intel import api as intel_api
    from riskops.investigation import api as investigation_api
    from riskops.links import api as links_api
    from riskops.monitor import api as monitor_api
    from riskops.outbound import api as outbound_api
    from riskops.qa import api as qa_api
    from riskops.reports import api as reports_api
    from riskops.sar import api as sar_api
    from riskops.screening import api as screening_api
    from riskops.web import console

    return [
        events_api.include,
        monitor_api.include,
        accounts_api.include,
        risk_api.include,
        auth_api.include,
        cases_api.include,
        intake_api.include,
        links_api.include,
        screening_api.include,
        intel_api.include,
        investigation_api.include,
        qa_api.include,
        outbound_api.include,
        reports_api.include,
        sar_api.include,
        contact_api.include,
        console.include,
    ]


def _cluster_readyz(container: Container) -> JSONResponse:
    """``/readyz`` of a routed API process: each partition has a living owner and none lags
    too far (``riskops.cluster.status.readiness``); 503 otherwise, or when the database does
    not answer."""
    from riskops.cluster.status import readiness
    from riskops.kernel.clock import utcnow

    try:
        with container.sessions() as session:
            found = readiness(
                session, container.settings.nats_url, container.settings.nats_stream, utcnow()
            )
    except Exception as exc:
        down = Readiness("unavailable", reason=type(exc).__name__)
        return JSONResponse(msgspec.to_builtins(down), 503)
    return JSONResponse(msgspec.to_builtins(found), 200 if found.ready else 503)

"""Commands of the ``web`` package: ``riskops serve``."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import typer

from riskops.kernel.config import Settings
from riskops.kernel.logging import get_logger

if TYPE_CHECKING:
    from fastapi import FastAPI

    from riskops.monitor.api import Decider
    from riskops.web.followers import FollowersProcess

log = get_logger(__name__)
DEFAULT_PARTITIONS = 8  # as `riskops publish` and riskops.events.nats.publish


class Bus(enum.StrEnum):
    """Where ``POST /v1/decisions`` is decided."""

    EMBEDDED = "embedded"  # by this process's monitor, which tails the event log
    NATS = "nats"  # by the worker that owns the account's partition, over NATS


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="interface to listen on"),
        port: int = typer.Option(8000, help="TCP port"),
        log_level: str = typer.Option("warning", help="uvicorn log level"),
        bus: Bus = typer.Option(
            Bus.EMBEDDED,
            help="embedded: this process decides; nats: each decision goes to the worker "
            "owning the account's partition (riskops worker --bus nats --partition I/N)",
        ),
        partitions: int = typer.Option(
            DEFAULT_PARTITIONS,
            min=1,
            max=4096,
            help="with --bus nats: N, the partitions the publisher and the workers use",
        ),
    ) -> None:
        """Serve the HTTP API (OpenAPI at /openapi.json and /docs, /healthz, /readyz).

        One process owns the monitor state: it tails the event log in the background and
        answers POST /v1/decisions synchronously. Its child process runs the log followers
        (linked accounts, screening, account profiles and ratings), case intake and
        housekeeping, and ends with it; RISKOPS_SERVE_FOLLOWERS=false starts none (a
        `riskops worker` beside it runs them). Configure with RISKOPS_* variables.

        With --bus nats this process runs no monitor and no followers (the partition
        workers do): POST /v1/decisions is authenticated and validated here, then sent over
        NATS (RISKOPS_NATS_URL, RISKOPS_NATS_SUBJECT) to the owner of the account, which
        answers with its decision; if none answers within RISKOPS_DECISION_TIMEOUT_MS, the
        answer is RISKOPS_DECISION_FAILSAFE (hold by default), saying so, and the event is
        queued on the stream for the owner (ADR 0042).
        """
        import uvicorn

        from riskops.kernel.config import get_settings
        from riskops.kernel.logging import uvicorn_log_config

        settings = get_settings()
        if bus is Bus.NATS:
            if (problem := _unreachable(settings.nats_url)) is not None:
                typer.echo(f"error: NATS at {settings.nats_url}: {problem}", err=True)
                raise typer.Exit(1)
            try:
                served = routed_app(settings, partitions)
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
        else:
            from riskops.web.app import create_app

            served = create_app()
        mode = f"; decisions routed over NATS to {partitions} partitions" if bus is Bus.NATS else ""
        typer.echo(f"riskops API on http://{host}:{port}  (docs: /docs{mode})")
        uvicorn.run(
            served, host=host, port=port, log_level=log_level, log_config=uvicorn_log_config()
        )


def decision_settings(settings: Settings) -> tuple[float, str]:
    """(timeout in seconds, fail-safe decision) of routed decisions:
    ``RISKOPS_DECISION_TIMEOUT_MS`` (250) and ``RISKOPS_DECISION_FAILSAFE`` (hold)."""
    return settings.decision_timeout_ms / 1000, settings.decision_failsafe


def routed_app(
    settings: Settings,
    partitions: int,
    *,
    timeout_s: float | None = None,
    failsafe: str | None = None,
) -> FastAPI:
    """The API whose decisions go to the owners over NATS: no monitor tail here (the
    partition workers own the state); the NATS connection lives with the app. With
    ``RISKOPS_SERVE_FOLLOWERS`` on (it should be on ONE API process of a deployment) the
    followers' child runs beside it as in the embedded setup (ADR 0029)."""
    from riskops.cluster.routing import RoutedDecider
    from riskops.web.app import create_app
    from riskops.web.deps import Container

    default_timeout, default_failsafe = decision_settings(settings)
    timeout_s = default_timeout if timeout_s is None else timeout_s
    failsafe = default_failsafe if failsafe is None else failsafe

    @asynccontextmanager
    async def routed(_app: FastAPI) -> AsyncIterator[RoutedDecider]:
        import nats

        closing = asyncio.Event()  # a disconnection then is ours: not worth a warning

        async def disconnected() -> None:
            if not closing.is_set():
                log.warning("routing.nats_disconnected")

        async def reconnected() -> None:
            log.info("routing.nats_reconnected")

        # Never gives up reconnecting: while NATS is away every decision is the fail-safe.
        nc = await nats.connect(
            settings.nats_url,
            name="riskops-api",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=_nats_error,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
        )
        followers = _followers(settings)
        try:
            if followers is not None:
                await followers.start()
            yield RoutedDecider(nc, settings.nats_subject, partitions, timeout_s, failsafe)
        finally:
            if followers is not None:
                await followers.stop()
            closing.set()
            await nc.drain()

    RoutedDecider.check(partitions, timeout_s, failsafe)  # refused now, not at start-up
    app = create_app(Container.from_settings(settings), start_background=False)
    with_decider(app, routed)
    app.state.cluster = True  # /readyz reports the partitions, not a local monitor
    return app


def _followers(settings: Settings) -> FollowersProcess | None:
    """The followers' child of a routed API process, when it is to run one (as
    ``Container._child_followers`` decides for the embedded one)."""
    from riskops.web.followers import FollowersProcess, shareable

    periods = (settings.intake_poll_seconds, settings.housekeeping_seconds)
    wanted = settings.serve_followers and any(p > 0 for p in periods)
    if not wanted or not shareable(settings.sqlalchemy_url):
        return None
    return FollowersProcess(settings, cluster=True)


async def _nats_error(exc: Exception) -> None:
    log.warning("routing.nats_error", error=type(exc).__name__)


def _unreachable(url: str) -> str | None:
    """Why no NATS server answers at ``url`` (the first of a list), or None: a clear line
    before the server starts, instead of a client retrying in the background."""
    import socket
    from urllib.parse import urlparse

    first = urlparse(url.split(",")[0].strip())
    try:
        with socket.create_connection((first.hostname or "127.0.0.1", first.port or 4222), 2) as s:
            s.settimeout(2)
            if not s.recv(5).startswith(b"INFO"):
                return "the server there is not a NATS server"
    except OSError as exc:
        return f"no NATS server answers ({exc})"
    return None


def with_decider(
    app: FastAPI, make: Callable[[FastAPI], AbstractAsyncContextManager[Decider]]
) -> None:
    """Run ``make(app)`` (an async context manager of a ``Decider``) with the app: entered
    before its start, its decider in ``app.state`` for ``POST /v1/decisions``, left after
    its stop."""
    from riskops.monitor.api import DECIDER

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[Any]:  # the app's own state
        async with make(app_) as decider:
            setattr(app_.state, DECIDER, decider)
            try:
                async with inner(app_) as state:
                    yield state
            finally:
                delattr(app_.state, DECIDER)

    app.router.lifespan_context = lifespan

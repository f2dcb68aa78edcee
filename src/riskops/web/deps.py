"""The composition's container: the app state of ``riskops.http.deps`` plus what this
process runs (the monitor runtime, case housekeeping, the intake outbox's delivery), or the
child process it starts to run the log followers and the case passes (ADR 0029)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy.engine import Engine

from riskops.http.deps import AppState
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database

if TYPE_CHECKING:
    from riskops.monitor.runtime import MonitorRuntime
    from riskops.screening.addresses import ListedAddressBook
    from riskops.web.followers import FollowersProcess


class Container(AppState):
    """What the app needs, built once: settings, engine, sessions, the monitor runtime and
    the background tasks this process runs."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        runtime: MonitorRuntime | None = None,
        *,
        served: bool = False,
    ):
        """``served``: this is a server's own process (``riskops serve``, uvicorn's factory),
        so its followers run in a child process and the intelligence data is warmed at
        start; a container built around a test's engine runs them as tasks of its own."""
        super().__init__(settings, engine)
        self._runtime = runtime
        self._served = served
        self._stopping: asyncio.Event | None = None
        self._listed: ListedAddressBook | None = None  # the listed addresses' refresher
        self._tasks: list[asyncio.Task[None]] = []
        self._followers: FollowersProcess | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Container:
        settings = settings or get_settings()
        return cls(settings, open_database(settings.sqlalchemy_url), served=True)

    @property
    def runtime(self) -> MonitorRuntime:
        if self._runtime is None:
            from riskops.monitor.runtime import MonitorRuntime

            self._runtime = MonitorRuntime.create(self.settings, self.engine)
        return self._runtime

    def _provide(self, kind: type[object]) -> object:
        from riskops.monitor.runtime import MonitorRuntime

        return self.runtime if kind is MonitorRuntime else super()._provide(kind)

    @property
    def started_runtime(self) -> MonitorRuntime | None:
        """The monitor runtime if one was made (health reads it without making one)."""
        return self._runtime

    @property
    def followers(self) -> FollowersProcess | None:
        """The followers' child process, if this server started one (``/metrics`` reads it)."""
        return self._followers

    async def start(self) -> None:
        """The monitor's tail loop, then either the followers' child process (a served
        container whose followers are on, ADR 0029: the child runs all of what follows) or,
        as background tasks of this process: case housekeeping, the links follower (it
        keeps the linked-accounts graph from the event log), screening (it follows the event
        log and rescreens after a list changes), the accounts follower (profiles, KYC/KYB
        reviews and ratings, behind the monitor) unless ``serve_followers`` is off, and the
        delivery of the outbox into cases (this process's one drainer). A served container
        also warms the intelligence data in the background; one whose followers are off runs
        none of these tasks (the ``riskops worker`` beside it does, ADR 0046): it keeps only
        the monitor, which the decision lane needs."""
        from riskops.accounts import tasks as accounts
        from riskops.cases.tasks import housekeeping_loop, intake_loop
        from riskops.links import tasks as links
        from riskops.monitor.service import AccountFeed
        from riskops.screening import tasks as screening

        await self.runtime.start()
        self._stopping = stopping = asyncio.Event()
        if self._served:
            from riskops.worker import warm_intel, watch_listed_addresses

            warm_intel()
            self._listed = watch_listed_addresses(self.sessions, self.settings)
            if self._child_followers():
                from riskops.web.followers import FollowersProcess

                self._followers = FollowersProcess(self.settings)
                await self._followers.start()
                return
            if not self.settings.serve_followers:
                # The `riskops worker` beside this API delivers the alerts into cases and
                # keeps house: the decision lane keeps this process's GIL (ADR 0046).
                return
        if (every := self.settings.housekeeping_seconds) > 0:
            self._spawn("case-housekeeping", housekeeping_loop(self.sessions, every, stopping))
        if (every := self.settings.intake_poll_seconds) > 0:
            writer = self._writer()
            if self.settings.serve_followers:
                self._spawn("links", links.loop(self.sessions, every, stopping, writer))
                self._spawn("screening", screening.loop(self.sessions, every, stopping, writer))
                feed = AccountFeed(self.runtime.name)
                accounts_loop = accounts.loop(self.sessions, every, stopping, feed, writer)
                self._spawn("accounts", accounts_loop)
            self._spawn("case-intake", intake_loop(self.sessions, every, stopping, writer))

    def _child_followers(self) -> bool:
        """Whether the followers go to a child: they are on, have work (a period) and the
        child can open this database (not an in-memory SQLite)."""
        from riskops.web.followers import shareable

        settings = self.settings
        periods = (settings.intake_poll_seconds, settings.housekeeping_seconds)
        return (
            settings.serve_followers
            and any(p > 0 for p in periods)
            and shareable(settings.sqlalchemy_url)
        )

    def _spawn(self, name: str, work: Coroutine[object, object, None]) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    def _writer(self) -> threading.Lock | None:
        return self.runtime.writer if self.engine.dialect.name == "sqlite" else None

    async def stop(self) -> None:
        if self._listed is not None:
            self._listed.stop()
            self._listed = None
        if self._followers is not None:
            await self._followers.stop()
        if self._stopping is not None:
            self._stopping.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await task
        if self._runtime is not None:
            await self._runtime.stop()


def container(request: Request) -> Container:
    """The request's app container (the composition's own pages use it)."""
    found: Container = request.app.state.container
    return found

"""Dependencies wired in one place; endpoints get them through FastAPI ``Depends``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database, session_factory, unit_of_work

if TYPE_CHECKING:
    from riskops.monitor.runtime import MonitorRuntime


class Container:
    """What the app needs, built once: settings, engine, sessions, the monitor runtime."""

    def __init__(self, settings: Settings, engine: Engine, runtime: MonitorRuntime | None = None):
        self.settings = settings
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)
        self._runtime = runtime
        self._stopping: asyncio.Event | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._intake: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Container:
        settings = settings or get_settings()
        return cls(settings, open_database(settings.sqlalchemy_url))

    @property
    def runtime(self) -> MonitorRuntime:
        if self._runtime is None:
            from riskops.monitor.runtime import MonitorRuntime

            self._runtime = MonitorRuntime.create(self.settings, self.engine)
        return self._runtime

    @property
    def started_runtime(self) -> MonitorRuntime | None:
        """The monitor runtime if one was made (health reads it without making one)."""
        return self._runtime

    async def start(self) -> None:
        """The monitor's tail loop, case housekeeping and the delivery of the intake outbox
        (the monitor's case alerts; this process's one drainer), as background tasks."""
        from riskops.cases.tasks import housekeeping_loop, intake_loop

        await self.runtime.start()
        self._stopping = asyncio.Event()
        if (every := self.settings.housekeeping_seconds) > 0:
            self._housekeeping = asyncio.create_task(
                housekeeping_loop(self.sessions, every, self._stopping), name="case-housekeeping"
            )
        if (every := self.settings.intake_poll_seconds) > 0:
            self._intake = asyncio.create_task(
                intake_loop(self.sessions, every, self._stopping, self._writer()),
                name="case-intake",
            )

    def _writer(self) -> threading.Lock | None:
        return self.runtime.writer if self.engine.dialect.name == "sqlite" else None

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        for task in (self._housekeeping, self._intake):
            if task is not None:
                await task
        self._housekeeping = self._intake = None
        if self._runtime is not None:
            await self._runtime.stop()


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def db_session(request: Request) -> Iterator[Session]:
    """One request, one transaction: committed when the endpoint returns, rolled back on error."""
    with unit_of_work(container(request).sessions) as session:
        yield session


# Commit before the response is sent (scope="function"), so a 2xx always means "stored";
# with the default request scope the commit would run after the response.
DbSession = Annotated[Session, Depends(db_session, scope="function")]

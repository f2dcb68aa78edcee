"""The request's database session and the app's state, for endpoints through ``Depends``.

``AppState`` is what every route may use: settings, engine and sessions. The composition at
the top (``riskops.web.deps.Container``) extends it with the processes it runs (the monitor
runtime) and hands them to a domain's routes through ``component(kind)``, so a route asks
for a type it already knows and the kit below knows none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work

T = TypeVar("T")


class AppState:
    """Settings, engine and sessions, built once per app."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)

    def component(self, kind: type[T]) -> T:
        """The running component of type ``kind`` that the composition provides."""
        found = self._provide(kind)
        if not isinstance(found, kind):
            raise LookupError(f"this app provides no {kind.__name__}")
        return found

    def _provide(self, kind: type[object]) -> object:
        return None


def container(request: Request) -> AppState:
    found: AppState = request.app.state.container
    return found


def db_session(request: Request) -> Iterator[Session]:
    """One request, one transaction: committed when the endpoint returns, rolled back on error."""
    with unit_of_work(container(request).sessions) as session:
        yield session


# Commit before the response is sent (scope="function"), so a 2xx always means "stored";
# with the default request scope the commit would run after the response.
DbSession = Annotated[Session, Depends(db_session, scope="function")]

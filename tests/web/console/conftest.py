"""Browser tests of the console: the real app served by uvicorn, driven by Debian's Chromium.

One server per database (SQLite, then the real PostgreSQL), seeded through the services with a
user of each role and the default queues; one browser per test session; a fresh browser
context (cookies, storage) per test. Each test seeds its own accounts and cases, with ids no
other test uses, so tests do not depend on each other's order.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from processes import free_port
from riskops.cases.alert_intake import ensure_default_queues
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import DEFAULT_PASSWORD, make_user, migrated_engine, missing, token_for

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
USERS = {
    "ana": "analyst",
    "alex": "analyst",
    "sam": "senior_analyst",
    "max": "manager",
    "rui": "rule_author",
    "cora": "compliance",
}


@dataclass
class Served:
    """A running console: its base URL, its database, and a token for the decision API."""

    url: str
    engine: Engine
    decision_token: str

    def seed(self, work: Callable[[Session], Any]) -> Any:
        """Run ``work`` in one committed transaction (seeding goes through the services)."""
        with unit_of_work(session_factory(self.engine)) as session:
            return work(session)

    def decide(self, event: dict[str, Any]) -> dict[str, Any]:
        """``POST /v1/decisions`` as the exchange would (a bearer token)."""
        response = httpx.post(
            f"{self.url}/v1/decisions",
            json=event,
            headers={"Authorization": f"Bearer {self.decision_token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def console_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database for the console server (the ``engine`` fixture, for the session)."""
    with migrated_engine(request.param, tmp_path_factory.mktemp("console-db")) as eng:
        yield eng


@pytest.fixture(scope="session")
def served(console_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The real app on a free port, in a background thread, seeded with users and queues."""
    data_dir: Path = tmp_path_factory.mktemp("console-data")
    with unit_of_work(session_factory(console_engine)) as session:
        ensure_default_queues(session)
        for username, role in USERS.items():
            make_user(session, username, role)
    token = token_for(console_engine, ["decision:request"], name="exchange")
    settings = Settings(data_dir=data_dir, database_url="")
    app = create_app(Container(settings, console_engine), start_background=False)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the console server did not start"
        assert time.monotonic() < deadline, "the console server did not start in 30 s"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", console_engine, token)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (Debian's package; never ``playwright install``)."""
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test."""
    ctx = browser.new_context(base_url=served.url)
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page whose test fails on any Content-Security-Policy violation: the console must
    work under the policy the app sends (no inline script or style)."""
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    assert violations == [], violations


def _login(page: Any, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def login() -> Callable[..., None]:
    """``login(page, username)``: log in through the form and wait for the first page."""
    return _login


@pytest.fixture
def uid() -> Callable[[str], str]:
    """``uid("acc")`` → ``acc-1a2b3c4d``: ids no other test uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"

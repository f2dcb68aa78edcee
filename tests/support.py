"""Test helpers importable from any test module (``from support import ...``)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest
import typer

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from riskops.auth.models import User
    from riskops.auth.permissions import Role

# The shared data sets sit beside the checkout (../shared), in CI as on a developer's machine.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AMLSIM_TRANS = SHARED_DATA / "amlsim-10k" / "AMLSIM10K_Trans.csv.gz"


def missing(reason: str) -> None:
    """Skip the test, or fail it where RISKOPS_REQUIRE_SERVICES=1 (CI): nothing a test needs
    may be missing there without anyone noticing."""
    if os.environ.get("RISKOPS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and RISKOPS_REQUIRE_SERVICES=1: CI must run this test")
    pytest.skip(reason)


def require_data(path: Path) -> None:
    """Skip (or fail, in CI) when a shared data set is missing."""
    if not path.exists():
        missing(f"the data set is not at {path}")


# --- real services: PostgreSQL, NATS ----------------------------------------------------

POSTGRES_URL = os.environ.get(
    "RISKOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip (or fail, in CI) when a real service is not reachable."""
    if not _reachable(url, default_port):
        missing(f"{name} is not reachable at {url}")


def drop_stream(nats_url: str, name: str) -> None:
    """Delete a test's JetStream stream, if it exists (a test's clean-up)."""

    async def drop() -> None:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(name)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(drop())


@contextmanager
def migrated_engine(kind: str, directory: Path) -> Iterator[Engine]:
    """A migrated, empty database: ``kind`` "sqlite" is a file in ``directory``; "postgres"
    is a schema of its own on the real PostgreSQL, dropped afterwards."""
    from sqlalchemy import text

    from riskops.kernel.db import make_engine, migrate

    if kind == "sqlite":
        eng = make_engine(f"sqlite:///{directory / 'riskops.db'}")
        try:
            migrate(eng)
            yield eng
        finally:
            eng.dispose()
        return
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    eng = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def cli_app(
    register: Callable[[typer.Typer], None], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[typer.Typer]:
    """A typer app with one domain's commands (``register``), on the default SQLite
    database in ``data_dir`` (no configured database URL); the settings are read afresh
    on the way in and out."""
    from riskops.kernel.config import get_settings

    monkeypatch.setenv("RISKOPS_DATA_DIR", str(data_dir))
    monkeypatch.delenv("RISKOPS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    app.command("version")(lambda: None)  # a second command keeps the groups as subcommands
    try:
        yield app
    finally:
        get_settings.cache_clear()


# --- auth: users, tokens and logins for tests (riskops.auth) ---------------------------

DEFAULT_PASSWORD = "correct horse battery staple"


def make_user(
    session: Session, username: str, role: Role | str, password: str = DEFAULT_PASSWORD
) -> User:
    """A console user with ``role``, created by the system (the caller's transaction)."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal

    return service.create_user(
        session,
        Principal.system("tests"),
        username=username,
        password=password,
        role=role,
        display_name=username.replace("_", " ").title(),
    )


def token_for(engine: Engine, scopes: Iterable[str], name: str = "tests") -> str:
    """A committed API token with ``scopes``; returns the bearer token."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal
    from riskops.kernel.db import session_factory, unit_of_work

    with unit_of_work(session_factory(engine)) as session:
        plaintext, _ = service.create_api_token(
            session, Principal.system("tests"), name=name, scopes=list(scopes)
        )
    return plaintext


def bearer(token: str) -> dict[str, str]:
    """Headers that authenticate with an API token."""
    return {"Authorization": f"Bearer {token}"}


def api_login(
    client: TestClient, username: str, password: str = DEFAULT_PASSWORD, *, sticky: bool = False
) -> str:
    """Log a TestClient in through ``POST /v1/auth/login`` (the cookie stays on the client);
    returns the CSRF token. ``sticky=True`` also sends it on every later request."""
    response = client.post("/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    if sticky:
        client.headers["X-CSRF-Token"] = csrf
    return csrf


def client_for(app: FastAPI, username: str) -> TestClient:
    """A TestClient of ``app`` logged in as ``username``, its CSRF token on every request."""
    from fastapi.testclient import TestClient

    client = TestClient(app)
    api_login(client, username, sticky=True)
    return client


def simulated_rows(out: Path, *, accounts: int, days: int, seed: int) -> list[dict[str, Any]]:
    """A simulated exchange written to ``out`` as NDJSON and read back as flat rows, the
    events numbered from 1 in file order (as the monitor's log would number them)."""
    from riskops.events.adapters import read_events
    from riskops.events.flat import to_rows
    from riskops.events.schemas import Event
    from riskops.sim import SimConfig, simulate

    simulate(SimConfig(accounts=accounts, days=days, seed=seed), out, "ndjson")
    rows: list[dict[str, Any]] = []
    for seq, (_, event) in enumerate(read_events(out / "events.ndjson"), start=1):
        assert isinstance(event, Event)  # the simulator makes valid events
        rows.extend(to_rows(event, seq))
    return rows


def money_rows(
    seq: int, kind: str, account: str, cp: str | None, day: float, cents: int, out: bool
) -> list[dict[str, Any]]:
    """The flat rows of one money event for the learning features: a transfer's two rows
    (the sender's out, the receiver's in), else one; ``day`` in days from the epoch, an
    address instead of a counterparty when there is none."""
    from riskops.learn.features import US_PER_DAY

    base = {
        "seq": seq,
        "row": 0,
        "event_id": f"e{seq}",
        "type": kind,
        "account_id": account,
        "ts_us": int(day * US_PER_DAY),
        "source_row": seq,
        "direction": "out" if out else "in",
        "counterparty_id": cp,
        "address": None if cp else f"addr-{cents % 3}",
        "usd_cents": cents,
    }
    if kind != "transfer.internal":
        return [base]
    mirror = dict(base, row=1, account_id=cp, counterparty_id=account, direction="in")
    return [base, mirror]

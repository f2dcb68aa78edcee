"""Test helpers importable from any test module (``from support import ...``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
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

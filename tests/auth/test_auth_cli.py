"""``riskops users ...`` and ``riskops tokens ...`` on the configured (SQLite) database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from riskops.auth import cli
from riskops.auth import service as auth
from riskops.auth.models import User
from riskops.auth.permissions import Principal
from riskops.kernel.db import open_database, session_factory, unit_of_work
from support import DEFAULT_PASSWORD, cli_app

T = TypeVar("T")


def _check(what: Callable[[Session], T]) -> T:
    engine = open_database()
    try:
        with unit_of_work(session_factory(engine)) as session:
            return what(session)
    finally:
        engine.dispose()


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    with cli_app(cli.register, tmp_path / "data", monkeypatch) as app:
        yield app


def test_users_add_list_disable_enable(riskops: typer.Typer) -> None:
    runner = CliRunner()
    added = runner.invoke(
        riskops,
        ["users", "add", "Ana", "--role", "analyst", "--display-name", "Ana L."],
        input=f"{DEFAULT_PASSWORD}\n{DEFAULT_PASSWORD}\n",
    )
    assert added.exit_code == 0, added.output
    assert "added user ana (analyst)" in added.output
    assert DEFAULT_PASSWORD not in added.output
    short = runner.invoke(
        riskops, ["users", "add", "bob", "--role", "analyst", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert runner.invoke(riskops, ["users", "disable", "ana"]).exit_code == 0
    assert "disabled" in runner.invoke(riskops, ["users", "list"]).output
    ana: User = _check(lambda s: auth.find_user(s, "ana"))
    assert not ana.active
    assert runner.invoke(riskops, ["users", "enable", "ANA"]).exit_code == 0
    assert runner.invoke(riskops, ["users", "disable", "nobody"]).exit_code == 1


def test_tokens_create_list_revoke(riskops: typer.Typer) -> None:
    runner = CliRunner()
    created = runner.invoke(
        riskops,
        ["tokens", "create", "withdrawals", "--scope", "decision:request", "--expires-days", "30"],
    )
    assert created.exit_code == 0, created.output
    token = created.output.split()[-1]
    assert token.startswith("rk_")
    listed = runner.invoke(riskops, ["tokens", "list"]).output
    assert "withdrawals" in listed and token not in listed
    who: Principal | None = _check(lambda s: auth.token_principal(s, token))
    assert who is not None and who.name == "token:withdrawals"
    bad = runner.invoke(riskops, ["tokens", "create", "x", "--scope", "user:manage"])
    assert bad.exit_code == 1 and "'user:manage'" in bad.output
    assert runner.invoke(riskops, ["tokens", "revoke", "1"]).exit_code == 0
    assert _check(lambda s: auth.token_principal(s, token)) is None

"""Commands of the ``auth`` package: ``riskops users ...`` and ``riskops tokens ...``.

The command line acts as ``system:cli`` (whoever can run it on the server owns the
database anyway); every change is in the audit trail under that name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

T = TypeVar("T")

users = typer.Typer(help="Console users: add, list, disable, enable.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens of the exchange's services.", no_args_is_help=True)


@contextmanager
def _transaction() -> Iterator[Session]:
    """One command, one transaction; a refused change prints its reason and exits 1."""
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.kernel.errors import RiskopsError

    engine = open_database()
    try:
        with unit_of_work(session_factory(engine)) as session:
            yield session
    except RiskopsError as exc:
        reasons = "".join(f"\n  {d['field']}: {d['reason']}" for d in exc.details or [])
        typer.echo(f"error: {exc.message}{reasons}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _run(action: Callable[[Session], T]) -> T:
    with _transaction() as session:
        return action(session)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@users.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="login name (lower-cased)")],
    role: Annotated[str, typer.Option("--role", help="analyst, senior_analyst, manager, ...")],
    display_name: Annotated[str | None, typer.Option(help="defaults to the username")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Add a console user; the password (12+ characters) is asked for twice, hidden."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal

    password = _read_password(password_stdin)
    user = _run(
        lambda s: service.create_user(
            s,
            Principal.system("cli"),
            username=username,
            password=password,
            role=role,
            display_name=display_name or username,
            email=email,
        )
    )
    typer.echo(f"added user {user.username} ({user.role}), id {user.id}")


@users.command("list")
def list_users() -> None:
    """Every user with role, state and last login."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal

    with _transaction() as session:
        for u in service.list_users(session, Principal.system("cli")):
            state = "active" if u.active else "disabled"
            if u.locked_until is not None:
                state += f", locked until {u.locked_until:%Y-%m-%d %H:%M} UTC"
            last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
            typer.echo(
                f"{u.id:>5}  {u.username:<24} {u.role:<15} {state:<10} last login {last}"
                f"  {u.display_name}"
            )


def _set_active(username: str, active: bool) -> None:
    from riskops.auth import service
    from riskops.auth.permissions import Principal

    def change(session: Session) -> None:
        user = service.find_user(session, username)
        service.set_user_active(session, Principal.system("cli"), user.id, active)

    _run(change)
    typer.echo(f"{'enabled' if active else 'disabled'} {username.strip().lower()}")


@users.command("disable")
def disable_user(username: str) -> None:
    """Disable a user: refused at login, their open sessions end at once."""
    _set_active(username, False)


@users.command("enable")
def enable_user(username: str) -> None:
    """Enable a user again (also lifts a lockout after failed logins)."""
    _set_active(username, True)


@tokens.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="which service holds it, e.g. withdrawals-api")],
    scope: Annotated[list[str], typer.Option("--scope", help="a permission; repeat for more")],
    expires_days: Annotated[int | None, typer.Option(min=1, help="expires after N days")] = None,
) -> None:
    """Create a scoped API token and print it once (only its hash is stored)."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal
    from riskops.kernel.clock import utcnow

    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    plaintext, token = _run(
        lambda s: service.create_api_token(
            s, Principal.system("cli"), name=name, scopes=scope, expires_at=expires
        )
    )
    until = f", expires {token.expires_at:%Y-%m-%d}" if token.expires_at else ""
    typer.echo(f"created API token {token.id} {token.name!r} ({', '.join(token.scopes)}{until})")
    typer.echo("Store it now; it is not shown again:")
    typer.echo(plaintext)


@tokens.command("list")
def list_tokens() -> None:
    """Every API token (never the secret): id, prefix, scopes, state, last use."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal

    with _transaction() as session:
        for t in service.list_tokens(session, Principal.system("cli")):
            state = "revoked" if t.revoked_at else "active"
            if t.expires_at and not t.revoked_at:
                state += f" until {t.expires_at:%Y-%m-%d}"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            typer.echo(
                f"{t.id:>5}  rk_{t.prefix}_…  {t.name:<24} {state:<18} last used {used}"
                f"  {','.join(t.scopes)}"
            )


@tokens.command("revoke")
def revoke_token(token_id: int) -> None:
    """Revoke an API token (other running servers stop accepting it within 30 s)."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal

    token = _run(lambda s: service.revoke_token(s, Principal.system("cli"), token_id))
    typer.echo(f"revoked API token {token.id} {token.name!r}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(users, name="users")
    app.add_typer(tokens, name="tokens")

"""``riskops rules promote / approve / reject / requests``: four-eyes on the command line.

The command line does not bypass the second person: ``rules promote`` makes a request as a
named user (``--as``), and ``rules approve REQUEST --as OTHER`` makes the change. Seeding
the default pack (``riskops.rules.service.seed_default_pack``) stays as it is: riskops
installs its own pack. The commands join the ``rules`` group of ``riskops.rules.cli``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.kernel.bounds import MAX_DB_INT
from riskops.learn.cli import models_group
from riskops.rules.cli import rules_group

T = TypeVar("T")
AS_HELP = "the user acting (a console user with rule:promote)"
# A version or request number is a database integer: bounded here, a clear message past it.
RowId = Annotated[int, typer.Argument(min=1, max=MAX_DB_INT)]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg="red")
    return typer.Exit(1)


def _run(work: Callable[[Session], T]) -> T:
    """One transaction on the configured database (rule store seeded); typed errors become
    a message and exit code 1, never a traceback."""
    from riskops.kernel.db import open_database, session_factory, unit_of_work
    from riskops.kernel.errors import RiskopsError
    from riskops.rules.service import seed_default_pack

    sessions = session_factory(open_database())
    try:
        with unit_of_work(sessions) as session:
            seed_default_pack(session)
            return work(session)
    except RiskopsError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        lines = [exc.message] + [
            f"  {d.get('field', '')}: {d.get('reason', '')}" if isinstance(d, dict) else f"  {d}"
            for d in details
        ]
        raise _fail("\n".join(lines)) from exc


def _principal(session: Session, username: str) -> Principal:
    from riskops.auth.service import find_user, user_principal
    from riskops.kernel.errors import Forbidden

    user = find_user(session, username)
    if not user.active:
        raise Forbidden(f"user {user.username!r} is disabled")
    return user_principal(user)


def register(app: typer.Typer) -> None:
    """Add the promotion commands to the ``rules`` and ``models`` groups of ``riskops``."""
    _promotions(rules_group(app), "rule", "rules")
    _promotions(models_group(app), "model", "models")


def _promotions(group: typer.Typer, kind: str, noun: str) -> None:
    """``promote`` (a request), ``approve``, ``reject`` and ``requests`` in ``group``."""

    @group.command("promote")
    def promote_command(
        subject_id: Annotated[str, typer.Argument(metavar="ID")],
        version: RowId,
        status: Annotated[str, typer.Argument(help="shadow, live or retired")],
        as_user: Annotated[str, typer.Option("--as", help=AS_HELP)],
        why: Annotated[str, typer.Option("--why", help="why (required)")] = "",
        rollback: Annotated[
            bool, typer.Option("--rollback", help="an earlier, retired version back to live")
        ] = False,
    ) -> None:
        """Ask for a version to become shadow, live or retired: a second person approves."""
        from riskops.authoring.promotions import request_promotion

        def work(session: Session) -> int:
            principal = _principal(session, as_user)
            row = request_promotion(
                session, principal, kind, subject_id, version, status, why, rollback=rollback
            )
            return row.id

        request_id = _run(work)
        typer.echo(
            f"request #{request_id}: {subject_id} v{version} to {status} waits for a second "
            f"person's approval (riskops {noun} approve {request_id} --as USER)"
        )

    @group.command("approve")
    def approve_command(
        request_id: RowId,
        as_user: Annotated[str, typer.Option("--as", help=AS_HELP)],
        why: Annotated[str, typer.Option("--why")] = "",
    ) -> None:
        """Approve a pending request (not your own) and make the change it asks for."""
        from riskops.authoring.promotions import approve

        def work(session: Session) -> str:
            row = approve(session, _principal(session, as_user), request_id, why)
            return f"{row.subject_id} v{row.version} is now {row.target}"

        typer.echo(f"request #{request_id} approved: {_run(work)}")

    @group.command("reject")
    def reject_command(
        request_id: RowId,
        as_user: Annotated[str, typer.Option("--as", help=AS_HELP)],
        why: Annotated[str, typer.Option("--why", help="why (required)")] = "",
    ) -> None:
        """Reject a pending request, with a reason (the requester may withdraw their own)."""
        from riskops.authoring.promotions import reject

        _run(lambda session: reject(session, _principal(session, as_user), request_id, why))
        typer.echo(f"request #{request_id} rejected")

    @group.command("requests")
    def requests_command(
        as_user: Annotated[str, typer.Option("--as", help=AS_HELP)],
        limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    ) -> None:
        """Promotion requests waiting for a second person, oldest first."""
        from riskops.authoring.promotions import pending_requests

        def work(session: Session) -> list[str]:
            rows, total = pending_requests(session, _principal(session, as_user), limit)
            lines = [
                f"#{r.id}  {r.kind} {r.subject_id} v{r.version}: {r.from_status} -> {r.target}"
                f"{' (rollback)' if r.rollback else ''}  by {r.requested_by}  {r.why}"
                for r in rows
            ]
            return [*lines, f"{total} pending" if total else "no request is pending"]

        for line in _run(work):
            typer.echo(line)

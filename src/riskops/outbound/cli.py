"""Commands of the ``outbound`` package: ``riskops outbox ...``.

``deliver`` runs delivery passes until nothing is due (a cron job, or a look at a stuck
outbox); ``status`` counts the messages by status. The worker and the server deliver on
their own; these are for an operator.
"""

from __future__ import annotations

from typing import Annotated

import typer

outbox_app = typer.Typer(
    help="The outbound outbox: email, SMS and webhooks that leave riskops.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""
    app.add_typer(outbox_app, name="outbox")


@outbox_app.command("deliver")
def deliver_command(
    max_passes: Annotated[int, typer.Option(min=1, help="stop after this many passes")] = 1_000,
) -> None:
    """Deliver what is due now (configured transports: RISKOPS_SMTP_URL, RISKOPS_SMS_*)."""
    from riskops.kernel.db import open_database, session_factory
    from riskops.outbound.tasks import deliverer_from_settings

    deliverer = deliverer_from_settings(session_factory(open_database()))
    done = deliverer.drain(max_passes=max_passes)
    typer.echo(f"sent {done.sent}, retrying {done.retrying}, dead {done.dead}")


@outbox_app.command("status")
def status_command() -> None:
    """How many messages are queued, sending, sent, retrying and dead."""
    from riskops.kernel.db import open_database, session_factory
    from riskops.outbound import repository
    from riskops.outbound.models import Status

    with session_factory(open_database())() as session:
        counts = repository.counts_by_status(session)
    for status in Status:
        typer.echo(f"{status.value:9s} {counts.get(status, 0)}")

"""The worker process, composed at the top: the monitor's tail loop with the case tasks.

``riskops worker [--once] [--batch N]`` or ``python -m riskops.worker``. The monitor's loop
(``riskops.monitor.worker``) runs whatever ``Periodic`` tasks it is handed; this module is
the one place that knows those are the cases' housekeeping, the followers of the log that
keep the linked-accounts graph and screen names, and the delivery of the case alerts the
monitor's batches and the followers wrote (every ``RISKOPS_INTAKE_POLL_SECONDS``, and once more
before ``--once`` exits, so the cases exist when it returns). Keeping that choice here, above
both domains, is what lets the monitor import nothing of ``cases`` (ADR 0023).
"""

from __future__ import annotations

import argparse
import threading
from functools import partial

import typer
from rich.console import Console

from riskops.accounts.tasks import catch_up as accounts_catch_up
from riskops.accounts.tasks import watch_pass
from riskops.cases.tasks import delivery_pass, housekeeping_pass
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.retry import Backoff
from riskops.links.tasks import links_catch_up, links_pass
from riskops.monitor.service import AccountFeed
from riskops.monitor.worker import Periodic, Summary, install_signal_handlers
from riskops.monitor.worker import run as run_monitor
from riskops.screening.tasks import screening_pass


def case_tasks(settings: Settings) -> list[Periodic]:
    """The case work the worker loop runs between batches (a period of 0 turns one off).

    The links follower keeps the linked-accounts graph (its cluster alerts go out on the
    monitor's topic; at most a second per pass, and to the log's end before ``--once``
    returns); screening follows the event log (KYC, KYB and P2P names) and rescreens
    after a list change; the accounts follower keeps profiles, KYC/KYB reviews and ratings
    behind the monitor's checkpoint (its reviews go out on the monitor's topic, and it reads
    the monitor's decisions through ``AccountFeed``); then the delivery takes their alerts,
    hits and reviews into cases with the monitor's alerts: in this order, so ``--once``
    returns with those cases open."""
    feed = AccountFeed()  # what the accounts follower reads of the monitor (ADR 0028)
    return [
        Periodic("cases.housekeeping", settings.housekeeping_seconds, housekeeping_pass),
        Periodic("links", settings.intake_poll_seconds, links_pass),
        Periodic("links.catch_up", 0, links_catch_up, final=True),  # to the log's end
        Periodic("screening", settings.intake_poll_seconds, screening_pass, final=True),
        Periodic("accounts", settings.intake_poll_seconds, partial(watch_pass, feed=feed)),
        Periodic("accounts.catch_up", 0, partial(accounts_catch_up, feed=feed), final=True),
        Periodic("cases.delivery", settings.intake_poll_seconds, delivery_pass, final=True),
    ]


def run(
    settings: Settings | None = None,
    *,
    once: bool = False,
    batch: int = 2_000,
    stop: threading.Event | None = None,
    console: Console | None = None,
    backoff: Backoff | None = None,
) -> Summary:
    """``riskops.monitor.worker.run`` with the case tasks."""
    settings = settings or get_settings()
    return run_monitor(
        settings,
        once=once,
        batch=batch,
        stop=stop,
        console=console,
        backoff=backoff,
        tasks=case_tasks(settings),
    )


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``riskops`` command line."""

    @app.command("worker")
    def worker(
        once: bool = typer.Option(False, "--once", help="Process what is in the log, then exit."),
        batch: int = typer.Option(2_000, "--batch", min=1, help="Events per transaction."),
    ) -> None:
        """Run the monitor: tail the event log, decide, write alerts and holds."""
        stop = threading.Event()
        install_signal_handlers(stop)
        run(once=once, batch=batch, stop=stop, console=Console())


def main(argv: list[str] | None = None) -> None:
    """``python -m riskops.worker``: the same as ``riskops worker``."""
    parser = argparse.ArgumentParser(prog="riskops-worker", description=__doc__)
    parser.add_argument("--once", action="store_true", help="process the log, then exit")
    parser.add_argument("--batch", type=int, default=2_000, help="events per transaction")
    args = parser.parse_args(argv)
    from riskops.kernel.logging import configure_logging

    configure_logging()
    stop = threading.Event()
    install_signal_handlers(stop)
    run(once=args.once, batch=args.batch, stop=stop, console=Console())


if __name__ == "__main__":
    main()

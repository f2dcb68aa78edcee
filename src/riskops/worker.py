"""The worker process, composed at the top: the monitor's tail loop with the case tasks.

``riskops worker [--once] [--batch N]`` or ``python -m riskops.worker``. The monitor's loop
(``riskops.monitor.worker``) runs whatever ``Periodic`` tasks it is handed; this module is
the one place that knows those are the cases' housekeeping, the followers of the log that
keep the linked-accounts graph and screen names, and the delivery of the case alerts the
monitor's batches and the followers wrote (every ``RISKOPS_INTAKE_POLL_SECONDS``, and once more
before ``--once`` exits, so the cases exist when it returns). Keeping that choice here, above
both domains, is what lets the monitor import nothing of ``cases`` (ADR 0023).

``python -m riskops.worker --followers-of PID`` is the followers' child of ``riskops serve``
(``riskops.web.followers``, ADR 0029): the same passes without the monitor (the server owns
it), ending with the server ``PID`` however it ends.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from types import TracebackType

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from riskops.accounts.tasks import MonitorFeed, watch_pass
from riskops.accounts.tasks import catch_up as accounts_catch_up
from riskops.cases.outcomes import label_pass as outcome_labels_pass
from riskops.cases.tasks import delivery_pass, housekeeping_pass
from riskops.cluster.feed import ClusterFeed
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import make_engine, open_database, session_factory
from riskops.kernel.logging import get_logger
from riskops.kernel.retry import Backoff
from riskops.links.tasks import PASS_SECONDS as LINKS_PASS_SECONDS
from riskops.links.tasks import follow as links_follow
from riskops.links.tasks import links_catch_up, links_pass
from riskops.monitor.service import AccountFeed
from riskops.monitor.worker import Periodic, Summary, install_signal_handlers
from riskops.monitor.worker import run as run_monitor
from riskops.outbound.tasks import delivery_pass as outbound_delivery_pass
from riskops.qa.tasks import sampling_pass as qa_sampling_pass
from riskops.reports.tasks import digest_pass, rollup_pass
from riskops.sar.tasks import retention_pass as sar_retention_pass
from riskops.screening.addresses import ListedAddressBook, listed_addresses
from riskops.screening.tasks import screening_pass

log = get_logger(__name__)


def case_tasks(settings: Settings) -> list[Periodic]:
    """The case work the worker loop runs between batches (a period of 0 turns one off).

    The links follower keeps the linked-accounts graph (its cluster alerts go out on the
    monitor's topic; at most a second per pass, and to the log's end before ``--once``
    returns); screening follows the event log (KYC, KYB and P2P names) and rescreens
    after a list change; the accounts follower keeps profiles, KYC/KYB reviews and ratings
    behind the monitor's checkpoint (its reviews go out on the monitor's topic, and it reads
    the monitor's decisions through ``AccountFeed``); then the delivery takes their alerts,
    hits and reviews into cases with the monitor's alerts: in this order, so ``--once``
    returns with those cases open. Then what leaves riskops (the outbound outbox: email,
    SMS, webhooks; once more before ``--once`` returns), the QA sampling of closed cases,
    the reports' rollups and spike notices, the weekly digest, and the SARs' retention."""
    feed = AccountFeed()  # what the accounts follower reads of the monitor (ADR 0028)
    return [
        Periodic("cases.housekeeping", settings.housekeeping_seconds, housekeeping_pass),
        Periodic("links", settings.intake_poll_seconds, links_pass),
        Periodic("links.catch_up", 0, links_catch_up, final=True),  # to the log's end
        Periodic("screening", settings.intake_poll_seconds, screening_pass, final=True),
        Periodic("accounts", settings.intake_poll_seconds, partial(watch_pass, feed=feed)),
        Periodic("accounts.catch_up", 0, partial(accounts_catch_up, feed=feed), final=True),
        Periodic("cases.delivery", settings.intake_poll_seconds, delivery_pass, final=True),
        Periodic(
            "outbound.delivery", settings.intake_poll_seconds, outbound_delivery_pass, final=True
        ),
        Periodic("qa.sampling", settings.housekeeping_seconds, qa_sampling_pass),
        Periodic("cases.outcome_labels", settings.housekeeping_seconds, outcome_labels_pass),
        Periodic("reports.rollup", settings.housekeeping_seconds, rollup_pass),
        Periodic("reports.digest", _HOURLY if settings.housekeeping_seconds else 0, digest_pass),
        Periodic(
            "sar.retention", _DAILY if settings.housekeeping_seconds else 0, sar_retention_pass
        ),
    ]


_HOURLY = 3_600.0  # the weekly digest goes out in the first hour of a Monday's passes
_DAILY = 86_400.0  # SARs past their retention (not under legal hold) are purged once a day


class Yielding:
    """The ``writer`` the followers' child holds around each of its transactions: no lock
    (the decision lane's lock is the server's, in another process) but a pause after each
    commit as long as the transaction held SQLite's write lock (at least ``pause``).

    A decision that finds the database locked waits in SQLite's busy handler, which sleeps
    1, 2, 5, 10... ms between tries; a follower committing batch after batch would take the
    lock back before it tried again. With the pause the decisions get at least half of the
    time while the followers catch up on a backlog (as ``cases.tasks.drain`` does)."""

    def __init__(self, pause: float = 0.002) -> None:
        self.pause = pause
        self._entered = 0.0

    def __enter__(self) -> Yielding:
        self._entered = time.perf_counter()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        time.sleep(max(self.pause, time.perf_counter() - self._entered))


def follower_tasks(
    settings: Settings, writer: Yielding | None = None, feed: MonitorFeed | None = None
) -> list[Periodic]:
    """What the followers' child of ``riskops serve`` runs (ADR 0029): the periodic passes
    of ``case_tasks``, in their order, without the monitor (the server runs it) and
    without the catch-ups of ``--once``: case housekeeping, the links, screening and
    accounts followers (the last behind the server monitor's checkpoint, the default one)
    and the delivery into cases, each of their transactions held in ``writer``, links in
    short ones. A pass added to ``case_tasks`` runs here too, as it is."""
    held: dict[str, Callable[[sessionmaker[Session]], object]] = {
        "links": partial(_links_in_short_batches, writer=writer),
        "screening": partial(screening_pass, writer=writer),
        "accounts": partial(watch_pass, writer=writer, feed=feed or AccountFeed()),
        "cases.delivery": partial(delivery_pass, writer=writer),
        "outbound.delivery": partial(outbound_delivery_pass, writer=writer),
    }
    return [
        replace(task, run=held.get(task.name, task.run))
        for task in case_tasks(settings)
        if task.every_s > 0
    ]


# Events per links transaction in the followers' child: a 2,000-event batch held SQLite's
# write lock for 200-600 ms on the bench machine, and a decision waits that long behind it.
CHILD_LINKS_BATCH = 200


def _links_in_short_batches(
    sessions: sessionmaker[Session], writer: Yielding | None = None
) -> None:
    """``links_pass`` in transactions of ``CHILD_LINKS_BATCH`` events (the child runs its
    passes one at a time, so it needs no pass lock); an error is logged, never fatal."""
    try:
        progress = links_follow(
            sessions, limit=CHILD_LINKS_BATCH, max_seconds=LINKS_PASS_SECONDS, writer=writer
        )
    except Exception as exc:
        log.error("links.pass_failed", error=type(exc).__name__)
        return
    if progress.new or progress.alerts:
        log.info("links.pass", events=progress.events, new=progress.new, alerts=progress.alerts)


def follow(
    settings: Settings | None = None,
    *,
    stop: threading.Event | None = None,
    backoff: Backoff | None = None,
    cluster: bool = False,
) -> None:
    """Run ``follower_tasks`` until ``stop`` is set, each when it is due, one at a time.

    A lost database never ends it: opening it is retried with ``backoff``, as is a pass
    that raises (the passes log their own errors and rarely do)."""
    settings = settings or get_settings()
    stop = stop or threading.Event()
    backoff = backoff or Backoff()
    engine = None
    while engine is None and not stop.is_set():
        try:
            engine = open_database(settings.sqlalchemy_url)
        except Exception as exc:
            delay = backoff.next_delay()
            log.error("followers.start_failed", error=type(exc).__name__, retry_in=delay)
            stop.wait(delay)
    if engine is None:
        return
    backoff.reset()
    sessions = session_factory(engine)
    writer = Yielding() if engine.dialect.name == "sqlite" else None
    # Beside partition workers the monitor's position is the partitions' (ADR 0041): the
    # single process's checkpoint never moves there, and the accounts follower would stall.
    feed = ClusterFeed(settings.nats_stream) if cluster else None
    tasks = [t for t in follower_tasks(settings, writer, feed) if t.every_s > 0]
    due = [0.0] * len(tasks)
    log.info("followers.started", pid=os.getpid(), tasks=[t.name for t in tasks])
    try:
        while tasks and not stop.is_set():
            for i, task in enumerate(tasks):
                if stop.is_set() or time.monotonic() < due[i]:
                    continue
                try:
                    task.run(sessions)
                except Exception as exc:
                    delay = backoff.next_delay()
                    log.error(
                        "followers.pass_failed",
                        task=task.name,
                        error=type(exc).__name__,
                        retry_in=delay,
                    )
                    stop.wait(delay)
                else:
                    backoff.reset()
                due[i] = time.monotonic() + task.every_s
            stop.wait(max(0.0, min(due) - time.monotonic()))
    finally:
        engine.dispose()
        log.info("followers.stopped", pid=os.getpid())


def warm_intel() -> threading.Thread:
    """Load the intelligence data that loads lazily (the ASN table, about a second) in a
    daemon thread, so the first request that needs it does not wait; never blocks."""

    def warm() -> None:
        from riskops.intel.service import default_service

        try:
            default_service().warm()
        except Exception as exc:  # a missing or damaged table: the first lookup says so
            log.warning("intel.warm_failed", error=type(exc).__name__)

    thread = threading.Thread(target=warm, name="riskops-intel-warm", daemon=True)
    thread.start()
    return thread


def watch_listed_addresses(
    sessions: sessionmaker[Session], settings: Settings
) -> ListedAddressBook | None:
    """Hand intel the addresses the loaded sanctions lists name (OFAC's digital-currency
    addresses, ADR 0031) with the address files of the data directory, kept current in a
    daemon thread until the book returned is stopped (with what started it); a database
    not reachable yet is tried again, never fatal."""
    from riskops.intel.service import default_service

    try:
        book = listed_addresses(
            sessions, default_service().set_listed, lists_dir=settings.data_dir / "lists"
        )
        return book.start()
    except Exception as exc:  # intel answers "no data" for listing until the next start
        log.warning("screening.listed_addresses_failed", error=type(exc).__name__)
        return None


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
    warm_intel()
    engine = make_engine(settings.sqlalchemy_url)
    book = watch_listed_addresses(session_factory(engine), settings)
    try:
        return run_monitor(
            settings,
            once=once,
            batch=batch,
            stop=stop,
            console=console,
            backoff=backoff,
            tasks=case_tasks(settings),
        )
    finally:
        if book is not None:
            book.stop()
        engine.dispose()


def run_cluster(
    settings: Settings | None = None,
    *,
    partition: str | None = None,
    standby: int | None = None,
    batch: int = 1_000,
    stop: threading.Event | None = None,
) -> None:
    """``--bus nats``: own one partition (``I/N``) of the stream, or stand by for all N
    (ADR 0041). The database and the stream come from the settings."""

    from riskops.cluster.leases import run_partition, run_standby
    from riskops.cluster.partition import parse_partition
    from riskops.monitor.runtime import tune_gc

    settings = settings or get_settings()
    stop = stop or threading.Event()
    tune_gc()
    engine = open_database(settings.sqlalchemy_url)
    try:
        import uvloop  # the stream read costs less per message on uvloop (ADR 0041)

        if standby is not None:
            uvloop.run(run_standby(settings, engine, standby, stop, batch=batch))
        else:
            index, count = parse_partition(partition or "")
            uvloop.run(run_partition(settings, engine, index, count, stop, batch=batch))
    finally:
        engine.dispose()


def _cluster_mode(
    bus: str, partition: str | None, standby: bool, partitions: int | None
) -> tuple[str | None, int | None]:
    """The checked ``--bus nats`` options: (partition I/N, standby N); a clear error else."""
    from riskops.cluster.partition import parse_partition

    if bus not in ("embedded", "nats"):
        raise ValueError(f"--bus {bus!r}: use embedded or nats")
    if bus == "embedded":
        if partition or standby or partitions:
            raise ValueError("--partition, --standby and --partitions need --bus nats")
        return None, None
    if standby == bool(partition):
        raise ValueError("with --bus nats give either --partition I/N or --standby --partitions N")
    if standby:
        if not partitions or partitions < 1:
            raise ValueError("--standby needs --partitions N (N >= 1)")
        return None, partitions
    parse_partition(partition or "")
    return partition, None


def register(app: typer.Typer) -> None:
    """Add the ``worker`` command to the ``riskops`` command line."""

    @app.command("worker")
    def worker(
        once: bool = typer.Option(False, "--once", help="Process what is in the log, then exit."),
        batch: int = typer.Option(2_000, "--batch", min=1, help="Events per transaction."),
        bus: str = typer.Option(
            "embedded", "--bus", help="embedded (the event log) or nats (a partition of the stream)"
        ),
        partition: str | None = typer.Option(
            None, "--partition", help="with --bus nats: own partition I of N, as I/N"
        ),
        standby: bool = typer.Option(
            False, "--standby", help="with --bus nats: take over any partition whose worker died"
        ),
        partitions: int | None = typer.Option(None, "--partitions", help="N, with --standby"),
    ) -> None:
        """Run the monitor: tail the event log (or a partition of the NATS stream), decide,
        write alerts and holds."""
        try:
            part, standby_n = _cluster_mode(bus, partition, standby, partitions)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        stop = threading.Event()
        install_signal_handlers(stop)
        if bus == "nats":
            if once:
                raise typer.BadParameter("--once is for the embedded bus")
            from riskops.kernel.logging import configure_logging

            configure_logging()
            run_cluster(partition=part, standby=standby_n, batch=batch, stop=stop)
            return
        run(once=once, batch=batch, stop=stop, console=Console())


def main(argv: list[str] | None = None) -> None:
    """``python -m riskops.worker``: the same as ``riskops worker``."""
    parser = argparse.ArgumentParser(prog="riskops-worker", description=__doc__)
    parser.add_argument("--once", action="store_true", help="process the log, then exit")
    parser.add_argument("--batch", type=int, default=2_000, help="events per transaction")
    parser.add_argument(
        "--followers-of",
        type=int,
        metavar="PID",
        help="run the log followers only, for the server PID, and end with it (ADR 0029)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="with --followers-of: the monitor is the partition workers of RISKOPS_NATS_STREAM",
    )
    parser.add_argument("--bus", default="embedded", help="embedded or nats")
    parser.add_argument("--partition", help="with --bus nats: own partition I/N")
    parser.add_argument("--standby", action="store_true", help="with --bus nats: stand by")
    parser.add_argument("--partitions", type=int, help="N, with --standby")
    args = parser.parse_args(argv)
    try:
        part, standby_n = _cluster_mode(args.bus, args.partition, args.standby, args.partitions)
    except ValueError as exc:
        parser.error(str(exc))
    if args.followers_of is not None:
        from riskops.kernel.processes import die_with_parent

        die_with_parent(args.followers_of)
    from riskops.kernel.logging import configure_logging

    configure_logging()
    stop = threading.Event()
    install_signal_handlers(stop)
    if args.followers_of is not None:
        follow(stop=stop, cluster=args.cluster)
    elif args.bus == "nats":
        run_cluster(partition=part, standby=standby_n, batch=args.batch, stop=stop)
    else:
        run(once=args.once, batch=args.batch, stop=stop, console=Console())


if __name__ == "__main__":
    main()

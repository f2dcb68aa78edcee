"""The worker process composed at the top (ADR 0023): the monitor's loop runs the tasks it is
handed, and ``riskops.worker`` hands it the case tasks, so the monitor imports no ``cases``."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import grimp
import pytest

from riskops import worker
from riskops.cases.tasks import delivery_pass, housekeeping_pass
from riskops.kernel.config import Settings
from riskops.links.tasks import links_catch_up, links_pass
from riskops.screening.tasks import screening_pass


def test_the_composition_hands_the_loop_the_case_tasks_with_the_settings_periods() -> None:
    settings = Settings(housekeeping_seconds=7, intake_poll_seconds=0.25)
    tasks = {t.name: t for t in worker.case_tasks(settings)}
    assert tasks["cases.housekeeping"].run is housekeeping_pass
    assert (tasks["cases.housekeeping"].every_s, tasks["cases.housekeeping"].final) == (7, False)
    assert tasks["cases.delivery"].run is delivery_pass
    assert (tasks["cases.delivery"].every_s, tasks["cases.delivery"].final) == (0.25, True)
    assert tasks["screening"].run is screening_pass and tasks["screening"].final
    names = [t.name for t in worker.case_tasks(settings)]
    assert names.index("screening") < names.index("cases.delivery")  # its hits become cases
    assert tasks["links"].run is links_pass and not tasks["links"].final
    assert tasks["links"].every_s == 0.25
    catch_up = tasks["links.catch_up"]  # --once: the graph to the log's end, then cases
    assert catch_up.run is links_catch_up and (catch_up.every_s, catch_up.final) == (0, True)
    assert names.index("links.catch_up") < names.index("cases.delivery")


def test_no_module_of_the_monitor_loop_imports_cases() -> None:
    graph = grimp.build_graph("riskops")
    for module in ("riskops.monitor.worker", "riskops.monitor.runtime"):
        assert not graph.direct_import_exists(
            importer=module, imported="riskops.cases", as_packages=True
        ), module


def test_the_monitor_keeps_no_graph() -> None:
    """The linked-accounts graph is kept by its own follower of the log (ADR 0026): the
    monitor's batch imports nothing of ``riskops.links`` (the rating reads the graph
    through ``accounts``)."""
    graph = grimp.build_graph("riskops")
    for module in ("riskops.monitor.service", "riskops.monitor.runtime"):
        assert not graph.direct_import_exists(
            importer=module, imported="riskops.links", as_packages=True
        ), module


def test_the_accounts_follower_runs_behind_the_monitor_before_the_delivery() -> None:
    """Profiles, reviews and ratings are kept by the accounts follower (ADR 0028), handed
    the monitor's feed here: a pass per poll, and to the monitor's checkpoint before
    ``--once`` delivers the reviews' cases. The monitor's batch keeps no account watch."""
    from functools import partial

    from riskops.accounts import tasks as accounts_tasks
    from riskops.monitor.service import AccountFeed

    settings = Settings(intake_poll_seconds=0.25)
    tasks = {t.name: t for t in worker.case_tasks(settings)}
    names = list(tasks)
    each, last = tasks["accounts"], tasks["accounts.catch_up"]
    assert isinstance(each.run, partial) and each.run.func is accounts_tasks.watch_pass
    assert (each.every_s, each.final) == (0.25, False)
    assert isinstance(last.run, partial) and last.run.func is accounts_tasks.catch_up
    assert (last.every_s, last.final) == (0, True)
    assert isinstance(each.run.keywords["feed"], AccountFeed)
    assert names.index("accounts.catch_up") < names.index("cases.delivery")
    graph = grimp.build_graph("riskops")
    for module in ("riskops.monitor.service", "riskops.monitor.runtime"):
        assert not graph.direct_import_exists(
            importer=module, imported="riskops.accounts.watch", as_packages=False
        ), module


@pytest.mark.parametrize("serve_followers", [True, False])
def test_the_server_runs_the_log_followers_only_when_asked(
    tmp_path: Path, serve_followers: bool
) -> None:
    """`riskops serve` runs the links, screening and accounts followers beside case intake
    unless RISKOPS_SERVE_FOLLOWERS is off (a worker runs them): case intake runs either way."""
    from riskops.kernel.config import Settings
    from riskops.kernel.db import make_engine, migrate
    from riskops.web.deps import Container

    url = f"sqlite:///{tmp_path / 'riskops.db'}"
    settings = Settings(database_url=url, data_dir=tmp_path, serve_followers=serve_followers)
    engine = make_engine(url)
    migrate(engine)
    box = Container(settings, engine)

    async def names() -> set[str]:
        await box.start()
        try:
            return {task.get_name() for task in box._tasks}
        finally:
            await box.stop()

    followers = {"links", "screening", "accounts"}
    found = asyncio.run(names())
    assert "case-intake" in found
    assert followers & found == (followers if serve_followers else set())
    engine.dispose()


def test_the_followers_child_runs_the_case_tasks_without_the_monitor() -> None:
    """`riskops serve`'s child (ADR 0029) runs housekeeping, the three followers and the
    delivery, each transaction in the writer it is handed; links in short transactions."""
    settings = Settings(housekeeping_seconds=7, intake_poll_seconds=0.25)
    writer = worker.Yielding()
    tasks = {t.name: t for t in worker.follower_tasks(settings, writer)}
    periodic = [t.name for t in worker.case_tasks(settings) if t.every_s > 0]
    assert list(tasks) == periodic  # the worker's passes, in its order, no catch-up
    for name in ("cases.housekeeping", "links", "screening", "accounts", "cases.delivery"):
        assert name in tasks
    assert periodic.index("accounts") < periodic.index("cases.delivery")
    assert tasks["cases.housekeeping"].every_s == 7
    slow = {"cases.housekeeping": 7, "qa.sampling": 7, "reports.rollup": 7}
    slow |= {"cases.outcome_labels": 7}
    slow |= {"reports.digest": 3_600, "sar.retention": 86_400}
    assert {n: t.every_s for n, t in tasks.items() if n in slow} == slow
    assert {t.every_s for n, t in tasks.items() if n not in slow} == {0.25}
    assert periodic.index("cases.delivery") < periodic.index("outbound.delivery")
    for name in ("links", "screening", "accounts", "cases.delivery", "outbound.delivery"):
        run = tasks[name].run
        assert isinstance(run, partial) and run.keywords["writer"] is writer, name
    links = tasks["links"].run
    assert isinstance(links, partial) and links.func is worker._links_in_short_batches
    assert worker.CHILD_LINKS_BATCH <= 500


def test_the_childs_writer_hands_the_lock_back_for_as_long_as_it_held_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After each transaction the child sleeps as long as the transaction took (at least
    the minimal pause), so a decision waiting on SQLite's lock gets it on its next try."""
    clock = iter([10.0, 10.25, 20.0, 20.0001])
    pauses: list[float] = []
    monkeypatch.setattr(worker.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(worker.time, "sleep", pauses.append)
    writer = worker.Yielding(pause=0.002)
    with writer:
        pass
    with pytest.raises(RuntimeError), writer:
        raise RuntimeError("a failed transaction yields too")
    assert pauses == [pytest.approx(0.25), 0.002]


@pytest.mark.parametrize("fails", [False, True], ids=["loads", "fails"])
def test_warm_intel_loads_the_lazy_data_in_a_daemon_thread(
    monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    """The ASN table loads in the background; a missing table is logged, never raised."""
    from riskops.intel import service as intel

    calls: list[str] = []

    class Service:
        def warm(self) -> None:
            calls.append("warm")
            if fails:
                raise FileNotFoundError("no ASN table")

    import threading

    escaped: list[object] = []
    monkeypatch.setattr(intel, "default_service", Service)
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    thread = worker.warm_intel()
    assert thread.daemon
    thread.join(timeout=30)
    assert not thread.is_alive() and calls == ["warm"] and escaped == []


def test_intel_is_handed_the_sanctions_lists_addresses(tmp_path: Path) -> None:
    """The server and the worker hand intel the loaded lists' addresses (ADR 0031): its
    listed-address provider is then the screening store's book, kept by a thread."""
    from riskops.intel.service import default_service
    from riskops.kernel.db import make_engine, migrate, session_factory
    from riskops.screening.addresses import ListedAddressBook

    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    service = default_service()
    before = service._listed, service._listed_source
    try:
        book = worker.watch_listed_addresses(session_factory(engine), Settings(data_dir=tmp_path))
        assert isinstance(service._listed, ListedAddressBook) and service._listed is book
        book.stop()
    finally:
        service.set_listed(*before)
        engine.dispose()


def test_the_followers_child_beside_partition_workers_follows_their_position() -> None:
    """In cluster mode the accounts follower reads the partitions' checkpoints (ADR 0047),
    not the single process's, which never moves there."""
    from riskops.cluster.feed import ClusterFeed
    from riskops.monitor.service import AccountFeed

    settings = Settings(housekeeping_seconds=7, intake_poll_seconds=0.25)
    feed = ClusterFeed("RISK_X")
    accounts = {t.name: t for t in worker.follower_tasks(settings, None, feed)}["accounts"].run
    assert isinstance(accounts, partial) and accounts.keywords["feed"] is feed
    alone = {t.name: t for t in worker.follower_tasks(settings, None)}["accounts"].run
    assert isinstance(alone, partial) and isinstance(alone.keywords["feed"], AccountFeed)


def _refreshers() -> set[object]:
    import threading

    return {t for t in threading.enumerate() if t.name == "riskops-listed-addresses"}


def _ended(threads: set[object]) -> bool:
    import threading

    for thread in threads:
        assert isinstance(thread, threading.Thread)
        thread.join(timeout=10)
    return not any(t.is_alive() for t in threads if isinstance(t, threading.Thread))


def test_the_worker_stops_the_listed_addresses_refresher_it_started(tmp_path: Path) -> None:
    """Its thread would go on reading the database of a worker that ended (in a test, one
    whose schema was dropped: a warning every 5 s for the rest of the run)."""
    from riskops.intel.service import default_service

    service = default_service()
    before, listed = _refreshers(), (service._listed, service._listed_source)
    try:
        worker.run(Settings(data_dir=tmp_path, database_url=""), once=True)
        assert service._listed is not listed[0]  # it started one, and handed it to intel
        assert _ended(_refreshers() - before)
    finally:
        service.set_listed(*listed)


def test_the_server_stops_the_listed_addresses_refresher_with_its_container(
    tmp_path: Path,
) -> None:
    import asyncio

    from riskops.web.deps import Container

    box = Container.from_settings(
        Settings(data_dir=tmp_path, database_url="", serve_followers=False)
    )
    before = _refreshers()

    async def start_and_stop() -> set[object]:
        await box.start()
        running = _refreshers() - before
        await box.stop()
        return running

    running = asyncio.run(start_and_stop())
    assert len(running) == 1 and _ended(running)

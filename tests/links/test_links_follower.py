"""The links follower keeps the graph from the log, a bounded batch per transaction with its
cursor: a crash mid-batch loses nothing, a restart or a replay from the start duplicates
neither links nor cluster alerts, two followers take turns, and the monitor keeps no graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from links_fakes import created, login, withdrawal
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import follow as log_follow
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.models import OutboxMessage
from riskops.links import tasks
from riskops.links.keeper import LinkKeeper
from riskops.links.models import AccountLink, LinkMember, LinksCursor
from riskops.monitor.runtime import MonitorRuntime
from riskops.monitor.service import ALERT_RAISED
from riskops.rules.types import Evaluation


class QuietEvaluator:
    """Decides nothing: the monitor here only shows it keeps no graph."""

    def process(self, row: dict[str, Any]) -> Evaluation:
        return Evaluation([], [])

    def snapshot(self) -> bytes:
        return b"{}"


class QuietFactory:
    fingerprint = "quiet"

    def new(self) -> QuietEvaluator:
        return QuietEvaluator()

    def restore(self, blob: bytes) -> QuietEvaluator:
        return QuietEvaluator()


def traffic() -> list[s.Event]:
    """Two rings (a shared device; a shared withdrawal address), and bystanders."""
    events: list[s.Event] = []
    for i in range(4):
        events.append(created(f"r{i}", f"ring-{i}", device="dev-ring", minutes=i))
        events.append(
            login(f"rl{i}", f"ring-{i}", ip=f"198.51.100.{i}", device="dev-ring", minutes=30 + i)
        )
    for i in range(6):
        events.append(created(f"b{i}", f"by-{i}", device=f"dev-{i}", minutes=60 + i))
    for i in range(3):
        events.append(withdrawal(f"w{i}", f"mule-{i}", "TXcollector", minutes=90 + i))
    return events


def runtime(engine: Engine, path: Path, **kwargs: Any) -> MonitorRuntime:
    return MonitorRuntime(engine, QuietFactory(), snapshot_path=path / "monitor.snapshot", **kwargs)


def state(engine: Engine) -> tuple[int, dict[str, list[str]], list[tuple[str, int]]]:
    with session_factory(engine)() as session:
        links = int(session.scalar(select(func.count()).select_from(AccountLink)) or 0)
        members: dict[str, list[str]] = {}
        for account, cluster in session.execute(
            select(LinkMember.account_id, LinkMember.cluster_id)
        ):
            members.setdefault(cluster, []).append(account)
        alerts = [
            (m.payload["cluster_id"], m.payload["cluster_size"])
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == ALERT_RAISED)
            )
            if m.payload["rule_id"] == "linked_accounts"
        ]
    return links, {c: sorted(a) for c, a in members.items()}, sorted(alerts)


RINGS = {
    "ring-0": ["ring-0", "ring-1", "ring-2", "ring-3"],
    "mule-0": ["mule-0", "mule-1", "mule-2"],
}
ALERTS = [("mule-0", 3), ("ring-0", 4)]  # once each (the ring formed at 4)


def _ingest(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in traffic()], source="file")


def _forget(sessions: sessionmaker[Session]) -> None:
    """Drop the graph, its alerts and the cursor (the log stays)."""
    with unit_of_work(sessions) as session:
        for table in ("link_values", "account_links", "link_members", "link_clusters"):
            session.execute(text(f"DELETE FROM {table}"))
        session.execute(delete(OutboxMessage))
        session.execute(delete(LinksCursor))


def test_the_follower_keeps_the_graph_and_a_replay_changes_nothing(engine: Engine) -> None:
    _ingest(engine)
    sessions = session_factory(engine)
    progress = tasks.follow(sessions, LinkKeeper(), limit=4)
    assert progress.caught_up and progress.batches == 5  # 17 events, 4 a transaction
    with sessions() as session:
        assert tasks.cursor(session) == len(traffic())
    links, clusters, alerts = state(engine)
    assert (clusters, alerts) == (RINGS, ALERTS)
    # Caught up: another pass reads nothing and writes nothing.
    again = tasks.follow(sessions, LinkKeeper(), limit=4)
    assert (again.events, again.batches) == (0, 1)
    # A replay of the whole log (the cursor lost, a keeper that remembers nothing).
    with unit_of_work(sessions) as session:
        session.execute(delete(LinksCursor))
    replay = tasks.follow(sessions, LinkKeeper(), limit=5)
    assert replay.events == len(traffic()) and (replay.new, replay.alerts) == (0, 0)
    assert state(engine) == (links, clusters, alerts)


def test_a_crash_mid_batch_loses_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _ingest(engine)
    sessions = session_factory(engine)
    keeper = LinkKeeper()
    tasks.follow(sessions, keeper, limit=4, max_batches=2)  # 8 events kept
    with sessions() as session:
        assert tasks.cursor(session) == 8
    real = log_follow.advance
    calls = 0

    def dies(*args: Any, **kwargs: Any) -> None:
        # the third batch's links are written, its alerts published, then the process dies
        nonlocal calls
        calls += 1
        raise RuntimeError("killed")

    monkeypatch.setattr(log_follow, "advance", dies)
    with pytest.raises(RuntimeError):
        tasks.follow(sessions, keeper, limit=4)
    assert calls == 1
    with sessions() as session:
        assert tasks.cursor(session) == 8  # rolled back with the batch's links
    partial = state(engine)
    monkeypatch.setattr(log_follow, "advance", real)
    # The next start (a fresh keeper: the process died) takes it from the cursor.
    tasks.follow(sessions, LinkKeeper(), limit=4)
    links, clusters, alerts = state(engine)
    assert (clusters, alerts) == (RINGS, ALERTS)
    assert links > partial[0]
    # The same as one uninterrupted pass over a fresh copy of the graph.
    _forget(sessions)
    tasks.follow(sessions, LinkKeeper(), limit=4)
    assert state(engine) == (links, clusters, alerts)


def test_two_followers_take_turns(engine: Engine) -> None:
    """The server's and the worker's followers share the cursor: batch by batch, in turns,
    they keep the graph once."""
    _ingest(engine)
    sessions = session_factory(engine)
    first, second = LinkKeeper(), LinkKeeper()
    for _ in range(3):
        tasks.follow(sessions, first, limit=3, max_batches=1)
        tasks.follow(sessions, second, limit=3, max_batches=1)
    assert tasks.follow(sessions, first, limit=3).caught_up
    taken_in_turns = state(engine)
    assert taken_in_turns[1] == RINGS
    _forget(sessions)
    tasks.follow(sessions, LinkKeeper(), limit=3)  # the same batches, one follower
    assert state(engine) == taken_in_turns


def test_the_monitor_keeps_no_graph(engine: Engine, tmp_path: Path) -> None:
    _ingest(engine)
    rt = runtime(engine, tmp_path)
    rt.catch_up()
    assert rt.checkpoint() == len(traffic())
    assert state(engine) == (0, {}, [])


def test_the_worker_once_keeps_the_graph_and_cases_take_its_alerts(
    engine: Engine, tmp_path: Path
) -> None:
    """``riskops worker --once`` follows the log to its end before it returns (the links
    catch-up runs before the case delivery), so its clusters are cases."""
    from processes import database_url
    from riskops import worker
    from riskops.cases.models import Case
    from riskops.kernel.config import Settings

    _ingest(engine)
    settings = Settings(database_url=database_url(engine), data_dir=tmp_path, snapshot_seconds=0)
    worker.run(settings, once=True)
    _, clusters, _ = state(engine)
    assert clusters == RINGS
    with session_factory(engine)() as session:
        with_cases = set(session.scalars(select(Case.account_id)))
        assert {"ring-0", "mule-0"} <= with_cases
        assert tasks.cursor(session) == len(traffic())

"""The monitor keeps the graph in its batches; a restart (snapshot + replay) duplicates
neither links nor cluster alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from links_fakes import created, login, withdrawal
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.models import OutboxMessage
from riskops.links.models import AccountLink, LinkMember
from riskops.monitor.runtime import MonitorRuntime
from riskops.monitor.service import ALERT_RAISED
from riskops.rules.types import Evaluation


class QuietEvaluator:
    """Decides nothing: these tests are about the graph the monitor keeps."""

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


def test_the_monitor_keeps_the_graph_and_a_restart_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in traffic()], source="file")
    first = runtime(engine, tmp_path, batch_size=4, snapshot_every=8)
    for _ in range(3):  # 12 of 17 events; the snapshot says 8
        first.step()
    # A crash: the next runtime restores the snapshot (seq 8) and replays 9..12 again.
    second = runtime(engine, tmp_path, batch_size=4, snapshot_every=8)
    assert second.seq == 8
    second.catch_up()
    assert second.checkpoint() == len(traffic())
    links, clusters, alerts = state(engine)
    assert clusters == {
        "ring-0": ["ring-0", "ring-1", "ring-2", "ring-3"],
        "mule-0": ["mule-0", "mule-1", "mule-2"],
    }
    assert alerts == [("mule-0", 3), ("ring-0", 4)]  # once each (the ring formed at 4)
    # A full replay from nothing (no snapshot) writes nothing new either.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    replay = runtime(engine, fresh, name="replay")
    replay.catch_up()
    assert state(engine) == (links, clusters, alerts)


def test_the_monitor_can_run_without_the_graph(engine: Engine, tmp_path: Path) -> None:
    with unit_of_work(session_factory(engine)) as session:
        ingest(session, [(None, e) for e in traffic()], source="file")
    rt = runtime(engine, tmp_path)
    rt.links = None
    rt.catch_up()
    assert state(engine) == (0, {}, [])

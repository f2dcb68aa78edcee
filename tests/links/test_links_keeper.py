"""Keeping the graph: links written once, hubs detected, clusters joined and alerted once."""

from __future__ import annotations

from typing import Any

import pytest
from links_fakes import created, login, transfer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.models import OutboxMessage
from riskops.links import repository as repo
from riskops.links.keeper import ALERT_RAISED, LinkKeeper
from riskops.links.models import AccountLink, LinkCluster, LinkMember
from riskops.links.policy import LinkPolicy


def keep(engine: Engine, keeper: LinkKeeper, events: list[s.Event], start: int = 1) -> Any:
    with unit_of_work(session_factory(engine)) as session:
        return keeper.record(session, [(e, i) for i, e in enumerate(events, start)])


def clusters(engine: Engine) -> dict[str, list[str]]:
    with session_factory(engine)() as session:
        out: dict[str, list[str]] = {}
        for account, cluster in session.execute(
            select(LinkMember.account_id, LinkMember.cluster_id)
        ):
            out.setdefault(cluster, []).append(account)
        sizes = dict(session.execute(select(LinkCluster.cluster_id, LinkCluster.size)).all())
    assert {c: len(a) for c, a in out.items()} == sizes  # the stored sizes agree
    return {c: sorted(a) for c, a in out.items()}


def alerts(engine: Engine) -> list[dict[str, Any]]:
    with session_factory(engine)() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == ALERT_RAISED))
        return [dict(r.payload) for r in rows]


def link_count(engine: Engine) -> int:
    with session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(AccountLink)) or 0)


def ring(n: int, device: str = "dev-ring", start: int = 0) -> list[s.Event]:
    return [
        created(f"c{i}", f"acc-{i}", device=device, ip=f"198.51.100.{i + 1}", minutes=i)
        for i in range(start, start + n)
    ]


def test_a_shared_device_makes_one_cluster_alerted_once(engine: Engine) -> None:
    keeper = LinkKeeper()
    keep(engine, keeper, ring(3))
    assert clusters(engine) == {"acc-0": ["acc-0", "acc-1", "acc-2"]}
    [alert] = alerts(engine)
    assert alert["rule_id"] == "linked_accounts" and alert["typology"] == "multi-accounting"
    assert alert["accounts"] == ["acc-0", "acc-1", "acc-2"]
    assert alert["group_key"] == "links:acc-0" and alert["cluster_size"] == 3
    links = link_count(engine)
    # the same events again, by this keeper and by a fresh one (a restart): nothing changes
    keep(engine, keeper, ring(3))
    keep(engine, LinkKeeper(), ring(3))
    assert link_count(engine) == links
    assert len(alerts(engine)) == 1
    assert clusters(engine) == {"acc-0": ["acc-0", "acc-1", "acc-2"]}


def test_a_cluster_is_alerted_again_only_when_it_has_grown_enough(engine: Engine) -> None:
    keeper = LinkKeeper(LinkPolicy(alert_size=3, alert_growth=2))
    keep(engine, keeper, ring(2))
    assert alerts(engine) == []  # two accounts: below the threshold
    keep(engine, keeper, ring(1, start=2))
    keep(engine, keeper, ring(1, start=3))
    assert [a["cluster_size"] for a in alerts(engine)] == [3]
    keep(engine, keeper, ring(1, start=4))
    assert [a["cluster_size"] for a in alerts(engine)] == [3, 5]


def test_two_clusters_joined_by_a_new_link_become_one(engine: Engine) -> None:
    keeper = LinkKeeper()
    keep(engine, keeper, ring(3, device="dev-a"))
    keep(engine, keeper, ring(3, device="dev-b", start=10))
    assert len(clusters(engine)) == 2
    keep(engine, keeper, [login("l1", "acc-11", device="dev-a", minutes=99)])
    assert clusters(engine) == {"acc-0": sorted(f"acc-{i}" for i in (0, 1, 2, 10, 11, 12))}
    assert [a["cluster_size"] for a in alerts(engine)] == [3, 3, 6]


def test_weak_links_join_only_together(engine: Engine) -> None:
    keeper = LinkKeeper()
    keep(engine, keeper, [login("l1", "a", ip="203.0.113.9"), login("l2", "b", ip="203.0.113.9")])
    assert clusters(engine) == {}  # one shared IP is not enough
    keep(engine, keeper, [transfer("t1", "a", "b", minutes=5)])
    assert clusters(engine) == {"a": ["a", "b"]}  # the IP and a transfer between them are


def test_a_hub_value_joins_no_one_and_splits_what_it_joined(engine: Engine) -> None:
    policy = LinkPolicy(hub_accounts=5)
    keeper = LinkKeeper(policy)
    # five accounts on one device: a cluster, then the sixth makes the device a hub
    keep(engine, keeper, ring(5, device="common"))
    assert len(clusters(engine)) == 1
    keep(engine, keeper, ring(1, device="common", start=5))
    assert clusters(engine) == {}
    # two of them also share a phone: they stay linked through it
    keep(
        engine,
        keeper,
        [created("p1", "acc-0", phone="+15550001"), created("p2", "acc-1", phone="+15550001")],
    )
    assert clusters(engine) == {"acc-0": ["acc-0", "acc-1"]}
    with session_factory(engine)() as session:
        assert repo.value_info(session, "device", "common") == (6, True)


def test_a_hub_split_keeps_the_part_with_the_cluster_id(engine: Engine) -> None:
    keeper = LinkKeeper(LinkPolicy(hub_accounts=4))
    events: list[s.Event] = [
        created("a", "x1", device="d1"),
        created("b", "x2", device="d1"),
        created("c", "y1", device="d2"),
        created("d", "y2", device="d2"),
        login("e", "x1", device="bridge"),
        login("f", "y1", device="bridge"),
    ]
    keep(engine, keeper, events)
    assert clusters(engine) == {"x1": ["x1", "x2", "y1", "y2"]}
    keep(
        engine,
        keeper,
        [
            login("g", "z1", device="bridge"),
            login("h", "z2", device="bridge"),
            login("i", "z3", device="bridge"),
        ],
    )
    assert clusters(engine) == {"x1": ["x1", "x2"], "y1": ["y1", "y2"]}


def test_what_a_rolled_back_batch_wrote_is_written_again(engine: Engine) -> None:
    keeper = LinkKeeper()
    with pytest.raises(RuntimeError), unit_of_work(session_factory(engine)) as session:
        keeper.record(session, [(e, i) for i, e in enumerate(ring(3), 1)])
        raise RuntimeError("the batch failed after the links were written")
    assert link_count(engine) == 0
    keep(engine, keeper, ring(3))  # the keeper did not take the failed batch as written
    assert link_count(engine) > 0 and len(alerts(engine)) == 1


def test_the_alert_topic_is_the_monitors() -> None:
    from riskops.monitor.service import ALERT_RAISED as MONITOR_TOPIC

    assert ALERT_RAISED == MONITOR_TOPIC


def test_a_cluster_alert_becomes_a_case_alert(engine: Engine) -> None:
    from riskops.cases.alert_intake import drain_outbox
    from riskops.cases.models import CaseAlert

    keep(engine, LinkKeeper(), ring(3))
    with unit_of_work(session_factory(engine)) as session:
        assert drain_outbox(session) == 1
        assert outbox.pending(session, ALERT_RAISED) == 0
    with session_factory(engine)() as session:
        [alert] = session.scalars(select(CaseAlert)).all()
    assert alert.kind == "linked_accounts" and alert.account_id == "acc-0"
    assert alert.typology == "multi-accounting"


def test_the_thresholds_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from riskops.kernel.config import get_settings

    monkeypatch.setenv("RISKOPS_LINKS_HUB_ACCOUNTS", "7")
    monkeypatch.setenv("RISKOPS_LINKS_ALERT_SIZE", "4")
    get_settings.cache_clear()
    try:
        policy = LinkKeeper().policy
    finally:
        get_settings.cache_clear()
    assert (policy.hub_limit("device"), policy.hub_limit("ip_net")) == (7, 70)
    assert not policy.alert_due(3, 0) and policy.alert_due(4, 0)
    assert not policy.alert_due(5, 4) and policy.alert_due(6, 4)

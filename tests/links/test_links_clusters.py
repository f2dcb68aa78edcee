"""Clusters kept batch by batch equal the connected components computed from scratch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from links_fakes import created, login, transfer
from sqlalchemy import select

from riskops.events import schemas as s
from riskops.kernel.db import session_factory, unit_of_work
from riskops.links.clusters import UnionFind, joined, pair_weights
from riskops.links.extract import links_of
from riskops.links.keeper import LinkKeeper
from riskops.links.models import LinkMember
from riskops.links.policy import LinkPolicy
from support import migrated_engine

ACCOUNTS = [f"a{i}" for i in range(8)]
HUB = 3


@st.composite
def traffic(draw: st.DrawFn) -> list[s.Event]:
    events: list[s.Event] = []
    for n in range(draw(st.integers(min_value=1, max_value=30))):
        account = draw(st.sampled_from(ACCOUNTS))
        kind = draw(st.sampled_from(["device", "ip", "transfer", "phone"]))
        pick = draw(st.integers(min_value=0, max_value=1))
        if kind == "device":
            events.append(login(f"e{n}", account, device=f"d{pick}", minutes=n))
        elif kind == "ip":
            events.append(login(f"e{n}", account, ip=f"203.0.113.{pick}", minutes=n))
        elif kind == "phone":
            events.append(created(f"e{n}", account, phone=f"+1555000{pick}", minutes=n))
        else:
            other = draw(st.sampled_from(ACCOUNTS))
            if other != account:
                events.append(transfer(f"e{n}", account, other, minutes=n))
    return events


def from_scratch(events: list[s.Event]) -> list[list[str]]:
    links = {link for e in events for link in links_of(e)}
    counts = Counter((k, v) for _, k, v in links)
    kept = [(a, k, v) for a, k, v in links if counts[(k, v)] <= HUB]
    uf = UnionFind()
    for a, b in joined(pair_weights(kept)):
        uf.union(a, b)
    return sorted(g for g in uf.groups() if len(g) > 1)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(traffic(), st.integers(min_value=1, max_value=6))
def test_incremental_clusters_are_the_components(
    tmp_path_factory: object, events: list[s.Event], batch: int
) -> None:
    root = Path(tmp_path_factory.mktemp("db"))  # type: ignore[attr-defined]
    with migrated_engine("sqlite", root) as engine:
        keeper = LinkKeeper(LinkPolicy(hub_accounts=HUB))
        sessions = session_factory(engine)
        for start in range(0, len(events), batch):
            part = events[start : start + batch]
            with unit_of_work(sessions) as session:
                keeper.record(session, [(e, start + i) for i, e in enumerate(part, 1)])
        with sessions() as session:
            groups: dict[str, list[str]] = {}
            for account, cluster in session.execute(
                select(LinkMember.account_id, LinkMember.cluster_id)
            ):
                groups.setdefault(cluster, []).append(account)
                assert account in groups[cluster]
        assert all(cid in members for cid, members in groups.items())  # an id is a member
        assert sorted(sorted(g) for g in groups.values()) == from_scratch(events)

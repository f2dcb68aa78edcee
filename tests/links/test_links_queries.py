"""Who else used a value, linked accounts (one and two hops), the cluster, the graph."""

from __future__ import annotations

import json

import pytest
from links_fakes import ANALYST, at, created, login, transfer, withdrawal
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, PrincipalKind
from riskops.events import schemas as s
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, ValidationFailed
from riskops.links import service
from riskops.links.keeper import LinkKeeper
from riskops.links.policy import LinkPolicy

NOBODY = Principal(PrincipalKind.TOKEN, 5, "token:none")


def graph_events() -> list[s.Event]:
    """a and b share a device; b and c a phone; c sends to d; e sits on a hub IP with a."""
    events: list[s.Event] = [
        created("1", "a", device="dev-ab", email="Ann.Lee+x@gmail.com", minutes=1),
        created("2", "b", device="dev-ab", phone="+1 555 000 0001", minutes=2),
        created("3", "c", phone="+15550000001", minutes=3),
        transfer("4", "c", "d", minutes=4),
        withdrawal("5", "d", "TQ1address", minutes=5),
    ]
    # a carrier NAT address: six accounts, a hub at more than five
    events += [
        login(f"n{i}", acc, ip="100.64.0.1", minutes=10 + i)
        for i, acc in enumerate(["a", "e", "f", "g", "h", "i"])
    ]
    return events


@pytest.fixture
def sessions(engine: Engine) -> object:
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        LinkKeeper(LinkPolicy(hub_accounts=5)).record(
            session, [(e, i) for i, e in enumerate(graph_events(), 1)]
        )
    return factory


def read(sessions: object) -> Session:
    return sessions()  # type: ignore[operator, no-any-return]


def test_who_else_lists_the_accounts_of_a_value_as_typed(sessions: object) -> None:
    with read(sessions) as session:
        page = service.who_else(session, ANALYST, "phone", "+1 (555) 000-0001")
    assert (page.kind, page.value, page.accounts, page.hub) == ("phone", "+15550000001", 2, False)
    assert [u.account_id for u in page.items] == ["b", "c"]
    assert page.items[0].first_seen == at(2)


def test_who_else_pages_and_marks_a_hub(sessions: object) -> None:
    with read(sessions) as session:
        first = service.who_else(session, ANALYST, "ip", "100.64.0.1", limit=4)
        second = service.who_else(
            session, ANALYST, "ip", "100.64.0.1", limit=4, cursor=first.next_cursor
        )
        net = service.who_else(session, ANALYST, "ip_net", "100.64.0.77")
    assert first.hub and first.accounts == 6
    assert [u.account_id for u in first.items + second.items] == list("aefghi")
    assert second.next_cursor is None
    assert net.value == "100.64.0.0/24" and len(net.items) == 6


def test_one_hop_names_the_shared_values_and_skips_hubs(sessions: object) -> None:
    with read(sessions) as session:
        answer = service.linked(session, ANALYST, "a", hops=1)
    assert [(i.account_id, i.hop) for i in answer.items] == [("b", 1)]
    [shared] = answer.items[0].shared
    assert (shared.kind, shared.value, shared.first_shared) == ("device", "dev-ab", at(2))
    assert [(h.kind, h.value, h.accounts) for h in answer.hubs] == [("ip", "100.64.0.1", 6)]


def test_two_hops_reach_through_the_first(sessions: object) -> None:
    with read(sessions) as session:
        two = service.linked(session, ANALYST, "a", hops=2)
        from_c = service.linked(session, ANALYST, "c", hops=2)
    assert [(i.account_id, i.hop, i.via) for i in two.items] == [("b", 1, None), ("c", 2, "b")]
    assert [s.kind for s in two.items[1].shared] == ["phone"]
    # a transfer links the two accounts directly, both ways
    assert [(i.account_id, i.hop) for i in from_c.items] == [("b", 1), ("d", 1), ("a", 2)]
    assert {s.kind for i in from_c.items for s in i.shared} == {"phone", "transfer", "device"}


def test_the_limit_truncates_and_says_so(sessions: object) -> None:
    with read(sessions) as session:
        answer = service.linked(session, ANALYST, "c", hops=2, limit=1)
    assert len(answer.items) == 1 and answer.truncated


def test_the_cluster_holds_the_strongly_linked_accounts(sessions: object) -> None:
    with read(sessions) as session:
        cluster = service.cluster_of(session, ANALYST, "a")
        alone = service.cluster_of(session, ANALYST, "d")
    assert cluster is not None and cluster.accounts == ["a", "b", "c"] and cluster.size == 3
    assert alone is None  # a transfer alone does not join


def test_the_graph_is_cytoscape_json(sessions: object) -> None:
    with read(sessions) as session:
        g = service.graph(session, ANALYST, "c", hops=1)
    nodes = {n["data"]["id"]: n["data"] for n in g.nodes}
    edges = {(e["data"]["source"], e["data"]["target"]) for e in g.edges}
    assert set(nodes) == {"acct:c", "acct:b", "acct:d", "val:phone:+15550000001"}
    assert nodes["acct:b"]["hop"] == 1 and nodes["val:phone:+15550000001"]["hub"] is False
    assert edges == {
        ("acct:c", "val:phone:+15550000001"),
        ("acct:b", "val:phone:+15550000001"),
        ("acct:c", "acct:d"),
    }
    assert all(e["data"]["id"] for e in g.edges)
    json.dumps({"nodes": g.nodes, "edges": g.edges})  # plain JSON for cytoscape.js


def test_hub_values_are_graph_nodes_marked_and_not_followed(sessions: object) -> None:
    with read(sessions) as session:
        g = service.graph(session, ANALYST, "a", hops=2)
    hub = next(n["data"] for n in g.nodes if n["data"]["id"] == "val:ip:100.64.0.1")
    assert hub["hub"] is True and hub["accounts"] == 6
    assert "acct:e" not in {n["data"]["id"] for n in g.nodes}


def test_reads_need_account_view_and_are_audited(engine: Engine, sessions: object) -> None:
    with read(sessions) as session, pytest.raises(Forbidden):
        service.linked(session, NOBODY, "a")
    with unit_of_work(sessions) as session:  # type: ignore[arg-type]
        service.linked(session, ANALYST, "a", hops=2)
    with read(sessions) as session:
        seen = session.execute(
            select(AuditEntry.action, AuditEntry.subject_id).where(
                AuditEntry.action == "links.linked"
            )
        ).all()
    assert sorted(seen) == [("links.linked", "b"), ("links.linked", "c")]


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [("colour", "red", "kind"), ("ip", "999.0.0.1", "value"), ("email", "nobody", "value")],
)
def test_bad_input_is_refused_clearly(sessions: object, kind: str, value: str, field: str) -> None:
    with read(sessions) as session, pytest.raises(ValidationFailed) as refused:
        service.who_else(session, ANALYST, kind, value)
    assert refused.value.details[0]["field"] == field


def test_hops_and_limits_are_bounded(sessions: object) -> None:
    with read(sessions) as session:
        for bad in ({"hops": 3}, {"hops": 0}, {"limit": 0}, {"limit": 10_000}):
            with pytest.raises(ValidationFailed):
                service.linked(session, ANALYST, "a", **bad)  # type: ignore[arg-type]


def test_neighbours_for_the_rating_follow_what_linked_follows(sessions: object) -> None:
    with read(sessions) as session:
        found = service.neighbours(session, ["a", "c", "e", "zz"])
    # a: the device (the hub IP not followed); c: the phone and the transfer
    assert found == {"a": {"b"}, "c": {"b", "d"}, "e": set(), "zz": set()}

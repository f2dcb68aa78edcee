"""Linked-accounts use cases: who else used a value, the accounts linked to one (one or two
hops), its cluster, and the graph of it for the console.

Each read takes the caller's session and ``Principal``, needs ``account:view`` and records
the accounts it showed in the audit trail (ADR 0020). Hubs (values too many accounts share,
``riskops.links.policy``) are listed with a marker and a count, never traversed; a /24
network is only listed by ``who_else``, never traversed. The graph is written by the
links follower of the event log (``riskops.links.tasks`` through
``riskops.links.keeper.LinkKeeper``), not here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.audit import service as audit
from riskops.auth.permissions import Permission, Principal, require
from riskops.kernel.errors import ValidationFailed
from riskops.links import normalise as n
from riskops.links import repository as repo
from riskops.links.keeper import ALERT_RAISED, RULE_ID, FlushResult, LinkKeeper
from riskops.links.policy import EDGE_KINDS, Kind, LinkPolicy, weight
from riskops.links.schemas import (
    Cluster,
    Graph,
    HubValue,
    Linked,
    LinkedAccount,
    Shared,
    Use,
    WhoElse,
)

__all__ = [
    "ALERT_RAISED",
    "RULE_ID",
    "FlushResult",
    "LinkKeeper",
    "LinkPolicy",
    "cluster_of",
    "graph",
    "linked",
    "neighbours",
    "normalise",
    "who_else",
]

MAX_HOPS = 2
MAX_LIMIT = 500
MAX_PAGE = 200

_NORMALISERS: dict[Kind, Callable[[str | None], str | None]] = {
    Kind.PHONE: n.phone,
    Kind.EMAIL: n.email,
    Kind.IP: n.ip,
    Kind.IP_NET: n.ip_net,
    Kind.DEVICE: n.token,
    Kind.CARD: n.token,
    Kind.BANK: n.token,
    Kind.DEPOSIT_ADDRESS: n.address,
    Kind.WITHDRAWAL_ADDRESS: n.address,
    Kind.REFERRAL_CODE: n.token,
    Kind.TRANSFER: n.token,
    Kind.P2P: n.token,
    Kind.REFERRAL: n.token,
}


def normalise(kind: str, value: str) -> tuple[Kind, str]:
    """The kind and the stored spelling of a value as a person typed it (an IP in a /24
    search is taken as its network). Refuses an unknown kind or a value of no such kind."""
    try:
        k = Kind(kind)
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise ValidationFailed(
            f"unknown kind {kind!r}",
            details=[{"field": "kind", "reason": f"one of {known}"}],
        ) from None
    text = value.strip() if value else ""
    if k is Kind.IP_NET and "/" in text:
        text = text.split("/", 1)[0]
    canonical = _NORMALISERS[k](text[:256])
    if canonical is None:
        raise ValidationFailed(
            f"not a valid {k.value}", details=[{"field": "value", "reason": f"not a {k.value}"}]
        )
    return k, canonical


# --- who else used this ---------------------------------------------------------------


def who_else(
    session: Session,
    reader: Principal,
    kind: str,
    value: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> WhoElse:
    """The accounts that used a value, in account order, a page at a time (``cursor``: the
    last account of the previous page), with when each first and last used it; a hub too
    (with its marker and the count of every account)."""
    require(reader, Permission.ACCOUNT_VIEW)
    _check_limit(limit, MAX_PAGE)
    k, canonical = normalise(kind, value)
    accounts, hub = repo.value_info(session, k.value, canonical) or (0, False)
    rows = repo.who_used(session, k.value, canonical, limit + 1, cursor)
    items = [Use(a, f, last) for a, f, last in rows[:limit]]
    more = len(rows) > limit
    ref = f"{k.value}:{canonical}"
    audit.record_views(
        session, reader, "links.who_else", "account", {u.account_id: [ref] for u in items}
    )
    return WhoElse(k.value, canonical, accounts, hub, items, items[-1].account_id if more else None)


# --- linked accounts ------------------------------------------------------------------


@dataclass
class _Found:
    hop: int
    via: str | None
    shared: dict[tuple[str, str], datetime] = field(default_factory=dict)


@dataclass
class _Walk:
    account_id: str
    found: dict[str, _Found]
    hubs: list[HubValue]
    truncated: bool


# values whose other users are looked up (account-to-account links name the other account)
_SHARED = frozenset(k.value for k in Kind if weight(k) > 0 and k not in EDGE_KINDS)


def _walk(session: Session, account_id: str, hops: int, limit: int) -> _Walk:
    """Breadth-first over values that are not hubs, at most ``limit`` accounts: one query
    per hop (``repository.shared_with``)."""
    found: dict[str, _Found] = {}
    hubs: list[HubValue] = []
    truncated = False
    frontier = [account_id]
    for hop in range(1, hops + 1):
        reached: dict[str, dict[str, dict[tuple[str, str], datetime]]] = {}
        for source, kind, value, first, hub, count, other, other_first in repo.shared_with(
            session, frontier, _SHARED
        ):
            if hub:
                if hop == 1:
                    hubs.append(HubValue(kind, value, count))
                continue
            if kind in EDGE_KINDS:
                other, at = value, first
            elif other is None or other_first is None:
                continue
            else:
                at = max(first, other_first)
            reached.setdefault(source, {}).setdefault(other, {})[(kind, value)] = at
        for source in sorted(reached):
            for other in sorted(reached[source]):
                if other == account_id:
                    continue
                entry = found.get(other)
                if entry is None:
                    if len(found) >= limit:
                        truncated = True
                        continue
                    entry = found[other] = _Found(hop, source if hop > 1 else None)
                if entry.hop == hop and entry.via == (source if hop > 1 else None):
                    entry.shared.update(reached[source][other])
        frontier = [a for a, e in found.items() if e.hop == hop]
        if not frontier:
            break
    hubs.sort(key=lambda h: (h.kind, h.value))
    return _Walk(account_id, found, hubs, truncated)


def linked(
    session: Session,
    reader: Principal,
    account_id: str,
    *,
    hops: int = 1,
    limit: int = 100,
) -> Linked:
    """The accounts linked to ``account_id`` within ``hops`` (1 or 2) links that are not
    hubs, nearest first, each with the values that link it and since when (at most
    ``limit`` accounts; ``truncated`` says there were more). The account's own hub values
    come in ``hubs``."""
    require(reader, Permission.ACCOUNT_VIEW)
    _check_hops(hops)
    _check_limit(limit, MAX_LIMIT)
    walk = _walk(session, account_id, hops, limit)
    clusters = repo.clusters_of(session, [account_id, *walk.found])
    items = sorted(
        (
            LinkedAccount(
                other,
                entry.hop,
                [
                    Shared(k, v, at)
                    for (k, v), at in sorted(entry.shared.items(), key=lambda i: (i[1], i[0]))
                ],
                entry.via,
                clusters.get(other),
            )
            for other, entry in walk.found.items()
        ),
        key=lambda item: (item.hop, -len(item.shared), item.account_id),
    )
    shown = {item.account_id: [account_id] for item in items}
    audit.record_views(session, reader, "links.linked", "account", shown, {"of": account_id})
    return Linked(account_id, hops, items, walk.hubs, walk.truncated, clusters.get(account_id))


def neighbours(session: Session, account_ids: Collection[str]) -> dict[str, set[str]]:
    """The accounts one link away from each of ``account_ids`` (values that are not hubs,
    a /24 not followed; a transfer, P2P trade or referral links its two accounts directly).

    For computations of the layers above (the account rating's "linked to a restricted
    account"), which show no account: no permission, no audit. What a person sees goes
    through ``linked``."""
    out: dict[str, set[str]] = {a: set() for a in account_ids}
    for source, kind, value, _, hub, _, other, _ in repo.shared_with(
        session, list(account_ids), _SHARED
    ):
        if hub:
            continue
        if kind in EDGE_KINDS:
            out[source].add(value)
        elif other is not None:
            out[source].add(other)
    for source in out:
        out[source].discard(source)
    return out


def cluster_of(session: Session, reader: Principal, account_id: str) -> Cluster | None:
    """The cluster the account is in, with every account of it; None if in none."""
    require(reader, Permission.ACCOUNT_VIEW)
    cluster_id = repo.clusters_of(session, [account_id]).get(account_id)
    if cluster_id is None:
        return None
    size, alerted, formed, updated = repo.cluster_row(session, cluster_id)
    accounts = repo.members_of(session, [cluster_id])[cluster_id]
    shown = {a: [cluster_id] for a in accounts if a != account_id}
    audit.record_views(session, reader, "links.cluster", "account", shown, {"of": account_id})
    return Cluster(cluster_id, size, alerted, formed, updated, accounts)


def graph(
    session: Session,
    reader: Principal,
    account_id: str,
    *,
    hops: int = 1,
    limit: int = 100,
) -> Graph:
    """The account, the accounts linked to it (``hops`` 1 or 2) and the values between
    them, as cytoscape.js elements: account nodes ``acct:{id}`` (``account_id``, ``hop``,
    ``cluster_id``), value nodes ``val:{kind}:{value}`` (``kind``, ``value``, ``hub``,
    ``accounts``), edges from an account to a value it used (``first_seen``) and, for a
    transfer, P2P trade or referral, from account to account. The account's hub values are
    nodes too (``hub: true``), not followed."""
    require(reader, Permission.ACCOUNT_VIEW)
    _check_hops(hops)
    _check_limit(limit, MAX_LIMIT)
    walk = _walk(session, account_id, hops, limit)
    accounts = [account_id, *walk.found]
    clusters = repo.clusters_of(session, accounts)
    nodes: dict[str, dict[str, object]] = {}
    edges: dict[str, dict[str, object]] = {}

    def account_node(a: str, hop: int) -> str:
        node_id = f"acct:{a}"
        nodes.setdefault(
            node_id,
            {
                "id": node_id,
                "label": a,
                "type": "account",
                "account_id": a,
                "hop": hop,
                "cluster_id": clusters.get(a),
            },
        )
        return node_id

    def value_node(kind: str, value: str, hub: bool = False, count: int | None = None) -> str:
        node_id = f"val:{kind}:{value}"
        nodes.setdefault(
            node_id,
            {
                "id": node_id,
                "label": value,
                "type": "value",
                "kind": kind,
                "value": value,
                "hub": hub,
                "accounts": count,
            },
        )
        return node_id

    def edge(source: str, target: str, kind: str, at: datetime) -> None:
        edge_id = f"{source}->{target}"
        edges.setdefault(
            edge_id,
            {
                "id": edge_id,
                "source": source,
                "target": target,
                "kind": kind,
                "first_seen": at.isoformat(),
            },
        )

    centre = account_node(account_id, 0)
    for hub in walk.hubs:
        # no time for a hub edge here: the hub list carries none; the value node says it all
        nodes.setdefault(f"val:{hub.kind}:{hub.value}", {})
        node = f"val:{hub.kind}:{hub.value}"
        nodes[node] = {
            "id": node,
            "label": hub.value,
            "type": "value",
            "kind": hub.kind,
            "value": hub.value,
            "hub": True,
            "accounts": hub.accounts,
        }
        edges[f"{centre}->{node}"] = {
            "id": f"{centre}->{node}",
            "source": centre,
            "target": node,
            "kind": hub.kind,
            "first_seen": None,
        }
    for other, entry in sorted(walk.found.items(), key=lambda i: (i[1].hop, i[0])):
        target = account_node(other, entry.hop)
        source = account_node(entry.via, entry.hop - 1) if entry.via else centre
        for (kind, value), at in sorted(entry.shared.items()):
            if kind in EDGE_KINDS:
                edge(source, target, kind, at)
            else:
                node = value_node(kind, value)
                edge(source, node, kind, at)
                edge(target, node, kind, at)
    shown = {a: [account_id] for a in walk.found}
    audit.record_views(session, reader, "links.graph", "account", shown, {"of": account_id})
    return Graph(
        [{"data": d} for d in nodes.values()],
        [{"data": d} for d in edges.values()],
        walk.truncated,
    )


def _check_hops(hops: int) -> None:
    if not 1 <= hops <= MAX_HOPS:
        raise ValidationFailed(
            "hops is 1 or 2", details=[{"field": "hops", "reason": f"1 to {MAX_HOPS}"}]
        )


def _check_limit(limit: int, most: int) -> None:
    if not 1 <= limit <= most:
        raise ValidationFailed(
            f"limit is 1 to {most}", details=[{"field": "limit", "reason": f"1 to {most}"}]
        )

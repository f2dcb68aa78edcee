"""Clusters of linked accounts, kept incrementally: union-find over the joins of each batch,
and a local recomputation when a value becomes a hub.

A join is a pair of accounts whose shared values (hubs left out) weigh at least
``policy.JOIN``. Joins only merge clusters; a value that becomes a hub may have joined some
before it was one, so the clusters of its accounts are recomputed from their remaining
links (connected components over the members only: a cluster is closed, any joining link
from a member to an outsider would have merged them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.links import repository as repo
from riskops.links.policy import EDGE_KINDS, JOIN, LinkPolicy, weight

Pair = tuple[str, str]


class UnionFind:
    """Disjoint sets of strings, with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.size: dict[str, int] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        if x not in parent:
            parent[x] = x
            self.size[x] = 1
            return x
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb] or (self.size[ra] == self.size[rb] and rb < ra):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for x in self.parent:
            out[self.find(x)].append(x)
        return [sorted(g) for g in out.values()]


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def pair_weights(links: Iterable[tuple[str, str, str]]) -> dict[Pair, float]:
    """The weight of every pair of accounts that share a value, from ``(account, kind,
    value)`` rows (hubs already left out). An account-to-account link counts once per pair
    and kind, and only with both of its stored directions."""
    by_value: dict[tuple[str, str], list[str]] = defaultdict(list)
    directed: set[tuple[str, str, str]] = set()
    for account, kind, value in links:
        if kind in EDGE_KINDS:
            if value != account:
                directed.add((account, kind, value))
        elif weight(kind) > 0:
            by_value[(kind, value)].append(account)
    # an account-to-account link counts when both its directions are there: neither end is
    # a hub of that kind (a P2P merchant's thousand counterparties join no one)
    edges = {(pair(a, b), k) for a, k, b in directed if (b, k, a) in directed}
    weights: dict[Pair, float] = defaultdict(float)
    for (kind, _), accounts in by_value.items():
        w = weight(kind)
        unique = sorted(set(accounts))
        for i, a in enumerate(unique):
            for b in unique[i + 1 :]:
                weights[(a, b)] += w
    for p, kind in edges:
        weights[p] += weight(kind)
    return dict(weights)


def joined(weights: dict[Pair, float]) -> list[Pair]:
    return [p for p, w in weights.items() if w >= JOIN - 1e-9]


@dataclass
class Change:
    """A cluster that formed, grew or split in this batch, and its accounts."""

    cluster_id: str
    size: int
    alerted_size: int
    accounts: list[str] = field(default_factory=list)
    grown_by: set[str] = field(default_factory=set)  # accounts that joined it now


def merge(session: Session, joins: list[Pair], now: datetime) -> list[Change]:
    """Merge the clusters (and lone accounts) the joins connect; returns the clusters that
    changed, with their new size and the size they were alerted at."""
    if not joins:
        return []
    accounts = {a for p in joins for a in p}
    cluster_of = repo.clusters_of(session, accounts)
    rows = repo.cluster_rows(session, set(cluster_of.values()))
    uf = UnionFind()

    def node(account: str) -> str:
        c = cluster_of.get(account)
        return f"c\x00{c}" if c is not None else f"a\x00{account}"

    for a, b in joins:
        uf.union(node(a), node(b))
    changes: list[Change] = []
    assignment: dict[str, str] = {}
    dropped: set[str] = set()
    saves = []
    for group in uf.groups():
        if len(group) < 2:
            continue
        clusters = [n[2:] for n in group if n.startswith("c\x00")]
        loners = [n[2:] for n in group if n.startswith("a\x00")]
        # the biggest cluster absorbs the others (the smallest id among equals)
        winner = max(clusters, key=lambda c: (rows[c][0], _neg(c))) if clusters else min(loners)
        losers = [c for c in clusters if c != winner]
        moved = repo.members_of(session, losers) if losers else {}
        size = sum(rows[c][0] for c in clusters) + len(loners)
        alerted = max((rows[c][1] for c in clusters), default=0)
        formed = rows[winner][2] if winner in rows else now
        for account in loners:
            assignment[account] = winner
        for members in moved.values():
            for account in members:
                assignment[account] = winner
        dropped.update(losers)
        grown = set(loners)
        for c in losers:
            grown.update(moved.get(c, []))
        saves.append(
            {
                "cluster_id": winner,
                "size": size,
                "alerted_size": alerted,
                "formed_at": formed,
                "updated_at": now,
            }
        )
        changes.append(Change(winner, size, alerted, grown_by=grown))
    repo.set_members(session, assignment)
    repo.drop_clusters(session, dropped)
    repo.save_clusters(session, saves)
    return changes


def _neg(cluster_id: str) -> tuple[int, ...]:
    """Order key that prefers the smaller id among clusters of the same size."""
    return tuple(-ord(ch) for ch in cluster_id)


def recompute(
    session: Session, cluster_ids: set[str], policy: LinkPolicy, now: datetime
) -> list[Change]:
    """Recompute the given clusters from their members' links without hubs (after a value
    they share became one): a cluster may split; a part of one account leaves no cluster.
    The part holding the old cluster's id keeps it and its alert state; the other parts
    take their smallest account id and count as alerted at their size (their accounts
    were alerted on together already)."""
    if not cluster_ids:
        return []
    rows = repo.cluster_rows(session, cluster_ids)
    members = repo.members_of(session, cluster_ids)
    everyone = {a for accounts in members.values() for a in accounts}
    inside = [
        (account, kind, value)
        for account, kind, value, *_ in repo.values_of(session, everyone, hubs=False)
        if kind not in EDGE_KINDS or value in everyone
    ]
    weights = pair_weights(inside)
    changes: list[Change] = []
    assignment: dict[str, str] = {}
    leaving: set[str] = set()
    saves = []
    for old, accounts in members.items():
        uf = UnionFind()
        group = set(accounts)
        for account in accounts:
            uf.find(account)
        for a, b in joined(weights):
            if a in group and b in group:
                uf.union(a, b)
        size, alerted, formed = rows.get(old, (len(accounts), 0, now))
        parts = uf.groups()
        if len(parts) == 1 and len(parts[0]) == size:
            continue
        kept_old = False
        for part in parts:
            if len(part) < 2:
                leaving.update(part)
                continue
            if old in part:
                cid, part_alerted = old, min(alerted, len(part))
                kept_old = True
            else:
                cid, part_alerted = part[0], len(part)
            for account in part:
                assignment[account] = cid
            saves.append(
                {
                    "cluster_id": cid,
                    "size": len(part),
                    "alerted_size": part_alerted,
                    "formed_at": formed,
                    "updated_at": now,
                }
            )
            changes.append(Change(cid, len(part), part_alerted, accounts=part))
        if not kept_old:
            repo.drop_clusters(session, {old})
    repo.remove_members(session, leaving)
    repo.set_members(session, assignment)
    repo.save_clusters(session, saves)
    return changes

"""Keeping the graph current: the links follower of the event log (``riskops.links.tasks``)
hands each batch's events to a ``LinkKeeper`` and lets it write their links in the batch's
transaction, with the follower's cursor, so the graph is exactly as far as the cursor, and a
replay after a restart changes nothing (links are keyed by (kind, value, account); a link
that exists joins nothing again, so no cluster grows and no alert is raised twice).

Most events repeat what an account used before (the same device, the same home IP). The
keeper remembers the links it wrote (and committed: the memory is updated only after the
transaction commits, through the session's events) and skips an event's link when it falls
within that link's known first-last span, widened by ``policy.last_seen_every``: an
account's last use of a value is thus exact to that much. After a restart the memory is
empty, and the first batch of each link writes it again (a no-op).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from riskops.events import schemas as s
from riskops.kernel import outbox
from riskops.kernel.clock import utcnow
from riskops.kernel.config import get_settings
from riskops.links import clusters
from riskops.links import repository as repo
from riskops.links.extract import Link, links_of
from riskops.links.policy import EDGE_KINDS, JOIN, WEAK_KINDS, LinkPolicy, weight

# The topic the monitor's alerts go out on (``riskops.monitor.service.ALERT_RAISED``; the
# monitor sits above this package, so the name is repeated here, and a test holds them
# equal): a cluster's alert is a monitor alert of the rule ``linked_accounts``, and cases
# take it like any other.
ALERT_RAISED = "monitor.alert_raised"
RULE_ID = "linked_accounts"
TYPOLOGY = "multi-accounting"
MAX_ALERT_ACCOUNTS = 100  # accounts named in one alert; the cluster holds them all

_LAST_EVENT = tuple[int, str, str, datetime]  # seq, event id, event type, occurred at


@dataclass
class FlushResult:
    written: int = 0  # links written (new or widened)
    new: int = 0  # links that did not exist
    hubs: int = 0  # values that became hubs
    joins: int = 0  # pairs of accounts joined
    alerts: int = 0  # cluster alerts published


class LinkKeeper:
    """Collects the links of a batch's events and writes them with the batch (one per
    process, ``tasks.process_keeper``; not thread-safe, the follower's passes run one at a
    time)."""

    def __init__(self, policy: LinkPolicy | None = None, *, memory: int = 2_000_000) -> None:
        """``policy``: the thresholds (default: the ``RISKOPS_LINKS_*`` settings)."""
        self.policy = policy or LinkPolicy.from_settings(get_settings())
        self.memory = memory
        self._step = timedelta(seconds=self.policy.last_seen_every)
        self._known: dict[Link, tuple[datetime, datetime]] = {}
        self._staged: dict[Link, tuple[datetime, datetime]] = {}
        self._batch: dict[Link, list[datetime]] = {}
        self._last: dict[str, _LAST_EVENT] = {}

    def record(
        self,
        session: Session,
        events: Sequence[tuple[s.Event, int]],
        *,
        now: datetime | None = None,
    ) -> FlushResult:
        """Write the links of a batch's ``(event, seq)`` (in log order) in the caller's
        transaction: the one call the follower makes per batch."""
        self._batch.clear()
        self._last.clear()
        for event, seq in events:
            self.add(event, seq)
        return self.flush(session, now=now)

    def add(self, event: s.Event, seq: int) -> None:
        """Note the links of one event (in log order)."""
        found = links_of(event)
        if not found:
            return
        at = event.occurred_at
        batch, known, step = self._batch, self._known, self._step
        for link in found:
            span = batch.get(link)
            if span is not None:
                if at < span[0]:
                    span[0] = at
                elif at > span[1]:
                    span[1] = at
                continue
            seen = known.get(link)
            if seen is not None and seen[0] <= at <= seen[1] + step:
                continue
            batch[link] = [at, at] if seen is None else [min(at, seen[0]), max(at, seen[1])]
        self._last[event.account_id] = (
            seq,
            event.event_id,
            str(type(event).__struct_config__.tag),
            at,
        )

    def reset(self) -> None:
        """Forget what was noted and what is known (the next batches write everything)."""
        self._batch.clear()
        self._last.clear()
        self._staged.clear()
        self._known.clear()

    def flush(self, session: Session, *, now: datetime | None = None) -> FlushResult:
        """Write the noted links, join and alert clusters, in the caller's transaction."""
        result = FlushResult()
        batch, last = self._batch, self._last
        self._batch, self._last = {}, {}
        if not batch:
            return result
        now = now or utcnow()
        rows = [(k, v, a, f, t) for (a, k, v), (f, t) in batch.items()]
        new = repo.insert_new_links(session, rows)
        repo.touch_links(session, [r for r in rows if r[:3] not in new])
        result.written, result.new = len(rows), len(new)
        self._stage(session, batch)
        if not new:
            return result
        fresh = [(a, k, v) for (k, v, a) in new]
        counts = _value_counts(batch, fresh)
        after = repo.count_values(session, counts)
        hubs = {
            key
            for key, (accounts, hub) in after.items()
            if not hub and self.policy.is_hub(key[0], accounts)
        }
        if hubs:
            repo.mark_hubs(session, hubs)
            result.hubs = len(hubs)
        is_hub = {key: hub or key in hubs for key, (_, hub) in after.items()}
        joins = self._joins(session, fresh, after, is_hub)
        result.joins = len(joins)
        changes = clusters.merge(session, joins, now)
        if hubs:
            touched = _clusters_using(session, hubs)
            changes += clusters.recompute(session, touched, self.policy, now)
        result.alerts = self._alert(session, changes, last, now)
        return result

    # --- internals ------------------------------------------------------------------

    def _stage(self, session: Session, batch: dict[Link, list[datetime]]) -> None:
        """Remember the batch's links once its transaction commits (forget on rollback)."""
        for link, (first, last) in batch.items():
            self._staged[link] = (first, last)
        if not session.info.get("links.listening"):
            session.info["links.listening"] = True
            sa_event.listen(session, "after_commit", self._committed)
            sa_event.listen(session, "after_rollback", self._rolled_back)

    def _committed(self, session: Session) -> None:
        if len(self._known) + len(self._staged) > self.memory:
            self._known.clear()
        self._known.update(self._staged)
        self._staged.clear()

    def _rolled_back(self, session: Session) -> None:
        self._staged.clear()

    def _joins(
        self,
        session: Session,
        fresh: list[Link],
        after: dict[tuple[str, str], tuple[int, bool]],
        is_hub: dict[tuple[str, str], bool],
    ) -> list[clusters.Pair]:
        """The pairs of accounts that the new links join (weights over all their shared
        values, hubs left out)."""
        candidates: set[clusters.Pair] = set()
        strong: set[clusters.Pair] = set()
        shared: list[tuple[str, str]] = []
        for account, kind, value in fresh:
            w = weight(kind)
            if w <= 0 or is_hub.get((kind, value), False):
                continue
            if kind in EDGE_KINDS:
                if is_hub.get((kind, account), False):
                    continue
                p = clusters.pair(account, value)
                (strong if w >= JOIN else candidates).add(p)
            elif after.get((kind, value), (0, False))[0] >= 2:
                shared.append((kind, value))
        if shared:
            users = repo.accounts_of(session, set(shared))
            newcomers: dict[tuple[str, str], set[str]] = defaultdict(set)
            for account, kind, value in fresh:
                newcomers[(kind, value)].add(account)
            for key, accounts in users.items():
                w = weight(key[0])
                for account in newcomers[key]:
                    for other, _, _ in accounts:
                        if other != account:
                            p = clusters.pair(account, other)
                            (strong if w >= JOIN else candidates).add(p)
        weak = candidates - strong
        if weak:
            # Two accounts that share a strong value (not a hub) are in one cluster already,
            # so a weak pair across clusters can only add up weak values: read only those.
            involved = {a for p in weak for a in p}
            cluster_of = repo.clusters_of(session, involved)
            weak = {
                (a, b)
                for a, b in weak
                if cluster_of.get(a) is None or cluster_of.get(a) != cluster_of.get(b)
            }
            involved = {a for p in weak for a in p}
            links = repo.weak_links_of(session, involved, WEAK_KINDS)
            weights = clusters.pair_weights(links)
            strong.update(p for p in weak if weights.get(p, 0.0) >= JOIN - 1e-9)
        return sorted(strong)

    def _alert(
        self,
        session: Session,
        changes: list[clusters.Change],
        last: dict[str, _LAST_EVENT],
        now: datetime,
    ) -> int:
        due = [c for c in changes if self.policy.alert_due(c.size, c.alerted_size)]
        if not due:
            return 0
        members = repo.members_of(session, {c.cluster_id for c in due})
        messages = []
        for change in due:
            accounts = members.get(change.cluster_id, [])
            trigger = max(
                (last[a] for a in change.grown_by | set(accounts) if a in last),
                default=None,
            )
            messages.append(_message(change, accounts, trigger, now))
            change.alerted_size = change.size
        repo.save_clusters(
            session,
            [
                {
                    "cluster_id": c.cluster_id,
                    "size": c.size,
                    "alerted_size": c.size,
                    "formed_at": now,  # not updated on an existing row
                    "updated_at": now,
                }
                for c in due
            ],
        )
        outbox.publish_many(session, ALERT_RAISED, messages, now=now)
        return len(messages)


def _value_counts(
    batch: dict[Link, list[datetime]], fresh: list[Link]
) -> list[tuple[str, str, int, datetime, datetime]]:
    counts: dict[tuple[str, str], list[Any]] = {}
    for link in fresh:
        _, kind, value = link
        first = batch[link][0]
        entry = counts.get((kind, value))
        if entry is None:
            counts[(kind, value)] = [1, first, first]
        else:
            entry[0] += 1
            entry[1] = min(entry[1], first)
            entry[2] = max(entry[2], first)
    return [(k, v, n, f, j) for (k, v), (n, f, j) in counts.items()]


def _clusters_using(session: Session, hubs: set[tuple[str, str]]) -> set[str]:
    """The clusters of the accounts that use the given values (limited to one more than
    the hub threshold each: they were joined before the value was a hub)."""
    users = repo.accounts_of(session, hubs)
    accounts = {a for rows in users.values() for a, _, _ in rows}
    for kind, value in hubs:
        if kind in EDGE_KINDS:
            accounts.add(value)
    return set(repo.clusters_of(session, accounts).values())


def _message(
    change: clusters.Change,
    accounts: list[str],
    trigger: _LAST_EVENT | None,
    now: datetime,
) -> dict[str, Any]:
    """An ``ALERT_RAISED`` message (the shape of ``monitor.service._alert_messages``) for a
    cluster at its new size, keyed so a redelivery is the same case alert."""
    account = trigger_account = change.cluster_id
    seq, event_id, event_type, occurred = trigger or (0, "", "", now)
    if trigger is not None:
        trigger_account = next(
            (a for a in sorted(change.grown_by) if a in accounts), change.cluster_id
        )
    shown = accounts[:MAX_ALERT_ACCOUNTS]
    return {
        "rule_id": RULE_ID,
        "rule_version": 1,
        "typology": TYPOLOGY,
        # the cluster and its size name the alert: one alert per cluster state
        "event_id": f"cluster:{change.cluster_id}:{change.size}",
        "row": 0,
        "account_id": account,
        "seq": seq,
        "action": "review",
        "score": min(100, 20 + 10 * change.size),
        "reason": f"{change.size} linked accounts (cluster {change.cluster_id})",
        "shadow": False,
        "created_at": now.isoformat(),
        "usd_value": None,
        "event_type": event_type or "links.cluster",
        "occurred_at": occurred.isoformat(),
        # for grouping: the cluster, every account in it (up to MAX_ALERT_ACCOUNTS), and the
        # account and event whose link made it form or grow
        "group_key": f"links:{change.cluster_id}",
        "cluster_id": change.cluster_id,
        "cluster_size": change.size,
        "accounts": shown,
        "trigger_account_id": trigger_account,
        "trigger_event_id": event_id,
    }

"""What links accounts, and how strongly: the kinds of shared values, their weights, the hub
thresholds and the cluster alert thresholds.

Two accounts are joined into one cluster when the weights of the values they share (hubs
left out) add up to at least ``JOIN``: one strong value (a device, a phone, an email, a card
or bank fingerprint, a deposit source or withdrawal destination address) is enough; weak
ones (an exact IP, a transfer or P2P counterparty, a referral) join only together, e.g. the
same home IP and a transfer between them. A /24 (v6: /64) network never joins, it is only
listed. A value used by more accounts than its kind's hub threshold is a hub: listed with a
marker and a count, never traversed, never joining a cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from riskops.kernel.config import Settings


class Kind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    IP = "ip"
    IP_NET = "ip_net"
    DEVICE = "device"
    CARD = "card"
    BANK = "bank"
    DEPOSIT_ADDRESS = "deposit_address"
    WITHDRAWAL_ADDRESS = "withdrawal_address"
    REFERRAL_CODE = "referral_code"
    # account-to-account links: the value is the other account's id, stored both ways
    TRANSFER = "transfer"
    P2P = "p2p"
    REFERRAL = "referral"


EDGE_KINDS = frozenset({Kind.TRANSFER, Kind.P2P, Kind.REFERRAL})
JOIN = 1.0

WEIGHTS: Mapping[Kind, float] = {
    Kind.PHONE: 1.0,
    Kind.EMAIL: 1.0,
    Kind.DEVICE: 1.0,
    Kind.CARD: 1.0,
    Kind.BANK: 1.0,
    Kind.DEPOSIT_ADDRESS: 1.0,
    Kind.WITHDRAWAL_ADDRESS: 1.0,
    Kind.IP: 0.5,
    Kind.TRANSFER: 0.5,
    Kind.REFERRAL: 0.5,
    Kind.P2P: 0.25,
    Kind.REFERRAL_CODE: 0.25,
    Kind.IP_NET: 0.0,
}

WEAK_KINDS = frozenset(k.value for k, w in WEIGHTS.items() if 0 < w < JOIN)

# A /24 holds a whole street's customers of one provider: a hub much later than one address.
_HUB_BY_KIND: Mapping[Kind, int] = {Kind.IP_NET: 200}


@dataclass(frozen=True)
class LinkPolicy:
    """The thresholds of the graph (``RISKOPS_LINKS_*`` settings may override them)."""

    # A value used by more than this many accounts is a hub (per kind in ``hub_by_kind``).
    hub_accounts: int = 20
    hub_by_kind: Mapping[Kind, int] = field(default_factory=lambda: dict(_HUB_BY_KIND))
    # Alert when a cluster reaches this many accounts, and again each time it has grown by
    # ``alert_growth`` since its last alert.
    alert_size: int = 3
    alert_growth: int = 2
    # The keeper rewrites an account's last use of a value at most this often (seconds):
    # ``last_seen`` is exact to a day, which is what "when did they share it" needs, and
    # most events then write nothing.
    last_seen_every: float = 86_400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkPolicy:
        """The policy of ``RISKOPS_LINKS_*`` (a /24 is a hub at ten times the others)."""
        hub = settings.links_hub_accounts
        return cls(
            hub_accounts=hub,
            hub_by_kind={Kind.IP_NET: hub * 10},
            alert_size=settings.links_alert_size,
            alert_growth=settings.links_alert_growth,
        )

    def hub_limit(self, kind: str) -> int:
        return self.hub_by_kind.get(Kind(kind), self.hub_accounts)

    def is_hub(self, kind: str, accounts: int) -> bool:
        return accounts > self.hub_limit(kind)

    def alert_due(self, size: int, alerted_size: int) -> bool:
        """Whether a cluster of ``size`` accounts, last alerted at ``alerted_size`` (0:
        never), is to be alerted now."""
        if size < self.alert_size:
            return False
        return alerted_size == 0 or size >= alerted_size + self.alert_growth


def weight(kind: str) -> float:
    return WEIGHTS.get(Kind(kind), 0.0)

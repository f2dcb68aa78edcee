"""The shared values an event carries, as ``(account_id, kind, value)``: pure, no I/O.

Only what the account itself used links it: a failed login's IP and device are the
attacker's as often as the customer's (credential stuffing tries one IP on thousands of
accounts), so only successful logins count. Account-to-account links (transfers, P2P trades,
referrals) are returned both ways, each with the other account's id as the value.
"""

from __future__ import annotations

from riskops.events import schemas as s
from riskops.links import normalise as n
from riskops.links.policy import Kind

Link = tuple[str, str, str]  # account_id, kind, value

# The events that can carry a link (``links_of`` returns nothing for the others): the types
# the follower of the log reads (``riskops.links.tasks``).
LINKED_EVENTS = frozenset(
    str(t.__struct_config__.tag)
    for t in (
        s.Login,
        s.Session,
        s.WithdrawalRequested,
        s.Deposit,
        s.TransferInternal,
        s.P2POrder,
        s.AccountCreated,
        s.SecurityChange,
        s.CardChargeback,
        s.ProviderSignal,
    )
)


def links_of(event: s.Event) -> list[Link]:
    """The links of one event (empty for events that carry no shared value)."""
    out: list[Link] = []
    account = event.account_id
    if isinstance(event, (s.Login, s.Session)):
        if isinstance(event, s.Login) and not event.success:
            return out
        _ip(out, account, event.ip)
        _add(out, account, Kind.DEVICE, n.token(event.device_id))
    elif isinstance(event, s.WithdrawalRequested):
        _add(out, account, Kind.WITHDRAWAL_ADDRESS, n.address(event.address))
        _instrument(out, account, event.rail, event.instrument_id)
        _ip(out, account, event.ip)
        _add(out, account, Kind.DEVICE, n.token(event.device_id))
    elif isinstance(event, s.Deposit):
        _add(out, account, Kind.DEPOSIT_ADDRESS, n.address(event.source_address))
        _instrument(out, account, event.rail, event.instrument_id)
    elif isinstance(event, s.TransferInternal):
        _edge(out, account, Kind.TRANSFER, event.counterparty_id)
    elif isinstance(event, s.P2POrder):
        _edge(out, account, Kind.P2P, event.counterparty_id)
    elif isinstance(event, s.AccountCreated):
        _add(out, account, Kind.EMAIL, n.email(event.email))
        _add(out, account, Kind.PHONE, n.phone(event.phone))
        _ip(out, account, event.ip)
        _add(out, account, Kind.DEVICE, n.token(event.device_id))
        _add(out, account, Kind.REFERRAL_CODE, n.token(event.referral_code))
        if event.referred_by:
            _edge(out, account, Kind.REFERRAL, event.referred_by)
    elif isinstance(event, s.SecurityChange):
        _ip(out, account, event.ip)
        _add(out, account, Kind.DEVICE, n.token(event.device_id))
        if event.change is s.SecurityChangeKind.EMAIL_CHANGED:
            _add(out, account, Kind.EMAIL, n.email(event.new_value))
        elif event.change is s.SecurityChangeKind.PHONE_CHANGED:
            _add(out, account, Kind.PHONE, n.phone(event.new_value))
    elif isinstance(event, s.CardChargeback):
        _add(out, account, Kind.CARD, n.token(event.instrument_id))
    elif isinstance(event, s.ProviderSignal):
        _add(out, account, Kind.PHONE, n.phone(event.phone))
        _add(out, account, Kind.EMAIL, n.email(event.email))
    return out


def _add(out: list[Link], account: str, kind: Kind, value: str | None) -> None:
    if value is not None:
        out.append((account, kind.value, value))


def _ip(out: list[Link], account: str, value: str | None) -> None:
    address = n.ip(value)
    if address is not None:
        out.append((account, Kind.IP.value, address))
        network = n.ip_net(address)
        if network is not None:
            out.append((account, Kind.IP_NET.value, network))


def _instrument(out: list[Link], account: str, rail: s.Rail, value: str | None) -> None:
    if rail is s.Rail.CARD:
        _add(out, account, Kind.CARD, n.token(value))
    elif rail is s.Rail.BANK:
        _add(out, account, Kind.BANK, n.token(value))


def _edge(out: list[Link], account: str, kind: Kind, other: str) -> None:
    if other and other != account:
        out.append((account, kind.value, other))
        out.append((other, kind.value, account))

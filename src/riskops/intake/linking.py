"""Linking input to accounts: candidates found in text, confirmed by the event log.

Every link carries its evidence (what matched, where it was found, which event says so), so
an analyst can see why a message or signal landed on an account. Identifiers are matched
wherever the log holds them:

- email: ``account.created.email``, ``security.change`` (``email_changed``) ``new_value``;
- phone: ``account.created.phone``, ``security.change`` (``phone_changed``) ``new_value``;
- account id: any event of that account;
- tx hash: ``deposit.tx_hash``;
- withdrawal id: ``withdrawal.requested.withdrawal_id`` and held withdrawals.

Former emails and phones still link: a customer writing from an address the attacker
replaced is exactly the report that matters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from riskops.intake import repository as repo
from riskops.intake.email import Mentions, same_tx_hash

_decode = msgspec.json.Decoder(dict[str, Any]).decode


@dataclass(frozen=True, slots=True)
class Link:
    account_id: str
    by: str  # email | phone | account_id | tx_hash | withdrawal_id
    value: str
    where: str  # from, subject, body, signal, request
    source: str  # what confirmed it: "account.created", "security.change", "hold", ...

    def as_dict(self) -> dict[str, str]:
        return {
            "account_id": self.account_id,
            "by": self.by,
            "value": self.value,
            "where": self.where,
            "source": self.source,
        }


def normalize_phone(phone: str) -> str:
    """``+44 7700-900 123`` -> ``+447700900123`` (E.164 digits, leading plus kept)."""
    digits = re.sub(r"\D", "", phone)
    return f"+{digits}" if phone.strip().startswith("+") else digits


def _payload(raw: str) -> dict[str, Any]:
    try:
        return _decode(raw)
    except msgspec.DecodeError:  # pragma: no cover - the log holds canonical JSON only
        return {}


def by_email(session: Session, emails: dict[str, str]) -> list[Link]:
    """Accounts whose email (at sign-up or after a change) is one of ``emails``."""
    wanted = {e.lower(): where for e, where in emails.items()}
    fragments = [repo.json_fragment("email", e) for e in wanted]
    fragments += [repo.json_fragment("new_value", e) for e in wanted]
    links = []
    for account_id, kind, value in _contact_values(session, "email", fragments):
        if value.lower() in wanted:
            where = wanted[value.lower()]
            links.append(Link(account_id, "email", value.lower(), where, kind))
    return links


def by_phone(session: Session, phone: str, where: str = "signal") -> list[Link]:
    """Accounts whose phone (at sign-up or after a change) is ``phone`` (E.164)."""
    wanted = normalize_phone(phone)
    if len(wanted) < 6:
        return []
    # The LIKE only needs the digits; the exact comparison is on the normalized number.
    fragments = [f"%{wanted.lstrip('+')}"]
    return [
        Link(account_id, "phone", wanted, where, kind)
        for account_id, kind, value in _contact_values(session, "phone", fragments)
        if normalize_phone(value) == wanted
    ]


def _contact_values(
    session: Session, field: str, fragments: Collection[str]
) -> Iterator[tuple[str, str, str]]:
    """(account id, event type, value) of every ``field`` (email, phone) an account signed up
    with or changed to, in the events whose payload matches one of ``fragments``."""
    for account_id, kind, _event_id, raw in repo.events_mentioning(
        session, ("account.created", "security.change"), fragments
    ):
        payload = _payload(raw)
        if kind == "account.created":
            value = payload.get(field)
        elif payload.get("change") == f"{field}_changed":
            value = payload.get("new_value")
        else:
            continue
        if isinstance(value, str):
            yield account_id, kind, value


def by_account_id(session: Session, ids: dict[str, str]) -> list[Link]:
    known = repo.known_accounts(session, list(ids))
    return [Link(i, "account_id", i, ids[i], "events") for i in ids if i in known]


def by_tx_hash(session: Session, hashes: dict[str, str]) -> list[Link]:
    fragments = []
    for value in hashes:
        if re.fullmatch(r"(?:0x)?[0-9a-fA-F]{64}", value):  # with or without 0x in the log
            hex_digits = value.lower().removeprefix("0x")
            fragments.append(repo.json_fragment("tx_hash", hex_digits, any_prefix=True))
        else:
            fragments.append(repo.json_fragment("tx_hash", value))
    links = []
    rows = repo.events_mentioning(session, ("deposit",), fragments)
    for account_id, _kind, _event_id, raw in rows:
        stored = _payload(raw).get("tx_hash")
        if not isinstance(stored, str):
            continue
        for value, where in hashes.items():
            if same_tx_hash(value, stored):
                links.append(Link(account_id, "tx_hash", stored, where, "deposit"))
    return links


def by_withdrawal_id(session: Session, ids: dict[str, str]) -> list[Link]:
    wanted = {i.lower(): where for i, where in ids.items()}
    fragments = [repo.json_fragment("withdrawal_id", i) for i in wanted]
    links = []
    for account_id, kind, _event_id, raw in repo.events_mentioning(
        session, ("withdrawal.requested",), fragments
    ):
        stored = _payload(raw).get("withdrawal_id")
        if isinstance(stored, str) and stored.lower() in wanted:
            links.append(Link(account_id, "withdrawal_id", stored, wanted[stored.lower()], kind))
    for account_id, withdrawal_id in repo.holds_by_withdrawal(session, list(wanted)):
        where = wanted[withdrawal_id.lower()]
        links.append(Link(account_id, "withdrawal_id", withdrawal_id, where, "hold"))
    return links


def link_mentions(
    session: Session, found: Mentions, *, exclude_emails: Collection[str] = ()
) -> list[Link]:
    """Every confirmed link of a message's mentions, one per (account, by, value)."""
    emails = {e: w for e, w in found.emails.items() if e not in set(exclude_emails)}
    links: list[Link] = []
    if emails:
        links += by_email(session, emails)
    if found.account_ids:
        links += by_account_id(session, found.account_ids)
    if found.tx_hashes:
        links += by_tx_hash(session, found.tx_hashes)
    if found.withdrawal_ids:
        links += by_withdrawal_id(session, found.withdrawal_ids)
    return unique(links)


def unique(links: Iterable[Link]) -> list[Link]:
    seen: dict[tuple[str, str, str], Link] = {}
    for link in links:
        seen.setdefault((link.account_id, link.by, link.value), link)
    return sorted(seen.values(), key=lambda link: (link.account_id, link.by, link.value))


def accounts(links: Iterable[Link]) -> list[str]:
    return sorted({link.account_id for link in links})

"""The answers of ``riskops.intel``: one tagged Struct per kind of value (``kind`` first).

A field that the data cannot fill is None and a line of ``notes`` says why ("no data: ...");
``sources`` names every data set the answer read, with its version and date.
"""

from __future__ import annotations

from typing import Any

import msgspec

from riskops.intel.sources import DataSource


class Link(msgspec.Struct, frozen=True):
    """An outside website to look the value up on."""

    name: str
    url: str


class Listing(msgspec.Struct, frozen=True, omit_defaults=True):
    """An entry of a list of addresses (sanctions, darknet, mixer...) that names this one."""

    list: str
    category: str | None = None
    reference: str | None = None


class _Intel(msgspec.Struct, frozen=True, tag_field="kind"):
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``kind`` first)."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


class IpIntel(_Intel, tag="ip", frozen=True):
    value: str
    version: int
    private: bool
    scope: str  # public, private, loopback, link-local, multicast, shared, reserved
    country: str | None = None
    region: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    asn: int | None = None
    network_owner: str | None = None
    # iporigin's class of the range: hosting, cdn, vpn, tor, bot, unknown (no range matched)
    origin: str | None = None
    provider: str | None = None
    hosting: bool | None = None
    vpn: bool | None = None
    proxy: bool | None = None
    tor: bool | None = None
    notes: list[str] = []
    sources: list[DataSource] = []
    links: list[Link] = []


class PhoneIntel(_Intel, tag="phone", frozen=True):
    value: str
    valid: bool
    possible: bool = False
    e164: str | None = None
    country: str | None = None
    location: str | None = None
    line_type: str | None = None
    carrier: str | None = None
    notes: list[str] = []
    sources: list[DataSource] = []
    links: list[Link] = []


class EmailIntel(_Intel, tag="email", frozen=True):
    value: str
    valid: bool
    normalised: str | None = None
    domain: str | None = None
    disposable: bool | None = None
    free_mail: bool | None = None
    notes: list[str] = []
    sources: list[DataSource] = []
    links: list[Link] = []


class DomainIntel(_Intel, tag="domain", frozen=True):
    value: str
    disposable: bool | None = None
    free_mail: bool | None = None
    notes: list[str] = []
    sources: list[DataSource] = []
    links: list[Link] = []


class AddressIntel(_Intel, tag="address", frozen=True):
    value: str
    chain: str | None
    valid: bool
    format: str | None = None
    normalised: str | None = None
    reason: str | None = None
    # None when no list of addresses was given to compare with; else whether one names it.
    listed: bool | None = None
    listings: list[Listing] = []
    notes: list[str] = []
    sources: list[DataSource] = []
    links: list[Link] = []


class TxHashIntel(_Intel, tag="tx_hash", frozen=True):
    value: str
    # The chains whose transaction ids have this shape (64 hex digits fit Bitcoin and TRON).
    chains: list[str]
    notes: list[str] = []
    links: list[Link] = []


class UnknownIntel(_Intel, tag="unknown", frozen=True):
    value: str
    reason: str


class Mismatch(msgspec.Struct, frozen=True):
    """Two pieces of evidence on one account that name different countries."""

    first: str  # what the first country comes from: kyc, phone, ip, card
    first_country: str
    second: str
    second_country: str
    reason: str


Intel = IpIntel | PhoneIntel | EmailIntel | DomainIntel | AddressIntel | TxHashIntel | UnknownIntel

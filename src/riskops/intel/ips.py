"""IP addresses: country, city, network owner (ASN), and hosting / VPN / Tor ranges.

Private, loopback and other special-purpose addresses are answered as such without a
lookup (they have no country). The range classes come from ``iporigin`` (the providers'
own published ranges: clouds, CDNs, Mullvad, ProtonVPN, Apple Private Relay, Tor exits);
an address in none of them is "unknown", which is absence of evidence, not "residential".
No data set here lists open proxies, so ``proxy`` is always None with a note saying so.
"""

from __future__ import annotations

import bisect
import importlib
import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import iporigin
import iptocc

from riskops.intel.ipdata import AsnData, City, CityData, data_root
from riskops.intel.schemas import IpIntel
from riskops.intel.sources import DataSource, iporigin_source, pypi_source

MAX_IP_CHARS = 64  # an IPv6 address with a zone id fits well within this
# iporigin ships py.typed but leaves its functions unannotated; these are their signatures.
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_dataset_info = cast("Callable[[], dict[str, Any]]", iporigin.dataset_info)
# Its range table's own lookup ((provider, kind) or None), which ``iporigin.classify`` calls
# after re-parsing and re-checking the address: for an address already parsed and known to
# be public, the table alone (a bisect) is a fifth of the cost.
_OriginFind = Callable[[int, int], "tuple[str, str] | None"]


def _scope(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address in _SHARED:
        return "shared"  # carrier-grade NAT (RFC 6598)
    if address.is_reserved:
        return "reserved"
    return "private"


_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _ranges(networks: list[str]) -> tuple[list[int], list[int]]:
    """The networks as sorted, merged integer ranges: (starts, ends)."""
    spans = sorted(
        (int(n.network_address), int(n.broadcast_address))
        for n in map(ipaddress.ip_network, networks)
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [start for start, _ in merged], [end for _, end in merged]


# Networks that may locate no one: ipaddress's non-global ones (RFC 6890 for IPv4; the
# IANA IPv6 special registry, IPv4-mapped included), multicast, and the reserved ranges.
# Outside them an address is public; inside, ipaddress decides (192.0.0.0/24 holds
# global /32s, 2001::/23 global /32s). Checking the integer ranges is a bisect, where
# ipaddress's is_global tests each network in turn; a test holds the two to the same answer.
_SPECIAL: dict[int, tuple[list[int], list[int]]] = {
    4: _ranges(
        [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.0.2.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "224.0.0.0/4",
            "240.0.0.0/4",
        ]
    ),
    6: _ranges(
        [
            "::/8",  # reserved: holds ::, ::1 and ::ffff:0:0/96 (IPv4-mapped)
            "100::/8",
            "200::/7",
            "400::/6",
            "800::/5",
            "1000::/4",
            "2001::/23",
            "2001:2::/48",
            "2001:db8::/32",
            "2001:10::/28",
            "4000::/3",
            "6000::/3",
            "8000::/3",
            "a000::/3",
            "c000::/3",
            "e000::/4",
            "f000::/5",
            "f800::/6",
            "fc00::/7",
            "fe00::/9",
            "fe80::/10",
            "ff00::/8",
        ]
    ),
}


def _special(address: _Address) -> bool:
    """Not a public unicast address: no country, no owner (ipaddress counts multicast and
    240/4 as global; neither locates anyone)."""
    starts, ends = _SPECIAL[address.version]
    value = int(address)
    if value >= 0xE0000000 and address.version == 4:
        return True  # 224/4 is multicast, 240/4 reserved: an eighth of the IPv4 space
    index = bisect.bisect_right(starts, value) - 1
    if index < 0 or value > ends[index]:
        return False
    return not address.is_global or address.is_multicast or address.is_reserved


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` names (an IPv4-mapped IPv6 address as its IPv4), else None."""
    value = text.strip()
    if not value or len(value) > MAX_IP_CHARS or ("." not in value and ":" not in value):
        return None  # every IP text holds a dot or a colon: skip the parser for the rest
    if ":" not in value:
        # Dotted quads: the C parser accepts exactly what ipaddress accepts (four decimal
        # octets up to 255, no leading zeros; a test holds the two together), ten times
        # faster.
        try:
            return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, value))
        except (OSError, ValueError):  # ValueError: an embedded NUL
            return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class IpLookup:
    """The IP data sets of one data root, opened once."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = data_root(root)
        self.city = CityData(self.root)
        self.asn = AsnData(self.root)
        info = _dataset_info()
        self.origin_source = iporigin_source(info.get("built_at"))
        # iporigin.core re-exports its loader without listing it in __all__ (hence Any).
        core: Any = importlib.import_module("iporigin.core")
        self._origin_find = cast(_OriginFind, core.dataset().find)

    def sources(self) -> list[DataSource]:
        return [self.city.source, self.asn.source, self.origin_source]

    def lookup(self, text: str) -> IpIntel:
        """Everything the data says of one address. Never raises."""
        address = parse_ip(text)
        if address is None:
            shown = text.strip()[:MAX_IP_CHARS]
            return IpIntel(shown, 0, False, "invalid", notes=["not an IPv4 or IPv6 address"])
        return self.lookup_address(address)

    def lookup_address(self, address: _Address, text: str | None = None) -> IpIntel:
        """``lookup`` of an address already parsed (``parse_ip``); ``text`` is its canonical
        form (``str(address)``) when the caller holds it already."""
        value, version = text or str(address), address.version
        if _special(address):
            scope = _scope(address)
            return IpIntel(
                value,
                version,
                True,
                scope,
                notes=[f"a {scope} address: not routed on the internet, so no country or owner"],
            )
        notes: list[str] = []
        sources = self.sources()
        city = self.city.get(value, version)
        if city is None:
            missing = self.city.missing(version)
            if missing:
                # iptocc's country is the one the registry assigned the block to: a fallback.
                country = iptocc.country_code(value)
                city = City(country, None, None, None, None) if country else None
                sources.append(pypi_source("iptocc"))
                notes.append(
                    f"city: no data (DB-IP City not found: {missing}); country from the "
                    "registries' allocations (iptocc)"
                )
            else:
                notes.append("country, city: no data (the range is not in DB-IP City Lite)")
        network = self.asn.get(int(address), version)
        if network is None:
            missing = self.asn.missing(version)
            notes.append(
                f"asn: no data (ASN table not found: {missing})"
                if missing
                else "asn: no data (no announced range holds the address)"
            )
        found = self._origin_find(int(address), version)
        provider, kind = found if found else (None, iporigin.UNKNOWN)
        if kind == iporigin.UNKNOWN:
            notes.append("origin: in no hosting/VPN/Tor range known to iporigin (not a proof)")
        notes.append("proxy: no data (no open-proxy list ships in a registry package)")
        return IpIntel(
            value,
            version,
            False,
            "public",
            city.country if city else None,
            city.region if city else None,
            city.city if city else None,
            city.latitude if city else None,
            city.longitude if city else None,
            network.asn if network else None,
            network.owner if network else None,
            kind,
            provider or None,
            hosting=kind in (iporigin.HOSTING, iporigin.CDN, iporigin.BOT),
            vpn=kind == iporigin.VPN,
            proxy=None,
            tor=kind == iporigin.TOR,
            notes=notes,
            sources=sources,
        )

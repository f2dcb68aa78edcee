"""IP intelligence on the shipped data: country, city, ASN and owner, hosting/VPN/Tor ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.intel.ips import IpLookup, parse_ip
from riskops.intel.service import IntelService


def test_google_dns_over_ipv4(service: IntelService) -> None:
    found = service.ips.lookup("8.8.8.8")
    assert (found.country, found.asn, found.network_owner) == ("US", 15169, "Google LLC")
    assert (found.private, found.scope, found.version) == (False, "public", 4)
    assert found.city  # DB-IP Lite places it in a city


def test_google_dns_over_ipv6(service: IntelService) -> None:
    found = service.ips.lookup("2001:4860:4860::8888")
    assert (found.version, found.asn) == (6, 15169)
    assert found.country is not None


def test_cloudflare_asn(service: IntelService) -> None:
    assert service.ips.lookup("1.1.1.1").asn == 13335


def test_a_cloud_range_is_hosting(service: IntelService) -> None:
    found = service.ips.lookup("52.95.110.1")  # iporigin's own example, an AWS range
    assert (found.origin, found.provider, found.hosting, found.vpn, found.tor) == (
        "hosting",
        "Amazon AWS",
        True,
        False,
        False,
    )


def test_proxy_is_no_data_with_a_note(service: IntelService) -> None:
    found = service.ips.lookup("8.8.8.8")
    assert found.proxy is None
    assert any(n.startswith("proxy: no data") for n in found.notes)


def test_an_ipv4_mapped_ipv6_address_is_its_ipv4(service: IntelService) -> None:
    found = service.ips.lookup("::ffff:8.8.8.8")
    assert (found.value, found.version, found.asn) == ("8.8.8.8", 4, 15169)


def test_sources_name_db_ip_with_the_credit_and_a_date(service: IntelService) -> None:
    found = service.ips.lookup("8.8.8.8")
    city = next(s for s in found.sources if s.name.startswith("DB-IP City"))
    assert city.credit == "IP Geolocation by DB-IP"
    assert city.licence == "CC BY 4.0"
    assert city.date is not None and city.date.startswith("20")
    asn = next(s for s in found.sources if "ASN" in s.name)
    assert asn.version and asn.date
    assert any(s.name.startswith("iporigin") and s.date for s in found.sources)


@pytest.mark.parametrize(
    ("ip", "scope"),
    [
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("169.254.1.1", "link-local"),
        ("fd00::1", "private"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("2001:db8::1", "private"),  # documentation range
    ],
)
def test_special_purpose_addresses_are_private_without_a_lookup(ip: str, scope: str) -> None:
    # no data at all is needed to say so: an empty data directory
    found = IpLookup(Path("/nonexistent-riskops-intel")).lookup(ip)
    assert (found.private, found.scope, found.country, found.asn) == (True, scope, None, None)
    assert found.notes


def test_missing_data_answers_no_data_with_the_file_named(tmp_path: Path) -> None:
    found = IpLookup(tmp_path).lookup("8.8.8.8")
    assert found.city is None and found.asn is None
    assert found.country == "US"  # iptocc, the registries' allocation, as the fallback
    city_note = next(n for n in found.notes if n.startswith("city: no data"))
    assert str(tmp_path) in city_note and "iptocc" in city_note
    assert any(n.startswith("asn: no data (ASN table not found") for n in found.notes)


@pytest.mark.parametrize(
    "text", ["", "256.1.1.1", "1.2.3", "::g", "x" * 10_000, "١٢٣.١.١.١", "localhost", "8.8.8.8/24"]
)
def test_not_an_ip(text: str) -> None:
    assert parse_ip(text) is None
    found = IpLookup(Path("/nonexistent-riskops-intel")).lookup(text)
    assert found.scope == "invalid"
    assert len(found.value) <= 64


def test_the_range_classes_agree_with_iporigins_own_classify(tmp_path: Path) -> None:
    # lookup reads iporigin's table directly (the address is already parsed and public);
    # hold it to iporigin.classify on public addresses, many of them in listed ranges
    import ipaddress
    import random

    import iporigin

    lookup = IpLookup(tmp_path)
    rng = random.Random(4)
    probes = ["52.95.110.1", "185.220.101.1", "140.82.121.4", "104.16.0.1", "2a03:2880::1"]
    while len(probes) < 3_000:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global and not ip.is_multicast and not ip.is_reserved:
            probes.append(str(ip))
    hits = 0
    for ip in probes:
        ours, theirs = lookup.lookup(ip), iporigin.classify(ip)
        assert (ours.origin, ours.provider) == (theirs.kind, theirs.provider or None), ip
        hits += theirs.kind != iporigin.UNKNOWN
    assert hits >= 4  # the named probes are in listed ranges: the comparison is not vacuous


def test_warm_reads_the_asn_table_before_the_first_lookup(ip_data_root: Path) -> None:
    from riskops.intel.service import IntelService

    service = IntelService(ip_data_root)
    assert not service.ips.asn._loaded
    service.warm()
    assert service.ips.asn._loaded


def test_warm_moves_the_opened_data_out_of_the_collectors_passes(ip_data_root: Path) -> None:
    import gc

    from riskops.intel.service import IntelService

    service = IntelService(ip_data_root)
    service.warm()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert not any(o is service.ips.asn._names for o in gc.get_objects())  # not walked


@pytest.mark.parametrize("version", [4, 6], ids=["v4", "v6"])
def test_the_fast_special_range_check_agrees_with_ipaddress(version: int) -> None:
    import ipaddress
    import random

    from riskops.intel.ips import _SPECIAL, _special

    def slow(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return not ip.is_global or ip.is_multicast or ip.is_reserved

    bits = 32 if version == 4 else 128
    rng = random.Random(8)
    probes = [rng.getrandbits(bits) for _ in range(20_000)]
    if version == 6:  # mostly in routed space (2000::/3), where the public addresses are
        probes += [(0x2 << 125) | rng.getrandbits(125) for _ in range(20_000)]
        probes += [0xFFFF << 32 | rng.getrandbits(32) for _ in range(2_000)]  # IPv4-mapped
    constants = ipaddress._IPv4Constants if version == 4 else ipaddress._IPv6Constants
    networks = [
        *constants._private_networks,
        *getattr(constants, "_private_networks_exceptions", []),
        *getattr(constants, "_reserved_networks", []),
        constants._multicast_network,
        constants._linklocal_network,
    ]
    starts, ends = _SPECIAL[version]
    edges = [*starts, *ends]
    edges += [int(n.network_address) for n in networks] + [
        int(n.broadcast_address) for n in networks
    ]
    for edge in edges:  # every edge, and either side of it
        probes += [edge - 1, edge, edge + 1]
    factory = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    for value in probes:
        ip = factory(value % 2**bits)
        assert _special(ip) == slow(ip), ip

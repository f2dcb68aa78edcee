"""``describe``: kind detection, answers, listed addresses, outside links, mismatches."""

from __future__ import annotations

import tomllib
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.intel.outside import OutsideLinks
from riskops.intel.service import IntelService, ListedAddresses
from riskops.intel.sources import RELEASES, DataSource

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> IntelService:
    """A service with no IP data installed: everything but the IP fields still answers."""
    return IntelService(tmp_path_factory.mktemp("no-ip-data"))


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("8.8.8.8", "ip"),
        ("2001:4860:4860::8888", "ip"),
        ("+44 7400 123456", "phone"),
        ("0044 7400 123456", "phone"),
        ("someone@example.com", "email"),
        ("example.com", "domain"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "address"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "address"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "address"),
        ("0x" + "ab" * 32, "tx_hash"),
        ("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", "tx_hash"),
    ],
)
def test_the_kind_is_detected(bare: IntelService, value: str, kind: str) -> None:
    assert bare.describe(value).to_dict()["kind"] == kind


def test_an_ip_answer_has_the_shape_the_issue_names(service: IntelService) -> None:
    data = service.describe("8.8.8.8").to_dict()
    assert next(iter(data)) == "kind"
    assert (data["kind"], data["country"], data["asn"]) == ("ip", "US", 15169)
    names = {link["name"] for link in data["links"]}
    assert {"ipinfo", "AbuseIPDB", "Hurricane Electric BGP"} <= names
    assert any(link["url"] == "https://bgp.he.net/AS15169" for link in data["links"])
    orjson.dumps(data)  # plain JSON


def test_an_address_answer(bare: IntelService) -> None:
    data = bare.describe("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").to_dict()
    assert (data["kind"], data["chain"], data["valid"], data["format"]) == (
        "address",
        "bitcoin",
        True,
        "p2wpkh",
    )
    assert data["listed"] is None  # no list loaded: no data, not "not listed"
    assert any("BIP-350" in s["name"] for s in data["sources"])
    assert "listed: no data (no address list loaded)" in data["notes"]
    assert data["links"][0]["url"] == (
        "https://mempool.space/address/bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    )


def test_an_invalid_address_has_no_explorer_links(bare: IntelService) -> None:
    data = bare.describe("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").to_dict()
    assert (data["chain"], data["valid"], data["links"]) == ("tron", False, [])
    assert "checksum" in data["reason"]


def test_email_answer(bare: IntelService) -> None:
    data = bare.describe("John.Smith+x@googlemail.com").to_dict()
    assert (data["kind"], data["normalised"], data["disposable"], data["free_mail"]) == (
        "email",
        "johnsmith@gmail.com",
        False,
        True,
    )


def test_a_tx_id_shared_by_chains_links_to_each_unless_the_chain_is_given(
    bare: IntelService,
) -> None:
    tx = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    both = bare.describe(tx).to_dict()
    assert both["chains"] == ["bitcoin", "tron"]
    assert {link["name"] for link in both["links"]} >= {"mempool.space", "Tronscan"}
    one = bare.describe(tx, chain="tron").to_dict()
    assert one["chains"] == ["tron"]
    assert [link["name"] for link in one["links"]] == ["Tronscan"]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "x" * 10_000,
        "مرحبا بالعالم",
        "Привет, мир",
        "你好，世界",
        "bc1qthisisnotvalid",
        "0x12",
        "not an address at all",
        "\x00\x01\x02",
        "12345",
    ],
)
def test_bad_input_gets_a_clear_answer(bare: IntelService, value: str) -> None:
    data = bare.describe(value).to_dict()
    assert data["kind"] in {"unknown", "address", "domain"}
    if data["kind"] == "unknown":
        assert data["reason"]
        assert len(data["value"]) <= 65
    orjson.dumps(data)


def test_a_kind_hint_skips_detection(bare: IntelService) -> None:
    data = bare.describe("07400 123456", kind="phone").to_dict()
    assert data["kind"] == "phone"
    assert not data["valid"]  # no + and no region: libphonenumber cannot place it
    unknown = bare.describe("8.8.8.8", kind="nonsense").to_dict()
    assert unknown["kind"] == "ip"  # an unknown hint falls back to detection


def test_listed_addresses_are_found_case_insensitively_where_case_is_not_meaning(
    tmp_path: Path,
) -> None:
    eth = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    listed = ListedAddresses(
        {"ofac_sdn": [eth.lower(), "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"], "mixer": [eth]},
        {"ofac_sdn": "sanctioned", "mixer": "mixer"},
    )
    svc = IntelService(tmp_path, listed=listed, listed_source=DataSource("test lists", "1"))
    data = svc.describe(eth).to_dict()
    assert data["listed"] is True
    assert {(x["list"], x["category"]) for x in data["listings"]} == {
        ("ofac_sdn", "sanctioned"),
        ("mixer", "mixer"),
    }
    assert {"name": "test lists", "version": "1"} in data["sources"]
    clean = svc.describe("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").to_dict()
    assert (clean["listed"], clean["listings"]) == (False, [])


def test_swapping_the_list_forgets_cached_answers(tmp_path: Path) -> None:
    tron = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    svc = IntelService(tmp_path, listed=ListedAddresses({"a": []}))
    assert svc.describe(tron).to_dict()["listed"] is False
    svc.set_listed(ListedAddresses({"a": [tron]}))
    assert svc.describe(tron).to_dict()["listed"] is True


def test_configured_links_replace_a_targets_table(tmp_path: Path) -> None:
    svc = IntelService(
        tmp_path,
        links={"ip": {"Our IP tool": "https://intel.example/ip/{value}"}, "bitcoin.address": {}},
    )
    ip = svc.describe("8.8.4.4").to_dict()
    assert [link["name"] for link in ip["links"] if "AS" not in link["url"]] == ["Our IP tool"]
    btc = svc.describe("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").to_dict()
    assert btc["links"] == []
    eth = svc.describe("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").to_dict()
    assert eth["links"]  # untouched targets keep their defaults


@pytest.mark.parametrize(
    "template", ["javascript:alert(1)//{value}", "https://example.com/no-placeholder"]
)
def test_a_link_template_must_be_a_web_address_holding_the_value(template: str) -> None:
    with pytest.raises(ValueError, match="RISKOPS_INTEL_LINKS"):
        OutsideLinks({"ip": {"bad": template}})


def test_link_values_are_url_quoted() -> None:
    (link,) = OutsideLinks({"phone": {"s": "https://s.example/?q={value}"}}).links(
        "phone", "+44 7400 123456"
    )
    assert link.url == "https://s.example/?q=%2B44%207400%20123456"


def test_mismatches_name_both_countries_and_why(service: IntelService) -> None:
    report = service.mismatches(
        kyc_country="de", phone="+44 7400 123456", ip="52.95.110.1", card_country="DE"
    )
    assert report.countries["kyc"] == "DE" and report.countries["phone"] == "GB"
    pairs = {(m.first, m.second) for m in report.mismatches}
    assert ("kyc", "phone") in pairs and ("phone", "card") in pairs
    assert ("kyc", "card") not in pairs  # both DE
    ip_pairs = [m for m in report.mismatches if "ip" in (m.first, m.second)]
    assert all("locates a server, not the person" in m.reason for m in ip_pairs)


def test_mismatch_notes_evidence_that_names_no_country(bare: IntelService) -> None:
    report = bare.mismatches(kyc_country="XX", phone="+800 1234 5678", ip="10.0.0.1")
    assert report.mismatches == []
    assert any("'XX' is not an ISO 3166-1 country code" in n for n in report.notes)
    assert any(n.startswith("phone: names no country") for n in report.notes)
    assert any(n.startswith("ip: names no country") for n in report.notes)


def test_release_dates_are_for_the_pinned_versions() -> None:
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = dict(p.split("==") for p in pins if "==" in p)
    for package, (version, _) in RELEASES.items():
        assert pinned[package] == version, f"update RELEASES[{package!r}] with its pin"


def test_package_json_pins_exact_versions() -> None:
    manifest = orjson.loads((ROOT / "package.json").read_bytes())
    lock = orjson.loads((ROOT / "package-lock.json").read_bytes())
    for name, version in manifest["dependencies"].items():
        assert version[0].isdigit(), f"{name} must be pinned exactly"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_the_default_service_reads_the_address_lists_of_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskops.intel.service import default_service
    from riskops.kernel.config import get_settings

    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "sanctioned_addresses.txt").write_text(
        "# OFAC SDN digital currency addresses\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t  # entry 1\n\n"
    )
    (lists / "high_risk_countries.txt").write_text("KP\n")  # not an address list
    monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RISKOPS_INTEL_DATA_DIR", str(tmp_path / "no-ip-data"))
    get_settings.cache_clear()
    default_service.cache_clear()
    try:
        data = default_service().describe("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").to_dict()
        assert data["listed"] is True
        assert data["listings"] == [{"list": "sanctioned_addresses", "category": "sanctioned"}]
        (source,) = [s for s in data["sources"] if s["name"] == f"address lists in {lists}"]
        assert source["date"]
    finally:
        get_settings.cache_clear()
        default_service.cache_clear()


def test_no_lists_folder_means_no_data_not_unlisted(tmp_path: Path) -> None:
    from riskops.intel.service import ListedAddresses

    assert ListedAddresses.from_dir(tmp_path / "missing") is None


_BARE = IntelService(Path("/nonexistent-riskops-intel-data"))  # no IP data: the rest answers


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120) | st.from_regex(r"[0-9a-fA-Fx:.+@ ]{1,70}", fullmatch=True))
def test_any_text_gets_a_json_answer(value: str) -> None:
    data = _BARE.describe(value).to_dict()
    assert data["kind"] in {"ip", "phone", "email", "domain", "address", "tx_hash", "unknown"}
    orjson.dumps(data)

"""The shortcuts of the lookup path give what the long way gives: base58 decoded five
digits at a time, bech32's character check, E.164 link quoting, and detection that goes
straight to email/phone/domain for a text starting with "+"."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.intel import detect as kinds
from riskops.intel.codecs import BASE58_ALPHABET, b58decode, bech32_decode
from riskops.intel.outside import OutsideLinks


def _b58decode_per_digit(text: str) -> bytes | None:
    """The decoder as written before: one big-integer step per digit."""
    if not text or len(text) > 128:
        return None
    value = 0
    for char in text:
        if char not in BASE58_ALPHABET:
            return None
        value = value * 58 + BASE58_ALPHABET.index(char)
    zeros = len(text) - len(text.lstrip("1"))
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return b"\x00" * zeros + body


_BASE58_TEXT = st.text(alphabet=BASE58_ALPHABET, max_size=130)
_NEAR_BASE58 = st.text(alphabet=BASE58_ALPHABET + "0OIl+/ é\u0661", max_size=60)


@settings(max_examples=500)
@given(st.one_of(_BASE58_TEXT, _NEAR_BASE58, st.text(max_size=40)))
def test_base58_in_chunks_decodes_as_digit_by_digit(text: str) -> None:
    assert b58decode(text) == _b58decode_per_digit(text)


@settings(max_examples=300)
@given(st.text(max_size=20), st.sampled_from(["bc1", "tb1", "BC1"]))
def test_bech32_refuses_every_character_outside_ascii_33_to_126(junk: str, hrp: str) -> None:
    text = hrp + "qw508d6qejxtdg4y5r3zarvary0c5xw7k" + junk
    outside = any(ord(c) < 33 or ord(c) > 126 for c in text)
    if outside:
        assert bech32_decode(text) is None


@settings(max_examples=300)
@given(st.one_of(st.from_regex(r"\+[0-9]{1,20}", fullmatch=True), st.text(max_size=30)))
def test_link_values_are_quoted_as_urllib_quotes_them(value: str) -> None:
    links = OutsideLinks({"x": {"site": "https://example.org/{value}"}}).links("x", value)
    assert [link.url for link in links] == [f"https://example.org/{quote(value, safe='')}"]


def _detect_the_long_way(value: str) -> tuple[str, str]:
    """detect without the "+" shortcut: every kind tried in order."""
    text = value.strip()
    if kinds.parse_ip(text) is not None:
        return kinds.IP, "an IPv4 or IPv6 address"
    if kinds.tx_chains(text):
        return kinds.TX_HASH, "the shape of a transaction id"
    if kinds.check_address(text).chain is not None:
        return kinds.ADDRESS, "some chain's address format"
    return kinds._after_addresses(text)


@settings(max_examples=400)
@given(
    st.one_of(
        st.from_regex(r"\+[0-9 ().\-]{0,30}", fullmatch=True),
        st.builds(lambda s: "+" + s, st.text(max_size=90)),
        st.builds(lambda s: "+" + s, st.text(alphabet=BASE58_ALPHABET + "0x.:@", max_size=90)),
    )
)
def test_a_text_starting_with_plus_is_detected_as_the_long_way_detects_it(text: str) -> None:
    if not text.strip() or not text.strip().startswith("+"):
        return
    assert kinds.detect(text) == _detect_the_long_way(text)


def _parse_ip_with_ipaddress(text: str) -> object:
    import ipaddress

    value = text.strip()
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


_QUAD_PARTS = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["00", "01", "007", "0x1", "1e1", " 1", "+1", "-1", "", "\u0661", "\x00"]),
)


@settings(max_examples=600)
@given(
    st.one_of(
        st.lists(_QUAD_PARTS, min_size=1, max_size=6).map(".".join),
        st.integers(0, 2**32 - 1).map(
            lambda n: ".".join(str(n >> s & 255) for s in (24, 16, 8, 0))
        ),
        st.text(alphabet="0123456789.", max_size=20),
        st.text(max_size=20).map(lambda t: t + ".1"),
    )
)
def test_a_dotted_quad_parses_as_ipaddress_parses_it_and_is_canonical(text: str) -> None:
    from riskops.intel.ips import parse_ip

    if ":" in text:
        return  # IPv6 text takes ipaddress's own parser
    found = parse_ip(text)
    assert found == _parse_ip_with_ipaddress(text), text
    if found is not None:
        assert str(found) == text.strip()


@settings(max_examples=300)
@given(st.lists(st.integers(0, 31), max_size=120))
def test_the_bech32_checksum_two_symbols_a_step_is_the_one_a_step_checksum(
    values: list[int],
) -> None:
    from riskops.intel.codecs import _polymod, _polymod_by_one

    assert _polymod(values) == _polymod_by_one(values)


@settings(max_examples=300)
@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40))
def test_eip55_on_whole_bytes_is_eip55_a_character_at_a_time(hex40: str) -> None:
    from riskops.intel.codecs import _eip55_per_character, eip55

    assert eip55(hex40) == _eip55_per_character(hex40)

"""The address encodings against the published vectors (BIP-173, BIP-350, EIP-55, Keccak).

The expected values are copied from the BIPs and the EIP, never computed with our code.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.intel.codecs import (
    Bech32Variant,
    b58check_decode,
    b58check_encode,
    b58decode,
    b58encode,
    bech32_decode,
    eip55,
    keccak256,
    segwit_decode,
    segwit_encode,
)

# BIP-173: valid bech32 strings; BIP-350: valid bech32m strings.
BECH32_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
BECH32M_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
# BIP-173 invalid strings (reason in the BIP).
BECH32_INVALID = [
    "\x20" + "1nwldj5",  # HRP character out of range
    "\x7f" + "1axkwrx",
    "\x80" + "1eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt" + "\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum calculated with upper-case HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
]

# BIP-350 valid segwit addresses and their scriptPubKey (version opcode, push, program).
SEGWIT_VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]
SEGWIT_INVALID = [
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",  # invalid HRP
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # bech32, not bech32m
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",  # bech32, not bech32m
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # bech32, not bech32m
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # bech32m, not bech32
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",  # bech32m, not bech32
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # bad checksum char
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # witness version 17
    "bc1pw5dgrnzv",  # 1-byte program
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # 41 bytes
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # v0 program of 16 bytes
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",  # mixed case
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",  # >4 padding bits
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",  # non-zero padding
    "bc1gmk9yu",  # empty data
]

# EIP-55's examples: all caps, all lower, then mixed-case checksummed.
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("text", BECH32_VALID)
def test_bip173_valid_strings_decode_as_bech32(text: str) -> None:
    decoded = bech32_decode(text)
    assert decoded is not None
    assert decoded[2] is Bech32Variant.BECH32


@pytest.mark.parametrize("text", BECH32M_VALID)
def test_bip350_valid_strings_decode_as_bech32m(text: str) -> None:
    decoded = bech32_decode(text)
    assert decoded is not None
    assert decoded[2] is Bech32Variant.BECH32M


@pytest.mark.parametrize("text", BECH32_INVALID)
def test_bip173_invalid_strings_are_refused(text: str) -> None:
    assert bech32_decode(text) is None


@pytest.mark.parametrize(("address", "script"), SEGWIT_VALID)
def test_bip350_valid_addresses_decode_to_their_script(address: str, script: str) -> None:
    hrp = address.lower().split("1")[0]
    decoded = segwit_decode(hrp, address)
    assert decoded is not None
    version, program = decoded
    opcode = 0 if version == 0 else 0x50 + version
    assert bytes([opcode, len(program)]).hex() + program.hex() == script
    # and our encoder writes the same address back (lower-case, as BIP-173 recommends)
    assert segwit_encode(hrp, version, program) == address.lower()


@pytest.mark.parametrize("address", SEGWIT_INVALID)
def test_bip350_invalid_addresses_are_refused(address: str) -> None:
    for hrp in ("bc", "tb"):
        assert segwit_decode(hrp, address) is None


def test_base58check_of_the_genesis_address() -> None:
    # Bitcoin's genesis coinbase address and its published HASH160.
    payload = b58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert payload is not None
    assert payload.hex() == "0062e907b15cbf27d5425399ebf6f0fb50ebb88f18"


def test_base58check_refuses_a_changed_character() -> None:
    assert b58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb") is None


def test_base58_keeps_leading_zero_bytes() -> None:
    assert b58encode(b"\x00\x00\x01") == "112"
    assert b58decode("112") == b"\x00\x00\x01"
    assert b58decode("0OIl") is None  # not in the alphabet


@pytest.mark.parametrize("address", EIP55_EXAMPLES)
def test_eip55_examples(address: str) -> None:
    body = address[2:]
    if body.lower() == body or body.upper() == body:
        # the all-lower/all-upper examples are valid without a checksum; their
        # checksummed form differs in case only
        assert eip55(body).lower() == address.lower()
    else:
        assert eip55(body.lower()) == address


def test_keccak256_is_ethereums_not_sha3() -> None:
    # Keccak-256 of the empty string (the SHA3-256 value is a7ffc6f8...).
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=1, max_size=40))
def test_base58check_round_trip(payload: bytes) -> None:
    assert b58check_decode(b58check_encode(payload)) == payload


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([20, 32]), st.data())
def test_segwit_v0_round_trip(size: int, data: st.DataObject) -> None:
    program = data.draw(st.binary(min_size=size, max_size=size))
    assert segwit_decode("bc", segwit_encode("bc", 0, program)) == (0, program)

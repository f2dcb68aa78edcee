"""Chain detection and validation of crypto addresses, on addresses published by their chains."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.intel.addresses import (
    BITCOIN,
    BITCOIN_TESTNET,
    ETHEREUM,
    SOLANA,
    TRON,
    check_address,
    ethereum_address,
    lookup_key,
    p2pkh_address,
    p2wpkh_address,
    solana_address,
    tron_address,
)

VALID = [
    # Bitcoin: the genesis address (P2PKH), the P2SH example of the Bitcoin wiki, BIP-173's
    # P2WPKH and P2WSH, BIP-350's taproot (P2TR, the generator point's x coordinate)
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", BITCOIN, "p2pkh"),
    ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", BITCOIN, "p2pkh"),
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", BITCOIN, "p2sh"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", BITCOIN, "p2wpkh"),
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", BITCOIN, "p2wpkh"),
    (
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        BITCOIN,
        "p2wsh",
    ),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", BITCOIN, "p2tr"),
    # testnet: the Bitcoin wiki's testnet P2PKH and P2SH, BIP-173's testnet P2WSH
    ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", BITCOIN_TESTNET, "p2pkh"),
    ("2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", BITCOIN_TESTNET, "p2sh"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        BITCOIN_TESTNET,
        "p2wsh",
    ),
    ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", BITCOIN_TESTNET, "p2tr"),
    # Ethereum: EIP-55's examples
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ETHEREUM, "eoa-or-contract"),
    ("0xde709f2102306220921060314715629080e2fb77", ETHEREUM, "eoa-or-contract"),
    ("0x52908400098527886E0F7030069857D2E4169EE7", ETHEREUM, "eoa-or-contract"),
    # TRON: the USDT (TRC-20) contract
    ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", TRON, "base58check"),
    # Solana: the system program, wrapped SOL and the token program
    ("11111111111111111111111111111111", SOLANA, "ed25519-key"),
    ("So11111111111111111111111111111111111111112", SOLANA, "ed25519-key"),
    ("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA", SOLANA, "ed25519-key"),
]

INVALID_ON_A_CHAIN = [
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", BITCOIN, "checksum"),  # last character changed
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz", BITCOIN, "checksum"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", BITCOIN, "checksum"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", BITCOIN, "checksum"),  # bech32m on v0
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", BITCOIN, "checksum"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", BITCOIN_TESTNET, "checksum"),
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", ETHEREUM, "EIP-55"),  # one case flipped
    ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", ETHEREUM, "40 hex"),  # 39 digits
    ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", ETHEREUM, "40 hex"),
    ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", TRON, "checksum"),
]


@pytest.mark.parametrize(("address", "chain", "fmt"), VALID)
def test_published_addresses_are_valid_on_their_chain(address: str, chain: str, fmt: str) -> None:
    found = check_address(address)
    assert (found.chain, found.valid, found.format) == (chain, True, fmt)
    assert found.reason is None


@pytest.mark.parametrize(("address", "chain", "why"), INVALID_ON_A_CHAIN)
def test_broken_addresses_are_refused_with_a_reason(address: str, chain: str, why: str) -> None:
    found = check_address(address)
    assert found.chain == chain
    assert not found.valid
    assert found.reason is not None and why in found.reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 10_000,
        "hello world",
        "مرحبا بالعالم",
        "Привет, мир",
        "你好世界",
        "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9",  # a chain we do not know
        "2001:db8::1",
        "0OIl" * 9,
    ],
)
def test_text_of_no_chain_is_refused_without_raising(text: str) -> None:
    found = check_address(text)
    assert found.chain is None
    assert not found.valid
    assert found.reason


def test_mixed_case_ethereum_normalises_to_the_checksummed_form() -> None:
    found = check_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
    assert found.normalised == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_lookup_key_ignores_case_only_where_case_means_nothing() -> None:
    assert lookup_key("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed") == lookup_key(
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    )
    assert lookup_key("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4") == (
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    )
    # base58: case is the value
    assert lookup_key("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t") != lookup_key(
        "tr7nhqjekqxgtci8q8zy4pl8otszgjlj6t"
    )


def test_encoders_reproduce_published_addresses() -> None:
    assert p2pkh_address(bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")) == (
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    )
    assert p2wpkh_address(bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")) == (
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    )
    assert tron_address(bytes.fromhex("a614f803b6fd780986a42c78ec9c7f77e6ded13c")) == (
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    )
    assert solana_address(bytes(32)) == "11111111111111111111111111111111"
    assert ethereum_address(bytes.fromhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")) == (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    )


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.binary(min_size=32, max_size=32))
def test_every_encoded_address_is_valid_on_its_chain(account: bytes, key: bytes) -> None:
    cases = [
        (p2wpkh_address(account), BITCOIN),
        (p2wpkh_address(account, testnet=True), BITCOIN_TESTNET),
        (p2pkh_address(account), BITCOIN),
        (tron_address(account), TRON),
        (ethereum_address(account), ETHEREUM),
        (solana_address(key), SOLANA),
    ]
    for address, chain in cases:
        found = check_address(address)
        assert (found.chain, found.valid) == (chain, True), address


@pytest.mark.parametrize("size", [19, 21])
def test_encoders_refuse_wrong_sizes(size: int) -> None:
    with pytest.raises(ValueError):
        tron_address(bytes(size))
    with pytest.raises(ValueError):
        p2wpkh_address(bytes(size))


def test_a_base58_address_that_starts_like_a_bech32_prefix() -> None:
    # found by the property above: a TRON address beginning "TB1" is not a testnet bech32
    found = check_address("TB12GfcdcivAjxgNietugtYvnGaQ2TbarK")
    assert (found.chain, found.valid) == ("tron", True)


def test_lookup_key_keeps_the_case_of_a_tron_address_that_starts_like_tb1() -> None:
    tron = "TB12GfcdcivAjxgNietugtYvnGaQ2TbarK"
    assert lookup_key(tron) == tron
    assert lookup_key("TB1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KXPJZSX") == (
        "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
    )

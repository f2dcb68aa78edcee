"""Which chain a crypto address belongs to, whether it is valid there, and encoders.

The checks are the chains' own: base58check for Bitcoin legacy (P2PKH, P2SH) and TRON
(version byte 0x41), bech32 for segwit v0 and bech32m for v1+ (taproot), EIP-55 for
Ethereum (all-lower and all-upper carry no checksum; mixed case must match it), and a
32-byte base58 key for Solana. ``AddressCheck.reason`` says why an address is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from riskops.intel.codecs import (
    MAX_ADDRESS_CHARS,
    b58check_encode,
    b58decode,
    b58encode,
    checksum_ok,
    eip55,
    segwit_decode,
    segwit_encode,
)

BITCOIN = "bitcoin"
BITCOIN_TESTNET = "bitcoin-testnet"
ETHEREUM = "ethereum"
TRON = "tron"
SOLANA = "solana"
CHAINS = (BITCOIN, BITCOIN_TESTNET, ETHEREUM, TRON, SOLANA)

# Base58check version bytes: (chain, format) per leading byte of the payload.
_BTC_VERSIONS = {
    0x00: (BITCOIN, "p2pkh"),
    0x05: (BITCOIN, "p2sh"),
    0x6F: (BITCOIN_TESTNET, "p2pkh"),
    0xC4: (BITCOIN_TESTNET, "p2sh"),
}
_SEGWIT_HRPS = {"bc": BITCOIN, "tb": BITCOIN_TESTNET, "bcrt": BITCOIN_TESTNET}
_TRON_VERSION = 0x41
_HEX40 = re.compile(r"0[xX][0-9a-fA-F]{40}")
_BASE58_CHARS = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """The verdict on one address. ``chain`` is None when no chain's format fits."""

    chain: str | None
    valid: bool
    format: str | None = None
    reason: str | None = None
    # The form to compare and look up by (EIP-55 for Ethereum, lower-case bech32).
    normalised: str | None = None


def _segwit(text: str) -> AddressCheck | None:
    lowered = text.lower()
    hrp = lowered[: lowered.rfind("1")] if "1" in lowered else ""
    chain = _SEGWIT_HRPS.get(hrp)
    if chain is None:
        return None
    decoded = segwit_decode(hrp, text)
    if decoded is None:
        return AddressCheck(chain, False, "segwit", "bad bech32/bech32m checksum or program")
    version, program = decoded
    if version == 0:
        fmt = "p2wpkh" if len(program) == 20 else "p2wsh"
    elif version == 1 and len(program) == 32:
        fmt = "p2tr"
    else:
        fmt = f"segwit-v{version}"
    return AddressCheck(chain, True, fmt, None, lowered)


def _ethereum(text: str) -> AddressCheck:
    body = text[2:]
    checksummed = eip55(body)
    if body == body.lower() or body == body.upper():
        return AddressCheck(ETHEREUM, True, "eoa-or-contract", None, checksummed)
    if "0x" + body != checksummed:
        return AddressCheck(ETHEREUM, False, "eoa-or-contract", "EIP-55 checksum does not match")
    return AddressCheck(ETHEREUM, True, "eoa-or-contract", None, checksummed)


def _base58(text: str) -> AddressCheck | None:
    raw = b58decode(text)
    if raw is None:
        return None
    if len(raw) == 32 and 32 <= len(text) <= 44:
        return AddressCheck(SOLANA, True, "ed25519-key", None, text)
    if len(raw) != 25:
        if text.startswith("T") and len(text) == 34:
            return AddressCheck(TRON, False, "base58check", "wrong length")
        return None
    payload = raw[:-4] if checksum_ok(raw) else None
    version = raw[0]
    if version == _TRON_VERSION:
        if payload is None:
            return AddressCheck(TRON, False, "base58check", "bad base58check checksum")
        return AddressCheck(TRON, True, "base58check", None, text)
    known = _BTC_VERSIONS.get(version)
    if known is None:
        return None
    chain, fmt = known
    if payload is None:
        return AddressCheck(chain, False, fmt, "bad base58check checksum")
    return AddressCheck(chain, True, fmt, None, text)


@lru_cache(maxsize=4_096)
def check_address(text: str) -> AddressCheck:
    """Detect the chain of ``text`` and validate it. Never raises.

    Kept for the last few thousand texts: detection, the answer and the listed-address key
    each ask about the same address in turn."""
    text = text.strip()
    if not text:
        return AddressCheck(None, False, None, "empty")
    if len(text) > MAX_ADDRESS_CHARS:
        return AddressCheck(None, False, None, f"longer than {MAX_ADDRESS_CHARS} characters")
    if _HEX40.fullmatch(text):
        return _ethereum(text)
    if text[:2] in ("0x", "0X"):
        return AddressCheck(ETHEREUM, False, None, "an Ethereum address is 0x and 40 hex digits")
    segwit = _segwit(text)
    if segwit is not None and segwit.valid:
        return segwit
    # A base58 address may start like a bech32 prefix (TRON's "TB1..." reads as "tb1"):
    # a valid base58 reading wins over a failed bech32 one.
    base58 = _base58(text) if _BASE58_CHARS.fullmatch(text) else None
    if base58 is not None and (base58.valid or segwit is None):
        return base58
    if segwit is not None:
        return segwit
    return AddressCheck(None, False, None, "matches no known chain's address format")


def looks_like_address(text: str) -> bool:
    """A cheap test for detection: the text fits some chain's address format (valid or not)."""
    return check_address(text).chain is not None


_SEGWIT_FORMATS = ("p2wpkh", "p2wsh", "p2tr", "segwit")


def lookup_key(address: str, check: AddressCheck | None = None) -> str:
    """The form listed addresses are compared in: lower-case for hex and bech32 (whose case
    carries no meaning, or only a checksum), as written for base58 (where case is the value:
    a TRON address may begin ``TB1``, which only looks like a testnet bech32 prefix)."""
    text = address.strip()
    found = check or check_address(text)
    if found.chain == ETHEREUM or text[:2] in ("0x", "0X"):
        return text.lower()
    if found.format is not None and found.format.startswith(_SEGWIT_FORMATS):
        return text.lower()
    return text


# --- encoders (the simulator makes valid addresses with these) -------------------------------


def p2wpkh_address(program: bytes, *, testnet: bool = False) -> str:
    """The bech32 segwit v0 address of a 20-byte key hash."""
    if len(program) != 20:
        raise ValueError("a P2WPKH program is 20 bytes")
    return segwit_encode("tb" if testnet else "bc", 0, program)


def p2pkh_address(key_hash: bytes, *, testnet: bool = False) -> str:
    """The legacy base58check address of a 20-byte key hash."""
    if len(key_hash) != 20:
        raise ValueError("a P2PKH key hash is 20 bytes")
    return b58check_encode(bytes([0x6F if testnet else 0x00]) + key_hash)


def tron_address(account: bytes) -> str:
    """The TRON address (``T...``) of a 20-byte account id."""
    if len(account) != 20:
        raise ValueError("a TRON account id is 20 bytes")
    return b58check_encode(bytes([_TRON_VERSION]) + account)


def solana_address(key: bytes) -> str:
    """The Solana address of a 32-byte public key."""
    if len(key) != 32:
        raise ValueError("a Solana key is 32 bytes")
    return b58encode(key)


def ethereum_address(account: bytes) -> str:
    """The EIP-55 checksummed Ethereum address of a 20-byte account id."""
    if len(account) != 20:
        raise ValueError("an Ethereum account id is 20 bytes")
    return eip55(account.hex())

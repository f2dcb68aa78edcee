"""What kind of value a piece of text is: ip, tx_hash, address, email, phone or domain.

The order settles the overlaps: an IP before anything else; a transaction id (64 hex
digits, ``0x`` + 64 for Ethereum, 64 base58-encoded bytes for Solana) before an address;
an address only when some chain's format fits; a phone only with its ``+`` (or ``00``)
country prefix, since bare digits are as often an account or order number.
"""

from __future__ import annotations

import re

from riskops.intel.addresses import BITCOIN, ETHEREUM, SOLANA, TRON, check_address
from riskops.intel.codecs import b58decode
from riskops.intel.emails import DOMAIN_NAME
from riskops.intel.ips import parse_ip

IP, TX_HASH, ADDRESS, EMAIL, PHONE, DOMAIN, UNKNOWN = (
    "ip",
    "tx_hash",
    "address",
    "email",
    "phone",
    "domain",
    "unknown",
)
KINDS = (IP, TX_HASH, ADDRESS, EMAIL, PHONE, DOMAIN)
MAX_VALUE_CHARS = 512  # longer text is none of these kinds (an email is at most 254)

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_ETH_TX = re.compile(r"0[xX][0-9a-fA-F]{64}")
# ``\d`` matches any script's digits: libphonenumber reads Arabic-Indic and others.
_PHONE = re.compile(r"(\+|00)\s*\d[\d\s\-().]{5,30}")


def tx_chains(text: str) -> list[str]:
    """The chains whose transaction ids have the shape of ``text`` (none: not a tx id)."""
    if _ETH_TX.fullmatch(text):
        return [ETHEREUM]
    if _HEX64.fullmatch(text):
        return [BITCOIN, TRON]
    if 64 <= len(text) <= 88:  # 64 bytes in base58: 88 characters, fewer with zero bytes
        raw = b58decode(text)
        if raw is not None and len(raw) == 64:
            return [SOLANA]
    return []


def detect(text: str) -> tuple[str, str]:
    """(kind, reason): the kind of ``text``, or UNKNOWN with why. Never raises."""
    value = text.strip()
    if not value:
        return UNKNOWN, "empty"
    if len(value) > MAX_VALUE_CHARS:
        return UNKNOWN, f"longer than {MAX_VALUE_CHARS} characters: no value of a known kind is"
    if value[0] == "+":
        # No IP, transaction id or address holds a "+" (a test holds detect to the long way
        # on such texts): go straight to the kinds that may.
        return _after_addresses(value)
    if parse_ip(value) is not None:
        return IP, "an IPv4 or IPv6 address"
    if tx_chains(value):
        return TX_HASH, "the shape of a transaction id"
    if check_address(value).chain is not None:
        return ADDRESS, "some chain's address format"
    return _after_addresses(value)


def _after_addresses(value: str) -> tuple[str, str]:
    if "@" in value:
        return EMAIL, "holds an @"
    if _PHONE.fullmatch(value):
        return PHONE, "a number with a + country prefix"
    if DOMAIN_NAME.fullmatch(value.lower().rstrip(".")):
        return DOMAIN, "a domain name"
    return UNKNOWN, (
        "not an IP, a crypto address or transaction id, an email, a phone number with its "
        "+country prefix, or a domain name"
    )

"""One spelling per value, so the same phone, email, address or IP links whatever its form.

Pure functions; each returns None for a value that cannot be a link (empty, unparseable).
Each remembers its last answers: the monitor sees the same IPs and emails again and again.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from riskops.intel.emails import normalise_email

_NOT_DIGIT = re.compile(r"[^0-9]")
_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BECH32_PREFIXES = ("bc1", "tb1", "ltc1", "bcrt1")


@lru_cache(maxsize=1 << 16)
def email(value: str | None) -> str | None:
    """The mailbox an address delivers to, as ``riskops.intel`` spells it (lower case; the
    ``+tag`` dropped where the provider documents sub-addressing; Gmail's dots dropped,
    ``googlemail.com`` read as ``gmail.com``), so a link and its intelligence agree:
    ``John.Doe+x@GoogleMail.com`` -> ``johndoe@gmail.com``."""
    if not value:
        return None
    return normalise_email(value)


@lru_cache(maxsize=1 << 16)
def phone(value: str | None) -> str | None:
    """Digits only, with ``+`` for an international number (``00`` read as ``+``):
    ``+44 (20) 7946-0018`` -> ``+442079460018``. Fewer than 6 digits is no phone."""
    if not value:
        return None
    text = value.strip()
    digits = _NOT_DIGIT.sub("", text)
    international = text.startswith("+")
    if not international and digits.startswith("00"):
        digits, international = digits[2:], True
    if len(digits) < 6:
        return None
    return f"+{digits}" if international else digits


@lru_cache(maxsize=1 << 16)
def ip(value: str | None) -> str | None:
    """The address in its compressed form; an IPv4-mapped IPv6 address as IPv4."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


@lru_cache(maxsize=1 << 16)
def ip_net(value: str | None) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) network of an address: ``203.0.113.7`` ->
    ``203.0.113.0/24``."""
    canonical = ip(value)
    if canonical is None:
        return None
    prefix = 24 if ":" not in canonical else 64
    return ipaddress.ip_network(f"{canonical}/{prefix}", strict=False).compressed


@lru_cache(maxsize=1 << 16)
def address(value: str | None) -> str | None:
    """A crypto address: hex (EVM) and bech32 addresses are case-insensitive, so lower
    case; base58 and others are case-sensitive and kept as they are."""
    if not value:
        return None
    text = value.strip()
    if not text:
        return None
    if _HEX_ADDRESS.match(text) or text.lower().startswith(_BECH32_PREFIXES):
        return text.lower()
    return text


def token(value: str | None) -> str | None:
    """A device, card or bank fingerprint, a referral code: as given, without surrounding
    spaces."""
    if not value:
        return None
    text = value.strip()
    return text or None

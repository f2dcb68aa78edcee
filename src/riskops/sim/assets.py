"""Prices, exact money formatting, crypto addresses and fast timestamps for the simulator.

Money is integer arithmetic all the way: a USD target in cents becomes an amount in the
asset's minor units, and ``usd_value`` is derived back from that amount, so the two agree
exactly (at most two decimals, never a float rounding artefact).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from riskops.intel.addresses import p2wpkh_address, solana_address, tron_address
from riskops.intel.codecs import b58encode

# A simple, fixed price table (USD cents per unit); the simulator does not model markets.
PRICE_CENTS: dict[str, int] = {
    "BTC": 9_500_000,
    "ETH": 330_000,
    "SOL": 18_000,
    "TRX": 25,
    "USDT": 100,
    "USDC": 100,
    "USD": 100,
    "EUR": 108,
    "GBP": 127,
}
DECIMALS: dict[str, int] = {
    "BTC": 8,
    "ETH": 8,
    "SOL": 6,
    "TRX": 4,
    "USDT": 2,
    "USDC": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
}
CHAINS: dict[str, tuple[str, ...]] = {
    "BTC": ("bitcoin",),
    "ETH": ("ethereum",),
    "USDT": ("tron", "ethereum"),
    "USDC": ("ethereum", "solana"),
    "SOL": ("solana",),
    "TRX": ("tron",),
}
CRYPTO: tuple[str, ...] = tuple(CHAINS)
FIAT: tuple[str, ...] = ("USD", "EUR", "GBP")
_SCALE = {asset: 10**d for asset, d in DECIMALS.items()}
_PRICE_TEXT = {a: f"{c // 100}.{c % 100:02d}" for a, c in PRICE_CENTS.items()}

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def money(asset: str, usd_cents: int) -> tuple[str, str, int]:
    """Amount text, ``usd_value`` text and the exact cents for about ``usd_cents`` of ``asset``."""
    scale = _SCALE[asset]
    price = PRICE_CENTS[asset]
    minor = max(1, usd_cents * scale // price)
    cents = minor * price // scale
    dec = DECIMALS[asset]
    return f"{minor // scale}.{minor % scale:0{dec}d}", f"{cents // 100}.{cents % 100:02d}", cents


def price_text(asset: str) -> str:
    """The table price of ``asset`` in USD, as decimal text."""
    return _PRICE_TEXT[asset]


def address(rng: random.Random, chain: str) -> str:
    """A random address, valid on ``chain`` (checksums and all: ``riskops intel`` checks them).

    Each chain draws from ``rng`` exactly as it did when the addresses were only shaped
    right, so a seed's other draws (amounts, times, accounts) are unchanged.
    """
    if chain == "bitcoin":
        # 32 of the 38 drawn characters are the 20-byte program; bech32 adds 6 of checksum.
        program = 0
        for char in rng.choices(_BECH32, k=38)[:32]:
            program = program * 32 + _BECH32.index(char)
        return p2wpkh_address(program.to_bytes(20, "big"))
    if chain == "ethereum":
        return f"0x{rng.getrandbits(160):040x}"  # all lower case: valid, no checksum
    if chain == "tron":
        return tron_address(_draw_int(rng, 33).to_bytes(32, "big")[-20:])
    return solana_address(_draw_int(rng, 44).to_bytes(33, "big")[-32:])


def _draw_int(rng: random.Random, k: int) -> int:
    """``k`` base58 characters drawn as before, read as one number."""
    value = 0
    for char in rng.choices(_BASE58, k=k):
        value = value * 58 + _BASE58.index(char)
    return value


def tx_hash(rng: random.Random, chain: str) -> str:
    """A random transaction hash for ``chain``."""
    if chain == "ethereum":
        return f"0x{rng.getrandbits(256):064x}"
    if chain == "solana":  # a 64-byte signature, drawn as 88 characters as before
        return b58encode(_draw_int(rng, 88).to_bytes(65, "big")[-64:])
    return f"{rng.getrandbits(256):064x}"


DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch, exact."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class TimeFormatter:
    """RFC 3339 text from integer microseconds, caching the date part per day.

    Formatting through ``datetime`` per event is the single largest cost of a naive
    generator; a cached ``YYYY-MM-DDT`` prefix plus integer division is several times faster.
    """

    def __init__(self) -> None:
        self._prefix: dict[int, str] = {}

    def __call__(self, ts_us: int) -> str:
        day, rest = divmod(ts_us, DAY_US)
        prefix = self._prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._prefix[day] = prefix
        sec, us = divmod(rest, 1_000_000)
        h, sec = divmod(sec, 3600)
        m, s = divmod(sec, 60)
        return f"{prefix}{h:02d}:{m:02d}:{s:02d}.{us:06d}+00:00"


def random_dob(rng: random.Random) -> str:
    """A date of birth for an adult customer, ISO text."""
    return (date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))).isoformat()

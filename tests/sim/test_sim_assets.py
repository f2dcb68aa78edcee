from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from riskops.sim.assets import PRICE_CENTS, TimeFormatter, address, money, to_us


def test_money_is_exact_and_consistent() -> None:
    for asset, price in PRICE_CENTS.items():
        for cents in (1, 99, 12_345, 987_654_321):
            amount, usd, exact = money(asset, cents)
            assert Decimal(amount) > 0
            assert Decimal(usd) == Decimal(exact) / 100
            # usd_value is the amount at the table price, rounded down to the cent
            value = Decimal(amount) * Decimal(price) / 100
            assert Decimal(usd) <= value < Decimal(usd) + Decimal("0.01")


def test_time_formatter_matches_datetime() -> None:
    fmt = TimeFormatter()
    base = datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    for step in (0, 1, 1_000_000, 86_400_000_000, 123_456_789_012):
        moment = base + timedelta(microseconds=step)
        assert fmt(to_us(moment)) == moment.isoformat(timespec="microseconds")


def test_addresses_look_like_their_chain() -> None:
    rng = random.Random(1)
    assert address(rng, "bitcoin").startswith("bc1q")
    assert len(address(rng, "ethereum")) == 42
    assert address(rng, "tron").startswith("T")
    assert len(address(rng, "tron")) == 34

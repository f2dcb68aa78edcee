"""The simulator's addresses are valid on their chains, and draw from the seed as before."""

from __future__ import annotations

import random

import pytest

from riskops.intel.addresses import check_address
from riskops.intel.detect import tx_chains
from riskops.sim.assets import CHAINS, address, tx_hash

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# What each chain drew when its addresses were only shaped right (before issue 10).
_OLD_DRAWS = {
    "bitcoin": lambda rng: rng.choices(_BECH32, k=38),
    "ethereum": lambda rng: rng.getrandbits(160),
    "tron": lambda rng: rng.choices(_BASE58, k=33),
    "solana": lambda rng: rng.choices(_BASE58, k=44),
}
ALL_CHAINS = sorted({c for chains in CHAINS.values() for c in chains})


@pytest.mark.parametrize("chain", ALL_CHAINS)
def test_every_simulated_address_is_valid_on_its_chain(chain: str) -> None:
    rng = random.Random(42)
    for _ in range(300):
        found = check_address(address(rng, chain))
        assert (found.chain, found.valid) == (chain, True)


@pytest.mark.parametrize("chain", ALL_CHAINS)
def test_the_seed_stream_is_unchanged(chain: str) -> None:
    for seed in range(20):
        new, old = random.Random(seed), random.Random(seed)
        address(new, chain)
        _OLD_DRAWS[chain](old)
        assert new.random() == old.random()


@pytest.mark.parametrize("chain", ALL_CHAINS)
def test_simulated_tx_ids_are_read_as_tx_ids_of_their_chain(chain: str) -> None:
    rng = random.Random(7)
    for _ in range(100):
        chains = tx_chains(tx_hash(rng, chain))
        assert chain in chains


def test_the_solana_tx_draws_are_unchanged() -> None:
    new, old = random.Random(3), random.Random(3)
    tx_hash(new, "solana")
    old.choices(_BASE58, k=88)
    assert new.random() == old.random()

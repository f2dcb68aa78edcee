"""Planting labelled scenarios: how many of each typology, who takes part, and when.

Rates are per 1,000 accounts, drawn afresh per seed (x0.7-1.3, at least one of each), so a
rule pack tuned on one seed meets different counts, amounts, timings and people on another:

| typology | per 1,000 accounts | one scenario is |
| --- | --- | --- |
| account_takeover | 3 | one victim |
| sim_swap | 2 | one victim |
| credential_stuffing | 0.5 | one campaign against 25-80 accounts, 3-8% succeed |
| multi_accounting | 1 | one ring of 5-12 new accounts |
| card_fraud | 3 | one new fraudster account, 1-3 stolen cards |
| synthetic_identity | 1 | one new account: declared, document, phone and IP countries differ |
| scam_victim | 2 | one older victim, 2-5 deposit-then-withdraw rounds |
| structuring | 2 | one account, 4-10 amounts of USD 9,000-9,990 |
| pass_through | 3 | one account, 2-6 in-and-out rounds |
| mule | 2 | one mule, 8-25 unrelated senders |
| sanctions_exposure | 3 | one account, 1-3 flows with listed addresses |

The address-intelligence feed lists about 85% of the bad addresses the scenarios use (a
real feed lags), plus a few hundred listed addresses that never appear in the events.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from riskops.sim.assets import DAY_US, address
from riskops.sim.ops import Ops
from riskops.sim.population import Account

Runner = Callable[[Ops, "Scenario"], None]
PlanFn = Callable[["Planner", "Intel"], "Scenario | None"]

RATES: dict[str, float] = {
    "account_takeover": 3,
    "sim_swap": 2,
    "credential_stuffing": 0.5,
    "multi_accounting": 1,
    "card_fraud": 3,
    "synthetic_identity": 1,
    "scam_victim": 2,
    "structuring": 2,
    "pass_through": 3,
    "mule": 2,
    "sanctions_exposure": 3,
}
LISTED_SHARE = 0.85
CATEGORIES = ("sanctioned", "darknet", "mixer")


@dataclass(slots=True, eq=False)
class Scenario:
    """One planted instance of a typology."""

    typology: str
    scenario_id: str
    day: int
    roles: list[tuple[Account, str]]
    run: Runner
    intel: Intel | None = None

    @property
    def label(self) -> tuple[str, str]:
        return self.typology, self.scenario_id

    @property
    def main(self) -> Account:
        return self.roles[0][0]


class Intel:
    """Bad addresses used by scenarios, and the (incomplete) lists the exchange holds."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: dict[str, list[str]] = {c: [] for c in CATEGORIES}

    def bad_address(self, category: str, chain: str) -> str:
        addr = address(self.rng, chain)
        self.used[category].append(addr)
        return addr

    def lists(self) -> dict[str, list[str]]:
        """Per category: most used addresses plus never-seen ones, in a stable order."""
        rng = random.Random(self.rng.random())
        extras = {"sanctioned": 300, "darknet": 150, "mixer": 120}
        out: dict[str, list[str]] = {}
        for category in CATEGORIES:
            used = list(self.used[category])
            rng.shuffle(used)
            drop = round(len(used) * (1 - LISTED_SHARE))
            listed = used[drop:]
            chains = ("bitcoin", "ethereum", "tron")
            listed += [address(rng, rng.choice(chains)) for _ in range(extras[category])]
            out[category] = sorted(listed)
        return out


class Planner:
    """Chooses participants without overlap, so every labelled account has one story."""

    def __init__(
        self, rng: random.Random, accounts: list[Account], start_us: int, days: int
    ) -> None:
        self.rng = rng
        self.days = days
        self.taken: set[int] = set()
        usable = [a for a in accounts if not a.merchant and not a.corporate]
        self.established = [
            a for a in usable if a.created_us < start_us - 7 * DAY_US and a.habit != "dormant"
        ]
        self.old = [a for a in self.established if a.created_us < start_us - 180 * DAY_US]
        self.fresh = [a for a in usable if a.created_us >= start_us]
        self.counters: dict[str, int] = {}

    def pick(self, pool: list[Account], k: int = 1) -> list[Account]:
        """``k`` accounts from ``pool`` not yet in any scenario (fewer if the pool runs dry)."""
        out: list[Account] = []
        for _ in range(k * 20):
            if len(out) == k:
                break
            a = pool[self.rng.randrange(len(pool))] if pool else None
            if a is None:
                break
            if a.idx not in self.taken:
                self.taken.add(a.idx)
                out.append(a)
        return out

    def day(self, span: int) -> int:
        """A start day leaving ``span`` days for the scenario to play out when possible."""
        hi = self.days - span
        return self.rng.randrange(1, hi) if hi > 1 else 0

    def scenario(
        self, typology: str, day: int, roles: list[tuple[Account, str]], run: Runner
    ) -> Scenario:
        n = self.counters[typology] = self.counters.get(typology, 0) + 1
        return Scenario(typology, f"{typology}-{n:03d}", day, roles, run)

    def count(self, typology: str, n_accounts: int) -> int:
        expected = RATES[typology] * n_accounts / 1000 * self.rng.uniform(0.7, 1.3)
        return max(1, int(expected + self.rng.random()))


def plan(
    rng: random.Random, accounts: list[Account], start_us: int, days: int, intel: Intel
) -> list[Scenario]:
    """All scenarios for this population, in a deterministic order."""
    from riskops.sim import aml, fraud

    planner = Planner(rng, accounts, start_us, days)
    scenarios: list[Scenario] = []
    for typology, make in (*fraud.PLANNERS.items(), *aml.PLANNERS.items()):
        for _ in range(planner.count(typology, len(accounts))):
            sc = make(planner, intel)
            if sc is not None:
                scenarios.append(sc)
    return scenarios

"""The simulated customer base: who the accounts are and how they usually behave.

Most customers live in low-risk countries, a few in high-risk ones (FATF grey-list style).
Each has 1-3 devices, a home IP, and often a second IP shared with many unrelated people
(mobile carrier-grade NAT, offices, universities): shared IPs are legitimate noise a link
analysis must live with. Families share a home IP and send each other money. Habits decide
how often an account is active and what it does when it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from riskops.sim.assets import CHAINS, CRYPTO, DAY_US, address, random_dob

# code, weight, calling code, fiat, high risk
COUNTRIES: tuple[tuple[str, float, str, str, bool], ...] = (
    ("US", 14, "1", "USD", False),
    ("GB", 9, "44", "GBP", False),
    ("DE", 9, "49", "EUR", False),
    ("FR", 7, "33", "EUR", False),
    ("ES", 5, "34", "EUR", False),
    ("IT", 5, "39", "EUR", False),
    ("NL", 4, "31", "EUR", False),
    ("PL", 4, "48", "EUR", False),
    ("CA", 4, "1", "USD", False),
    ("AU", 3, "61", "USD", False),
    ("JP", 3, "81", "USD", False),
    ("SG", 2, "65", "USD", False),
    ("CH", 2, "41", "EUR", False),
    ("SE", 2, "46", "EUR", False),
    ("BR", 5, "55", "USD", False),
    ("TR", 5, "90", "EUR", False),
    ("AR", 3, "54", "USD", False),
    ("MX", 3, "52", "USD", False),
    ("IN", 4, "91", "USD", False),
    ("KR", 2, "82", "USD", False),
    ("AE", 2, "971", "USD", False),
    ("ZA", 2, "27", "USD", True),
    ("NG", 2, "234", "USD", True),
    ("VN", 2, "84", "USD", True),
    ("PH", 1, "63", "USD", True),
    ("KE", 1, "254", "USD", True),
    ("RU", 0.5, "7", "USD", True),
)
CODES = tuple(c[0] for c in COUNTRIES)
TRAVEL = ("ES", "IT", "FR", "US", "GB", "AE", "JP", "MX", "TR", "DE")
HIGH_RISK = tuple(c[0] for c in COUNTRIES if c[4])
_WEIGHTS = tuple(c[1] for c in COUNTRIES)
_INFO = {c[0]: c for c in COUNTRIES}
# Fixed first octets per country, so an IP hints at its country as in real geo-IP data.
_FREE_OCTETS = [o for o in range(50, 200) if o not in (100, 127, 169, 172, 185, 192)]
OCTETS = {code: (_FREE_OCTETS[2 * i], _FREE_OCTETS[2 * i + 1]) for i, code in enumerate(CODES)}

FIRST = (
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maria",
    "Nikolai",
    "Olga",
    "Pedro",
    "Quynh",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Victor",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amit",
    "Chloe",
    "Diego",
    "Emeka",
)
LAST = (
    "Smith",
    "Mueller",
    "Garcia",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Khan",
    "Nguyen",
    "Okafor",
    "Johansson",
    "Yilmaz",
    "Kim",
    "Ivanova",
    "Lopez",
    "Brown",
    "Santos",
    "Patel",
    "Martin",
    "Novak",
    "Cohen",
    "Mensah",
    "Reyes",
    "Fischer",
    "Ali",
    "Wang",
    "Costa",
)
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "gmx.de", "mail.ru")
DISPOSABLE = ("mailinator.com", "tempmail.dev", "guerrillamail.com", "10minutemail.net")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 Chrome/131.0 Mobile Safari",
    "ExchangeApp/4.12.0 (iOS 17.5)",
    "ExchangeApp/4.12.0 (Android 14)",
)
# name: (share of accounts, daily activity probability, chance of one more action,
#        action weights: dep_crypto, dep_fiat, trade, withdraw, transfer, p2p)
HABITS: dict[str, tuple[float, float, float, tuple[int, ...]]] = {
    "casual": (0.33, 0.40, 0.62, (20, 15, 35, 15, 12, 3)),
    "trader": (0.15, 0.85, 0.80, (10, 6, 70, 8, 4, 2)),
    "hodler": (0.14, 0.30, 0.50, (45, 5, 20, 25, 5, 0)),
    "fiat_buyer": (0.13, 0.36, 0.60, (3, 45, 35, 12, 5, 0)),
    "p2p": (0.06, 0.75, 0.72, (10, 5, 15, 15, 5, 50)),
    "dormant": (0.19, 0.006, 0.30, (30, 10, 30, 30, 0, 0)),
}
ACTIONS = ("dep_crypto", "dep_fiat", "trade", "withdraw", "transfer", "p2p")


@dataclass(slots=True, eq=False)
class Account:
    """One customer and the state the generator keeps about it."""

    idx: int
    account_id: str
    country: str
    fiat: str
    name: str
    email: str
    phone: str
    dob: str
    created_us: int
    habit: str
    p_active: float
    more: float
    cum: list[float]
    center_s: int
    size_cents: int
    devices: list[str]
    home_ip: str
    shared_ip: str | None
    assets: list[str]
    wallets: dict[str, str]
    card: str | None
    bank: str | None
    contacts: list[int] = field(default_factory=list)
    kyc_level: int = 1
    corporate: bool = False
    scripted: bool = False  # driven only by a planted scenario, no background activity
    merchant: bool = False
    balance: int = 0  # USD cents, approximate: the generator's notion of funds held
    travel_until: int = -1
    travel_ip: str = ""
    travel_country: str = ""


def random_ip(rng: random.Random, country: str) -> str:
    """A public-looking IPv4 address in ``country``'s fixed ranges."""
    a = OCTETS[country][rng.randrange(2)]
    return f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def calling_code(country: str) -> str:
    return _INFO[country][2]


def new_device(rng: random.Random) -> str:
    return f"dev-{rng.getrandbits(64):016x}"


def build_population(rng: random.Random, n: int, start_us: int, days: int) -> list[Account]:
    """``n`` accounts: about 75% opened before the window (up to two years), the rest during it."""
    habits = list(HABITS)
    habit_w = [HABITS[h][0] for h in habits]
    # Shared IPs (carrier NAT, offices): roughly sixty unrelated accounts behind each.
    shared: dict[str, list[str]] = {
        c: [random_ip(rng, c) for _ in range(max(1, int(n * w / sum(_WEIGHTS) * 0.35 / 60) + 1))]
        for c, w in zip(CODES, _WEIGHTS, strict=True)
    }
    accounts: list[Account] = []
    countries = rng.choices(CODES, weights=_WEIGHTS, k=n)
    for i, country in enumerate(countries):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        habit = rng.choices(habits, weights=habit_w)[0]
        _, p_active, more, weights = HABITS[habit]
        total = float(sum(weights))
        acc = 0.0
        cum = []
        for w in weights:
            acc += w / total
            cum.append(acc)
        if rng.random() < 0.75:
            created = start_us - rng.randrange(DAY_US, 730 * DAY_US)
        else:
            created = start_us + rng.randrange(days * DAY_US)
        assets = rng.sample(CRYPTO, k=rng.randint(1, 3))
        wallets = {chain: address(rng, chain) for a in assets for chain in CHAINS[a]}
        fiat = _INFO[country][3]
        acct = Account(
            idx=i,
            account_id=f"acc-{i:07d}",
            country=country,
            fiat=fiat,
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}{rng.randrange(10_000)}@{rng.choice(DOMAINS)}",
            phone=f"+{calling_code(country)}{rng.randrange(10**8, 10**9)}",
            dob=random_dob(rng),
            created_us=created,
            habit=habit,
            p_active=p_active * rng.uniform(0.5, 1.5),
            more=more,
            cum=cum,
            center_s=rng.randrange(7 * 3600, 23 * 3600),
            size_cents=int(rng.lognormvariate(10.3, 1.0)),  # median about USD 300
            devices=[new_device(rng) for _ in range(rng.choices((1, 2, 3), (6, 3, 1))[0])],
            home_ip=random_ip(rng, country),
            shared_ip=rng.choice(shared[country]) if rng.random() < 0.35 else None,
            assets=assets,
            wallets=wallets,
            card=f"card-{rng.getrandbits(48):012x}" if rng.random() < 0.5 else None,
            bank=f"bank-{rng.getrandbits(48):012x}" if rng.random() < 0.6 else None,
            kyc_level=rng.choices((1, 2, 3), (5, 4, 1))[0],
            corporate=rng.random() < 0.005,
        )
        accounts.append(acct)
    _link_families(rng, accounts)
    merchants = rng.sample(accounts, k=max(2, n // 800))
    for m in merchants:
        m.merchant = True
        m.p_active = 0.5
    for a in accounts:
        a.contacts.extend(rng.choice(merchants).idx for _ in range(rng.randint(0, 2)))
    return accounts


def _link_families(rng: random.Random, accounts: list[Account]) -> None:
    """Pair some accounts as family/friends: shared home IP for families, contacts for both."""
    n = len(accounts)
    for acct in accounts:
        if rng.random() < 0.12 and n > 1:
            other = accounts[rng.randrange(n)]
            if other is acct:
                continue
            acct.contacts.append(other.idx)
            other.contacts.append(acct.idx)
            if rng.random() < 0.5 and other.country == acct.country:
                other.home_ip = acct.home_ip
